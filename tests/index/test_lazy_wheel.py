"""Reading a wheel's METADATA by HTTP range requests, against a real index on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import hashlib
import random
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from packaging.markers import default_environment
from packaging.tags import Tag
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from tests.conftest import Dists
from tests.support.dists import build_wheel
from tests.support.index import LocalIndex, RequestRecord
from toolcache import paths
from toolcache.errors import HashMismatch, MetadataError
from toolcache.index.client import ByteRange, IndexClient
from toolcache.index.finder import IndexFinder
from toolcache.index.lazy_wheel import TAIL_BYTES, LazyWheel, LazyWheelUnavailable
from toolcache.index.metadata import read_metadata_lazily, read_wheel_metadata
from toolcache.index.models import DistFile, IndexSettings
from toolcache.target import Target

TARGET = Target(
    markers={k: str(v) for k, v in default_environment().items()},
    tags=(Tag("py3", "none", "any"),),
)


def noise(n: int, seed: int = 0) -> bytes:
    """``n`` incompressible bytes, the same every run."""
    return random.Random(seed).randbytes(n)


def finder_for(index: LocalIndex, cache_root: Path, *, offline: bool = False) -> IndexFinder:
    return IndexFinder(IndexSettings(index_url=index.url), TARGET, cache_root, offline=offline)


def only_file(index: LocalIndex, cache_root: Path, project: str) -> DistFile:
    with finder_for(index, cache_root) as finder:
        (file,) = finder.find(canonicalize_name(project))
    return file


def file_requests(index: LocalIndex, filename: str) -> list[RequestRecord]:
    return [r for r in index.requests if r.path == f"/files/{filename}"]


def assert_ranges_only(index: LocalIndex, filename: str) -> list[str]:
    """Every request for the file asked for a range; returns the Range headers."""
    requests = file_requests(index, filename)
    assert requests, "the wheel was never requested"
    assert all("range" in r.headers for r in requests), [r.headers for r in requests]
    return [r.headers["range"] for r in requests]


def wheel_metadata(path: Path) -> bytes:
    with zipfile.ZipFile(path) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        return zf.read(name)


@pytest.fixture
def cache_root(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def no_range_index(tmp_path: Path) -> Iterator[LocalIndex]:
    with LocalIndex(tmp_path / "no-ranges", ranges=False) as index:
        yield index
    assert index.errors == []


# -- the test index and the client ---------------------------------------------------------


def test_index_serves_ranges_and_the_client_checks_them(
    local_index: LocalIndex, dists: Dists, cache_root: Path
) -> None:
    wheel = dists.wheel("pkg", "1.0", files={"pkg/blob.bin": noise(1000)})
    local_index.add(wheel)
    data = wheel.read_bytes()
    url = f"{local_index.origin}/files/{wheel.name}"
    with IndexClient(cache_root) as client:
        assert client.get_range(url, 10, 20) == ByteRange(10, data[10:20], len(data))
        assert client.get_tail(url, 100) == ByteRange(len(data) - 100, data[-100:], len(data))
        whole = client.get_tail(url, len(data) * 2)
        assert whole == ByteRange(0, data, len(data))
        clipped = client.get_range(url, len(data) - 5, len(data) + 50)
        assert clipped == ByteRange(len(data) - 5, data[-5:], len(data))
        assert client.get_range(url, len(data) + 1, len(data) + 2) is None  # 416
    response = httpx.get(url, headers={"Range": "bytes=0-3"})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes 0-3/{len(data)}"
    assert response.content == data[:4]
    assert httpx.get(url, headers={"Range": "bytes=0-1,5-6"}).status_code == 200


def test_client_refuses_a_server_without_ranges(
    no_range_index: LocalIndex, dists: Dists, cache_root: Path
) -> None:
    wheel = dists.wheel("pkg", "1.0")
    no_range_index.add(wheel)
    url = f"{no_range_index.origin}/files/{wheel.name}"
    with IndexClient(cache_root) as client:
        assert client.get_tail(url, 100) is None
        assert client.get_range(url, 0, 10) is None
    assert "accept-ranges" not in httpx.get(url).headers


# -- lazy reading ---------------------------------------------------------------------------


def test_big_wheel_is_read_with_one_tail_request(
    local_index: LocalIndex, dists: Dists, cache_root: Path
) -> None:
    wheel = dists.wheel("pkg", "1.0", requires=["dep>=2"], files={"pkg/a.bin": noise(300_000)})
    local_index.add(wheel, metadata_file=False)
    file = only_file(local_index, cache_root, "pkg")
    with finder_for(local_index, cache_root) as finder:
        meta = finder.metadata(file)
    assert [str(r) for r in meta.requires_dist] == ["dep>=2"]
    assert assert_ranges_only(local_index, wheel.name) == [f"bytes=-{TAIL_BYTES}"]
    assert not (paths.wheel_cache_dir(cache_root)).exists()  # nothing was downloaded

    before = len(local_index.requests)
    with finder_for(local_index, cache_root, offline=True) as finder:
        assert finder.metadata(file) == meta  # cached under the wheel's sha256
    assert len(local_index.requests) == before


def test_big_central_directory_is_fetched_by_range(
    local_index: LocalIndex, dists: Dists, cache_root: Path
) -> None:
    files = {f"pkg/module_{i:04d}_with_a_long_name.py": f"X = {i}\n" for i in range(1500)}
    wheel = dists.wheel("pkg", "1.0", requires=["dep"], files=files)
    with zipfile.ZipFile(wheel) as zf:
        assert wheel.stat().st_size - zf.start_dir > TAIL_BYTES  # the tail cannot hold the CD
    local_index.add(wheel, metadata_file=False)
    file = only_file(local_index, cache_root, "pkg")
    with IndexClient(cache_root) as client:
        lazy = LazyWheel(client, file.url, size=file.size)
        assert lazy.read("pkg-1.0.dist-info/METADATA") == wheel_metadata(wheel)
        assert lazy.requests == 2  # the tail, then the CD with what comes before it
    assert len(assert_ranges_only(local_index, wheel.name)) == 2


def test_metadata_far_from_the_end_is_fetched_alone(
    local_index: LocalIndex, tmp_path: Path, cache_root: Path
) -> None:
    # Some builders write .dist-info first; then METADATA lies at the start of the file.
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    metadata = b"Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\nRequires-Dist: dep<3\n"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("pkg-1.0.dist-info/METADATA", metadata)
        zf.writestr("pkg-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nTag: py3-none-any\n")
        zf.writestr("pkg/data.bin", noise(200_000))
        zf.writestr("pkg-1.0.dist-info/RECORD", "")
    local_index.add(wheel, metadata_file=False)
    file = only_file(local_index, cache_root, "pkg")
    with finder_for(local_index, cache_root) as finder:
        assert [str(r) for r in finder.metadata(file).requires_dist] == ["dep<3"]
    ranges = assert_ranges_only(local_index, wheel.name)
    assert len(ranges) == 2
    first, last = (int(n) for n in ranges[1].removeprefix("bytes=").split("-"))
    assert first == 0 and last < 200  # the local header and the data of METADATA, no more


def test_stored_member_and_a_small_wheel_from_an_html_index(
    local_index: LocalIndex, tmp_path: Path, cache_root: Path
) -> None:
    # The HTML page gives no size: the tail request brings the whole wheel, which is then
    # verified like a download.
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    metadata = b"Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("pkg-1.0.dist-info/METADATA", metadata)
        zf.writestr("pkg-1.0.dist-info/RECORD", "")
    local_index.add(wheel, metadata_file=False)
    local_index.html_only = True
    file = only_file(local_index, cache_root, "pkg")
    assert file.size is None and file.sha256 is not None
    with finder_for(local_index, cache_root) as finder:
        assert finder.metadata(file).version == Version("1.0")
    assert assert_ranges_only(local_index, wheel.name) == [f"bytes=-{TAIL_BYTES}"]

    forged = dataclasses.replace(file, sha256="0" * 64)
    with IndexClient(cache_root) as client, pytest.raises(HashMismatch):
        read_metadata_lazily(client, forged)


def test_small_wheel_with_a_known_size_is_downloaded_whole(
    local_index: LocalIndex, dists: Dists, cache_root: Path
) -> None:
    wheel = dists.wheel("pkg", "1.0")
    assert wheel.stat().st_size < TAIL_BYTES
    local_index.add(wheel, metadata_file=False)
    file = only_file(local_index, cache_root, "pkg")
    with finder_for(local_index, cache_root) as finder:
        finder.metadata(file)
    (request,) = file_requests(local_index, wheel.name)
    assert "range" not in request.headers
    assert file.sha256 is not None
    assert paths.wheel_cache_dir(cache_root).joinpath(file.sha256[:2], file.sha256).is_dir()


# -- falling back ---------------------------------------------------------------------------


def test_server_without_ranges_falls_back_to_the_whole_wheel(
    no_range_index: LocalIndex, dists: Dists, cache_root: Path
) -> None:
    wheel = dists.wheel("pkg", "1.0", requires=["dep"], files={"pkg/a.bin": noise(100_000)})
    no_range_index.add(wheel, metadata_file=False)
    file = only_file(no_range_index, cache_root, "pkg")
    with finder_for(no_range_index, cache_root) as finder:
        assert [str(r) for r in finder.metadata(file).requires_dist] == ["dep"]
    tried, downloaded = file_requests(no_range_index, wheel.name)
    assert "range" in tried.headers and "range" not in downloaded.headers
    assert file.sha256 is not None
    stored = paths.wheel_cache_dir(cache_root) / file.sha256[:2] / file.sha256 / wheel.name
    assert stored.read_bytes() == wheel.read_bytes()


def test_corrupt_tail_falls_back_to_the_whole_wheel(
    local_index: LocalIndex, dists: Dists, cache_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel = dists.wheel("pkg", "1.0", requires=["dep"], files={"pkg/a.bin": noise(100_000)})
    local_index.add(wheel, metadata_file=False)
    file = only_file(local_index, cache_root, "pkg")
    real_get_tail = IndexClient.get_tail

    def mangled(self: IndexClient, url: str, length: int) -> ByteRange | None:
        got = real_get_tail(self, url, length)
        assert got is not None
        return dataclasses.replace(got, data=got.data.replace(b"PK\x05\x06", b"XX\x05\x06"))

    monkeypatch.setattr(IndexClient, "get_tail", mangled)
    with IndexClient(cache_root) as client, pytest.raises(LazyWheelUnavailable):
        LazyWheel(client, file.url)
    with finder_for(local_index, cache_root) as finder:
        assert [str(r) for r in finder.metadata(file).requires_dist] == ["dep"]
    assert "range" not in file_requests(local_index, wheel.name)[-1].headers


def test_size_other_than_the_index_said_falls_back(
    local_index: LocalIndex, dists: Dists, cache_root: Path
) -> None:
    wheel = dists.wheel("pkg", "1.0", files={"pkg/a.bin": noise(100_000)})
    local_index.add(wheel, metadata_file=False)
    file = only_file(local_index, cache_root, "pkg")
    assert file.size is not None
    with IndexClient(cache_root) as client, pytest.raises(LazyWheelUnavailable, match="index"):
        LazyWheel(client, file.url, size=file.size + 1)


# -- what is read ---------------------------------------------------------------------------


def renamed(wheel: Path, filename: str) -> Path:
    return wheel.rename(wheel.with_name(filename))


@pytest.mark.parametrize(
    ("filename", "project", "error"),
    [
        # The wheel holds the METADATA of another project only.
        ("other-1.0-py3-none-any.whl", "other", r"no other-1\.0\.dist-info/METADATA"),
        # The wheel's own METADATA, of another version.
        ("pkg-1.1-py3-none-any.whl", "pkg", r"metadata is for pkg 1\.0, expected pkg 1\.1"),
    ],
)
def test_metadata_must_be_of_the_file_read_by_range(
    local_index: LocalIndex,
    dists: Dists,
    cache_root: Path,
    filename: str,
    project: str,
    error: str,
) -> None:
    wheel = dists.wheel("pkg", "1.0", files={"pkg/a.bin": noise(100_000)})
    local_index.add(renamed(wheel, filename), metadata_file=False)
    file = only_file(local_index, cache_root, project)
    with finder_for(local_index, cache_root) as finder, pytest.raises(MetadataError, match=error):
        finder.metadata(file)
    assert_ranges_only(local_index, file.filename)


def test_the_dist_info_named_after_the_wheel_is_read(
    local_index: LocalIndex, tmp_path: Path, cache_root: Path
) -> None:
    wheel = tmp_path / "Some.Pkg-1.0-py3-none-any.whl"  # an old, unescaped name
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Some.Pkg-1.0.dist-info/METADATA", "Name: Some.Pkg\nVersion: 1.0\n")
        zf.writestr("vendored-9.0.dist-info/METADATA", "Name: vendored\nVersion: 9.0\n")
        zf.writestr("big.bin", noise(100_000))
    local_index.add(wheel, metadata_file=False)
    file = only_file(local_index, cache_root, "some-pkg")
    with finder_for(local_index, cache_root) as finder:
        assert finder.metadata(file).name == "some-pkg"
    assert read_wheel_metadata(wheel, file).startswith(b"Name: Some.Pkg")


def _as_zip64(wheel: Path) -> Path:
    """The same archive with ZIP64 end records (the plain one saying "see ZIP64")."""
    data = wheel.read_bytes()
    at = data.rfind(b"PK\x05\x06")
    _, _, _, _, count, cd_size, cd_offset, _ = struct.unpack_from("<4s4H2LH", data, at)
    zip64_end = struct.pack(
        "<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, cd_size, cd_offset
    )
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, at, 1)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    wheel.write_bytes(data[:at] + zip64_end + locator + end)
    return wheel


def test_zip64_wheel(local_index: LocalIndex, tmp_path: Path, cache_root: Path) -> None:
    files = {f"pkg/module_{i:04d}_with_a_long_name.py": f"X = {i}\n" for i in range(1500)}
    wheel = _as_zip64(build_wheel(tmp_path / "dists", "pkg", "1.0", requires=["z"], files=files))
    with zipfile.ZipFile(wheel) as zf:  # zipfile reads it through the ZIP64 record
        assert len(zf.namelist()) == 1503
    local_index.add(wheel, metadata_file=False)
    file = only_file(local_index, cache_root, "pkg")
    with IndexClient(cache_root) as client:
        lazy = LazyWheel(client, file.url, size=file.size)
        assert lazy.read("pkg-1.0.dist-info/METADATA") == wheel_metadata(wheel)
        assert lazy.requests == 2
    with finder_for(local_index, cache_root) as finder:
        assert [str(r) for r in finder.metadata(file).requires_dist] == ["z"]


def test_read_wheel_metadata_reads_bytes(dists: Dists) -> None:
    wheel = dists.wheel("pkg", "1.0", requires=["dep"])
    file = DistFile(
        project=canonicalize_name("pkg"),
        version=Version("1.0"),
        filename=wheel.name,
        url="http://127.0.0.1/unused",
        index="http://127.0.0.1/simple",
        kind="wheel",
        sha256=None,
        size=None,
        upload_time=None,
        requires_python=None,
        yanked=None,
        tag_rank=0,
        metadata_sha256=None,
        has_metadata_file=False,
    )
    assert read_wheel_metadata(wheel.read_bytes(), file) == wheel_metadata(wheel)
    with pytest.raises(MetadataError, match="not a readable wheel"):
        read_wheel_metadata(b"junk", file)


# -- live ------------------------------------------------------------------------------------

MYPY_WHEEL = "mypy-2.4.1-py3-none-any.whl"


@pytest.mark.network
def test_mypy_metadata_from_pypi_by_range(tmp_path: Path) -> None:
    with IndexFinder(IndexSettings(), TARGET, tmp_path / "cache") as finder:
        files = finder.find_result(NormalizedName("mypy")).files
        (file,) = [f for f in files if f.version == Version("2.4.1")]
        assert file.filename == MYPY_WHEEL
        with IndexClient(tmp_path / "c2") as client:
            lazy = LazyWheel(client, file.url, size=file.size)
            lazily = lazy.read("mypy-2.4.1.dist-info/METADATA")
            assert lazy.whole is None and lazy.requests <= 3
            path = client.download(file.url, file.sha256, filename=file.filename)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == file.sha256
        assert lazily == wheel_metadata(path)
        assert lazily == read_metadata_lazily(finder.client, file)
        assert finder.metadata(file).version == Version("2.4.1")
