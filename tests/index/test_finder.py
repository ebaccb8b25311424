"""``IndexFinder`` against a real index on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import io
import tarfile
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.tags import Tag
from packaging.utils import NormalizedName, canonicalize_name

from tests.conftest import Dists
from tests.support.index import LocalIndex
from toolcache import paths
from toolcache.errors import HashMismatch, IndexError_, MetadataError
from toolcache.index.client import IndexClient
from toolcache.index.finder import IndexFinder
from toolcache.index.models import DistFile, IndexSettings
from toolcache.index.sdist import SdistBuilder
from toolcache.index.simple import SIMPLE_ACCEPT
from toolcache.target import Target

TAGS = (
    Tag("cp311", "cp311", "linux_x86_64"),
    Tag("cp311", "abi3", "linux_x86_64"),
    Tag("py3", "none", "any"),
)


def make_target(python: str = "3.11.7") -> Target:
    markers = {k: str(v) for k, v in default_environment().items()}
    markers["python_full_version"] = python
    markers["python_version"] = ".".join(python.split(".")[:2])
    return Target(markers=markers, tags=TAGS)


TARGET = make_target()


def name(text: str) -> NormalizedName:
    return canonicalize_name(text)


@pytest.fixture
def cache_root(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def finder_for(
    url: str,
    cache_root: Path,
    *,
    target: Target = TARGET,
    extra_index_urls: tuple[str, ...] = (),
    find_links: tuple[str, ...] = (),
    exclude_newer: datetime | None = None,
    offline: bool = False,
    refresh: bool = False,
) -> IndexFinder:
    settings = IndexSettings(
        index_url=url,
        extra_index_urls=extra_index_urls,
        find_links=find_links,
        exclude_newer=exclude_newer,
    )
    return IndexFinder(settings, target, cache_root, offline=offline, refresh=refresh)


def page_requests(index: LocalIndex, project: str) -> list[dict[str, str]]:
    return [r.headers for r in index.requests if r.path == f"/simple/{project}/"]


# -- pages --------------------------------------------------------------------------------


def test_json_and_html_pages_give_the_same_files(
    local_index: LocalIndex, dists: Dists, tmp_path: Path
) -> None:
    local_index.add(dists.wheel("pkg", "1.0"), yanked="old")
    local_index.add(dists.wheel("pkg", "2.0", requires_python=">=3.8"))
    local_index.add(dists.sdist("pkg", "2.0"))
    local_index.add(dists.sdist("pkg", "3.0"))
    with finder_for(local_index.url, tmp_path / "c1") as finder:
        from_json = finder.find(name("pkg"))
    local_index.html_only = True
    with finder_for(local_index.url, tmp_path / "c2") as finder:
        from_html = finder.find(name("pkg"))
    assert [r.headers["accept"] for r in local_index.requests[:1]] == [SIMPLE_ACCEPT]

    def comparable(f: DistFile) -> DistFile:  # HTML cannot carry size and upload-time
        return dataclasses.replace(f, size=None, upload_time=None)

    assert [comparable(f) for f in from_json] == [comparable(f) for f in from_html]
    assert [f.filename for f in from_json] == [
        "pkg-3.0.tar.gz",
        "pkg-2.0-py3-none-any.whl",
        "pkg-1.0-py3-none-any.whl",
    ]
    assert from_json[0].size is not None and from_json[0].upload_time is not None
    assert from_json[2].yanked == "old"
    assert from_json[1].yanked is None
    assert str(from_json[1].requires_python) == ">=3.8"


def test_relative_urls_are_joined_against_the_final_page_url(
    local_index: LocalIndex, dists: Dists, cache_root: Path
) -> None:
    local_index.add(dists.wheel("Some.Pkg", "1.0"))
    with finder_for(local_index.url, cache_root) as finder:
        (file,) = finder.find(name("some-pkg"))
    assert file.url == f"{local_index.origin}/files/some_pkg-1.0-py3-none-any.whl"
    assert file.sha256 == local_index.sha256(file.filename)
    assert file.index == local_index.url


def test_missing_project_is_empty(local_index: LocalIndex, cache_root: Path) -> None:
    with finder_for(local_index.url, cache_root) as finder:
        assert finder.find(name("nothing-here")) == ()
        assert finder.find_result(name("nothing-here")).index is None


def test_tag_ranking_picks_the_best_wheel(
    local_index: LocalIndex, dists: Dists, cache_root: Path
) -> None:
    for tag in ["py3-none-any", "cp311-abi3-linux_x86_64", "cp311-cp311-linux_x86_64"]:
        local_index.add(dists.wheel("pkg", "1.0", tag=tag))
    local_index.add(dists.sdist("pkg", "1.0"))
    local_index.add(dists.wheel("pkg", "2.0", tag="cp39-cp39-win_amd64"))
    local_index.add(dists.sdist("pkg", "2.0"))
    local_index.add(dists.wheel("pkg", "3.0", tag="cp39-cp39-win_amd64"))
    with finder_for(local_index.url, cache_root) as finder:
        result = finder.find_result(name("pkg"))
    assert [(f.filename, f.tag_rank) for f in result.files] == [
        ("pkg-2.0.tar.gz", None),
        ("pkg-1.0-cp311-cp311-linux_x86_64.whl", 0),
    ]
    assert "pkg-3.0-cp39-cp39-win_amd64.whl" in {filename for filename, _ in result.rejections}


def test_requires_python_of_the_file(
    local_index: LocalIndex, dists: Dists, cache_root: Path
) -> None:
    local_index.add(dists.wheel("pkg", "1.0"), requires_python=">=3.8")
    local_index.add(dists.wheel("pkg", "2.0"), requires_python=">=3.12")
    local_index.add(dists.wheel("pkg", "3.0"), requires_python=">=3.6.*")  # invalid: ignored
    with finder_for(local_index.url, cache_root) as finder:
        assert [str(f.version) for f in finder.find(name("pkg"))] == ["3.0", "1.0"]
    with finder_for(local_index.url, cache_root, target=make_target("3.12.1")) as finder:
        assert [str(f.version) for f in finder.find(name("pkg"))] == ["3.0", "2.0", "1.0"]


def test_exclude_newer(local_index: LocalIndex, dists: Dists, cache_root: Path) -> None:
    local_index.add(dists.wheel("pkg", "1.0"), upload_time="2023-01-01T00:00:00Z")
    local_index.add(dists.wheel("pkg", "2.0"), upload_time="2025-01-01T00:00:00.5Z")
    local_index.add(dists.wheel("pkg", "0.5"), upload_time=None)
    cutoff = datetime(2024, 1, 1, tzinfo=timezone.utc)
    with finder_for(local_index.url, cache_root, exclude_newer=cutoff) as finder:
        assert [str(f.version) for f in finder.find(name("pkg"))] == ["1.0"]
    with finder_for(local_index.url, cache_root) as finder:
        assert [str(f.version) for f in finder.find(name("pkg"))] == ["2.0", "1.0", "0.5"]


def test_first_index_with_the_project_wins_and_find_links_merge(
    local_index: LocalIndex, dists: Dists, tmp_path: Path, cache_root: Path
) -> None:
    local_index.add(dists.wheel("internal", "1.0"))
    links = tmp_path / "links"
    links.mkdir()
    dists.wheel("internal", "1.5").rename(links / "internal-1.5-py3-none-any.whl")
    with LocalIndex(tmp_path / "other") as other:
        other.add(dists.wheel("internal", "99.0"))
        other.add(dists.wheel("only-other", "1.0"))
        with finder_for(
            local_index.url,
            cache_root,
            extra_index_urls=(other.url,),
            find_links=(str(links),),
        ) as finder:
            internal = finder.find(name("internal"))
            assert [str(f.version) for f in internal] == ["1.5", "1.0"]
            assert internal[0].url.startswith("file://")
            assert internal[0].sha256 is not None
            assert finder.metadata(internal[0]).version == internal[0].version
            assert [str(f.version) for f in finder.find(name("only-other"))] == ["1.0"]
        assert other.errors == []


# -- metadata ------------------------------------------------------------------------------


def test_pep658_metadata_is_verified(
    local_index: LocalIndex, dists: Dists, cache_root: Path
) -> None:
    local_index.add(dists.wheel("pkg", "1.0", requires=["dep>=1"], extras={"x": ["extra-dep"]}))
    with finder_for(local_index.url, cache_root) as finder:
        (file,) = finder.find(name("pkg"))
        assert file.has_metadata_file and file.metadata_sha256
        meta = finder.metadata(file)
        assert [str(r) for r in meta.requires_dist] == ["dep>=1", 'extra-dep; extra == "x"']
        assert meta.provides_extra == {"x"}
        paths_fetched = [r.path for r in local_index.requests]
        assert "/files/pkg-1.0-py3-none-any.whl.metadata" in paths_fetched
        assert "/files/pkg-1.0-py3-none-any.whl" not in paths_fetched

        forged = dataclasses.replace(file, metadata_sha256="0" * 64, sha256="1" * 64)
        with pytest.raises(HashMismatch, match=r"pkg-1\.0-py3-none-any\.whl\.metadata"):
            finder.metadata(forged)


def test_wheel_fallback_without_metadata_file(
    local_index: LocalIndex, dists: Dists, cache_root: Path
) -> None:
    local_index.add(dists.wheel("pkg", "1.0", requires=["dep"]), metadata_file=False)
    with finder_for(local_index.url, cache_root) as finder:
        (file,) = finder.find(name("pkg"))
        assert not file.has_metadata_file
        assert [str(r) for r in finder.metadata(file).requires_dist] == ["dep"]
    assert file.sha256 is not None
    stored = paths.wheel_cache_dir(cache_root) / file.sha256[:2] / file.sha256 / file.filename
    assert stored.is_file()
    downloads = [r for r in local_index.requests if r.path.startswith("/files/")]
    with finder_for(local_index.url, cache_root) as finder:
        finder.metadata(file)  # the stored wheel is reused
    assert [r for r in local_index.requests if r.path.startswith("/files/")] == downloads

    bad = dataclasses.replace(file, sha256="f" * 64)
    with finder_for(local_index.url, cache_root) as finder, pytest.raises(HashMismatch) as info:
        finder.metadata(bad)
    assert info.value.what == "pkg-1.0-py3-none-any.whl"
    leftovers = [p.name for p in paths.wheel_cache_dir(cache_root).rglob("*") if p.is_file()]
    assert leftovers == [file.filename]


def test_metadata_must_match_the_file(
    local_index: LocalIndex, dists: Dists, tmp_path: Path, cache_root: Path
) -> None:
    wheel = dists.wheel("pkg", "1.0")
    renamed = wheel.with_name("pkg-1.1-py3-none-any.whl")
    wheel.rename(renamed)
    local_index.add(renamed, metadata_file=False)
    with finder_for(local_index.url, cache_root) as finder:
        (file,) = finder.find(name("pkg"))
        with pytest.raises(MetadataError, match=r"expected pkg 1\.1"):
            finder.metadata(file)


@pytest.mark.slow
def test_sdist_metadata_is_built_once(
    local_index: LocalIndex, dists: Dists, cache_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_index.add(dists.sdist("built-pkg", "1.0", requires=["dep>=2"]))
    with finder_for(local_index.url, cache_root) as finder:
        (file,) = finder.find(name("built-pkg"))
        assert file.kind == "sdist"
        meta = finder.metadata(file)
    assert [str(r) for r in meta.requires_dist] == ["dep>=2"]

    def no_build(self: SdistBuilder, sdist: Path) -> bytes:
        raise AssertionError("built twice")

    monkeypatch.setattr(SdistBuilder, "_build", no_build)
    with finder_for(local_index.url, cache_root) as finder:
        assert finder.metadata(file) == meta


def _sdist(dest: Path, top: str, files: dict[str, bytes]) -> Path:
    """``dest/<top>.tar.gz`` holding ``files`` under the folder ``top``."""
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / f"{top}.tar.gz"
    with tarfile.open(target, "w:gz") as tf:
        for path, data in files.items():
            info = tarfile.TarInfo(f"{top}/{path}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return target


def _broken_sdist(dest: Path) -> Path:
    files = {
        "pyproject.toml": (
            b'[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
        ),
        "backend.py": (
            b"def prepare_metadata_for_build_wheel(d, config_settings=None):\n"
            b"    raise RuntimeError('boom from the backend')\n"
        ),
    }
    return _sdist(dest, "broken-1.0", files)


@pytest.mark.slow
def test_sdist_build_failure_shows_backend_output(
    local_index: LocalIndex, tmp_path: Path, cache_root: Path
) -> None:
    local_index.add(_broken_sdist(tmp_path / "broken"))
    with finder_for(local_index.url, cache_root) as finder:
        (file,) = finder.find(name("broken"))
        with pytest.raises(MetadataError, match="boom from the backend") as info:
            finder.metadata(file)
    assert "broken-1.0.tar.gz" in str(info.value)


def test_sdist_escaping_paths_are_refused(tmp_path: Path) -> None:
    from toolcache.index.sdist import extract

    evil = tmp_path / "evil-1.0.tar.gz"
    with tarfile.open(evil, "w:gz") as tf:
        info = tarfile.TarInfo("../outside.txt")
        info.size = 1
        tf.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(MetadataError):
        extract(evil, tmp_path / "out")
    assert not (tmp_path / "outside.txt").exists()


# -- cache, offline, retries ---------------------------------------------------------------


def test_second_finder_revalidates_with_a_conditional_request(
    local_index: LocalIndex, dists: Dists, cache_root: Path
) -> None:
    local_index.add(dists.wheel("pkg", "1.0"))
    with finder_for(local_index.url, cache_root) as finder:
        first = finder.find(name("pkg"))
    with finder_for(local_index.url, cache_root) as finder:
        second = finder.find(name("pkg"))
    assert first == second
    requests = page_requests(local_index, "pkg")
    assert len(requests) == 2
    assert "if-none-match" not in requests[0]
    assert requests[1]["if-none-match"].startswith('"')

    with IndexClient(cache_root) as client:
        page = client.get_page(f"{local_index.url}/pkg/", SIMPLE_ACCEPT)
    assert page is not None and page.from_cache  # answered 304


def test_offline_with_warm_and_cold_cache(
    local_index: LocalIndex, dists: Dists, cache_root: Path, tmp_path: Path
) -> None:
    local_index.add(dists.wheel("pkg", "1.0", requires=["dep"]))
    with finder_for(local_index.url, cache_root) as finder:
        (file,) = finder.find(name("pkg"))
        finder.metadata(file)
    before = len(local_index.requests)
    with finder_for(local_index.url, cache_root, offline=True) as finder:
        assert finder.find(name("pkg")) == (file,)
        assert [str(r) for r in finder.metadata(file).requires_dist] == ["dep"]
    assert len(local_index.requests) == before

    with (
        finder_for(local_index.url, tmp_path / "cold", offline=True) as finder,
        pytest.raises(IndexError_) as info,
    ):
        finder.find(name("pkg"))
    assert str(info.value) == (
        f"network access needed for {local_index.url}/pkg/ but --offline was given"
    )
    assert len(local_index.requests) == before


def test_refresh_revalidates_a_fresh_page(
    local_index: LocalIndex, dists: Dists, cache_root: Path
) -> None:
    local_index.add(dists.wheel("pkg", "1.0"))
    with finder_for(local_index.url, cache_root) as finder:
        finder.find(name("pkg"))
    local_index.add(dists.wheel("pkg", "2.0"))
    with finder_for(local_index.url, cache_root, refresh=True) as finder:
        assert [str(f.version) for f in finder.find(name("pkg"))] == ["2.0", "1.0"]


def test_transient_failures_are_retried(
    local_index: LocalIndex, dists: Dists, cache_root: Path
) -> None:
    local_index.add(dists.wheel("pkg", "1.0"))
    local_index.fail("/simple/pkg/", 503, 2)
    local_index.fail("/files/", 0, 1)  # dropped connection on the metadata file
    with finder_for(local_index.url, cache_root) as finder:
        (file,) = finder.find(name("pkg"))
        assert finder.metadata(file).name == "pkg"
    assert len(page_requests(local_index, "pkg")) == 3
    metadata_path = "/files/pkg-1.0-py3-none-any.whl.metadata"
    assert [r.path for r in local_index.requests].count(metadata_path) == 2


def test_too_many_failures_give_one_clear_line(
    local_index: LocalIndex,
    dists: Dists,
    cache_root: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOOLCACHE_HTTP_RETRIES", "1")
    local_index.add(dists.wheel("pkg", "1.0"))
    local_index.fail("/simple/pkg/", 502, 5)
    with finder_for(local_index.url, cache_root) as finder, pytest.raises(IndexError_) as info:
        finder.find(name("pkg"))
    assert str(info.value) == (
        f"could not reach {local_index.url}/pkg/: HTTP 502 (after 2 attempts)"
    )
    assert len(page_requests(local_index, "pkg")) == 2


def test_unreachable_index(cache_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    monkeypatch.setenv("TOOLCACHE_HTTP_RETRIES", "0")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/simple"
    with finder_for(url, cache_root) as finder, pytest.raises(IndexError_) as info:
        finder.find(name("pkg"))
    message = str(info.value)
    assert message.startswith(f"could not reach {url}/pkg/: ")
    assert message.endswith("(after 1 attempt)")
    assert "\n" not in message


# -- credentials ---------------------------------------------------------------------------

USER, PASSWORD = "alice", "s3cret-pw-Zq9"


@pytest.fixture
def auth_index(tmp_path: Path, dists: Dists) -> Iterator[LocalIndex]:
    with LocalIndex(tmp_path / "private", username=USER, password=PASSWORD) as index:
        index.add(dists.wheel("pkg", "1.0", requires=["dep"]))
        index.add(dists.wheel("pkg", "2.0"), metadata_file=False)
        yield index
    assert index.errors == []


def _all_cache_text(root: Path) -> str:
    parts = []
    for path in root.rglob("*"):
        parts.append(str(path))
        if path.is_file():
            parts.append(path.read_bytes().decode("latin-1"))
    return "\n".join(parts)


def test_credentials_in_the_url(
    auth_index: LocalIndex, cache_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOOLCACHE_HTTP_RETRIES", "0")
    with finder_for(auth_index.url_with_credentials, cache_root) as finder:
        files = finder.find(name("pkg"))
        assert [str(finder.metadata(f).version) for f in files] == ["2.0", "1.0"]
        auth_index.fail("/simple/missing/", 503, 1)
        with pytest.raises(IndexError_) as info:
            finder.find(name("missing"))
    assert info.value.args[0].startswith(f"could not reach {auth_index.url}/missing/")
    for file in files:
        assert PASSWORD not in repr(file)
        assert "@" not in file.url and "@" not in file.index
    text = _all_cache_text(cache_root)
    assert text  # something was cached
    assert PASSWORD not in text
    assert USER not in text


def test_missing_credentials_say_so(auth_index: LocalIndex, cache_root: Path) -> None:
    with finder_for(auth_index.url, cache_root) as finder, pytest.raises(IndexError_) as info:
        finder.find(name("pkg"))
    assert str(info.value) == (
        f"{auth_index.url}/pkg/ needs credentials (401); put them in the index URL or ~/.netrc"
    )


def test_credentials_from_netrc(
    auth_index: LocalIndex, cache_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1\n  login {USER}\n  password {PASSWORD}\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    with finder_for(auth_index.url, cache_root) as finder:
        files = finder.find(name("pkg"))
        assert [str(finder.metadata(f).version) for f in files] == ["2.0", "1.0"]


def test_credentials_from_home_netrc(auth_index: LocalIndex, cache_root: Path) -> None:
    home_netrc = Path("~/.netrc").expanduser()  # HOME is a temp dir in tests
    home_netrc.write_text(f"machine 127.0.0.1 login {USER} password {PASSWORD}\n")
    home_netrc.chmod(0o600)
    with finder_for(auth_index.url, cache_root) as finder:
        assert len(finder.find(name("pkg"))) == 2


# -- concurrency ---------------------------------------------------------------------------


def test_prefetch_overlaps_and_find_reuses_it(
    local_index: LocalIndex, dists: Dists, cache_root: Path
) -> None:
    names = [f"p{i}" for i in range(12)]
    for n in names:
        local_index.add(dists.wheel(n, "1.0"))
    with finder_for(local_index.url, cache_root) as finder:
        finder.prefetch([name(n) for n in names])
        finder.prefetch([name(n) for n in names])
        for n in names:
            (file,) = finder.find(name(n))
            assert finder.metadata(file).name == n
    for n in names:
        assert len(page_requests(local_index, n)) == 1
        meta_path = f"/files/{n}-1.0-py3-none-any.whl.metadata"
        assert [r.path for r in local_index.requests].count(meta_path) == 1


def _sdist_needing(dest: Path, project: str, build_requirement: str, module: str) -> Path:
    """An sdist whose in-tree backend imports ``module``, installed from ``build_requirement``."""
    files = {
        "pyproject.toml": (
            "[build-system]\n"
            f'requires = ["{build_requirement}"]\n'
            'build-backend = "backend"\nbackend-path = ["."]\n'
        ).encode(),
        "backend.py": (
            f"import {module}\n"
            "import os\n"
            "def prepare_metadata_for_build_wheel(d, config_settings=None):\n"
            f"    info = os.path.join(d, '{project}-1.0.dist-info')\n"
            "    os.makedirs(info)\n"
            "    with open(os.path.join(info, 'METADATA'), 'w') as f:\n"
            f"        f.write('Metadata-Version: 2.1\\nName: {project}\\nVersion: 1.0\\n'\n"
            f"                'Requires-Dist: ' + {module}.DEP + '\\n')\n"
            f"    return '{project}-1.0.dist-info'\n"
        ).encode(),
    }
    return _sdist(dest, f"{project}-1.0", files)


@pytest.mark.slow
def test_build_requirements_come_from_our_index_with_credentials(
    auth_index: LocalIndex, dists: Dists, tmp_path: Path, cache_root: Path
) -> None:
    auth_index.add(
        dists.wheel("helper-dep", "1.0", files={"helper_dep/__init__.py": "DEP = 'zz-dep>=3'\n"})
    )
    auth_index.add(_sdist_needing(tmp_path / "needs", "needs-helper", "helper-dep", "helper_dep"))
    with finder_for(auth_index.url_with_credentials, cache_root) as finder:
        (file,) = finder.find(name("needs-helper"))
        meta = finder.metadata(file)
    assert [str(r) for r in meta.requires_dist] == ["zz-dep>=3"]
    assert any(r.path.startswith("/simple/helper-dep/") for r in auth_index.requests)
