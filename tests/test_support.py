"""The test support itself, checked with real clients: pip, uv, pyproject-hooks and httpx."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from datetime import datetime, timezone
from email.parser import BytesHeaderParser
from pathlib import Path

import httpx
import pytest
from pyproject_hooks import BuildBackendHookCaller

from tests.conftest import Dists, _changes, _snapshot
from tests.support.dists import build_sdist, build_wheel
from tests.support.index import HTML_TYPE, JSON_TYPE, LocalIndex, negotiate
from toolcache.paths import cache_root

PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
    "text/html; q=0.01"
)


def _client_env(tmp_path: Path) -> dict[str, str]:
    """The environment for pip and uv: no user or machine configuration, no network."""
    env = dict(os.environ)
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_NO_INPUT="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_CACHE_DIR="1",
        UV_NO_CONFIG="1",
        UV_CACHE_DIR=str(tmp_path / "uv-cache"),
        UV_PYTHON_DOWNLOADS="never",
    )
    return env


def _zip_members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _tar_members(path: Path) -> dict[str, bytes | None]:
    with tarfile.open(path) as archive:
        found: dict[str, bytes | None] = {}
        for member in archive.getmembers():
            extracted = archive.extractfile(member)
            found[member.name] = None if extracted is None else extracted.read()
        return found


def _headers(metadata: bytes) -> list[tuple[str, str]]:
    return list(BytesHeaderParser().parsebytes(metadata).items())


# -- dists -----------------------------------------------------------------------------------


def test_wheel_layout_metadata_and_record(dists: Dists) -> None:
    wheel = dists.wheel(
        "Foo.Bar",
        "1.0",
        requires=["baz>=1"],
        requires_python=">=3.9",
        extras={"cli": ["click; python_version >= '3.8'"]},
        console_scripts={"foobar": "foo_bar:main"},
    )
    assert wheel.name == "foo_bar-1.0-py3-none-any.whl"
    members = _zip_members(wheel)
    assert list(members) == [
        "foo_bar/__init__.py",
        "foo_bar-1.0.dist-info/METADATA",
        "foo_bar-1.0.dist-info/WHEEL",
        "foo_bar-1.0.dist-info/entry_points.txt",
        "foo_bar-1.0.dist-info/RECORD",
    ]
    assert _headers(members["foo_bar-1.0.dist-info/METADATA"]) == [
        ("Metadata-Version", "2.1"),
        ("Name", "Foo.Bar"),
        ("Version", "1.0"),
        ("Requires-Python", ">=3.9"),
        ("Requires-Dist", "baz>=1"),
        ("Provides-Extra", "cli"),
        ("Requires-Dist", 'click; (python_version >= "3.8") and extra == "cli"'),
    ]
    assert b"Tag: py3-none-any" in members["foo_bar-1.0.dist-info/WHEEL"]
    assert b"foobar = foo_bar:main" in members["foo_bar-1.0.dist-info/entry_points.txt"]
    assert b"__version__ = '1.0'" in members["foo_bar/__init__.py"]
    rows = list(csv.reader(io.StringIO(members["foo_bar-1.0.dist-info/RECORD"].decode())))
    assert [r[0] for r in rows] == list(members)
    for path, digest, size in rows[:-1]:
        data = members[path]
        expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
        assert digest == "sha256=" + expected.decode()
        assert int(size) == len(data)
    assert rows[-1][1:] == ["", ""]


def test_wheel_files_tags_and_determinism(tmp_path: Path) -> None:
    tag = "cp311-cp311-manylinux_2_17_x86_64"
    first = build_wheel(tmp_path / "a", "pkg", "2.0", tag=tag)
    assert first.name == f"pkg-2.0-{tag}.whl"
    assert first.read_bytes() == build_wheel(tmp_path / "b", "pkg", "2.0", tag=tag).read_bytes()
    assert b"Root-Is-Purelib: false" in _zip_members(first)["pkg-2.0.dist-info/WHEEL"]
    files: dict[str, str | bytes] = {"pkg/mod.py": "X = 1\n", "pkg/data.bin": b"\x00\x01"}
    members = _zip_members(build_wheel(tmp_path / "c", "pkg", "2.0", files=files))
    assert members["pkg/mod.py"] == b"X = 1\n"
    assert members["pkg/data.bin"] == b"\x00\x01"
    assert "pkg/__init__.py" not in members
    with pytest.raises(ValueError, match="relative"):
        build_wheel(tmp_path, "pkg", "2.0", files={"../evil.py": ""})


def test_sdist_layout_and_determinism(tmp_path: Path) -> None:
    sdist = build_sdist(tmp_path / "a", "Lint-Me", "0.1", requires=["baz"])
    again = build_sdist(tmp_path / "b", "Lint-Me", "0.1", requires=["baz"])
    assert sdist.name == "lint_me-0.1.tar.gz"
    assert sdist.read_bytes() == again.read_bytes()
    members = _tar_members(sdist)
    assert sorted(members) == [
        "lint_me-0.1",
        "lint_me-0.1/PKG-INFO",
        "lint_me-0.1/backend.json",
        "lint_me-0.1/backend.py",
        "lint_me-0.1/lint_me",
        "lint_me-0.1/lint_me/__init__.py",
        "lint_me-0.1/pyproject.toml",
    ]
    pkg_info = members["lint_me-0.1/PKG-INFO"]
    assert pkg_info == b"Metadata-Version: 2.1\nName: Lint-Me\nVersion: 0.1\n"
    pyproject = members["lint_me-0.1/pyproject.toml"] or b""
    assert b"requires = []" in pyproject
    assert b'build-backend = "backend"' in pyproject
    assert b'backend-path = ["."]' in pyproject


def _extract(sdist: Path, dest: Path) -> Path:
    with tarfile.open(sdist) as archive:
        if hasattr(tarfile, "data_filter"):
            archive.extractall(dest, filter="data")
        else:  # pragma: no cover - Python without PEP 706
            archive.extractall(dest)
    return dest / sdist.name.removesuffix(".tar.gz")


def test_sdist_builds_through_pep517_hooks(tmp_path: Path) -> None:
    """The metadata comes from the build, and the built wheel is the one build_wheel makes."""
    sdist = build_sdist(
        tmp_path, "tool", "1.0", requires=["baz>=1"], console_scripts={"tool": "tool:main"}
    )
    hooks = BuildBackendHookCaller(str(_extract(sdist, tmp_path / "src")), "backend", ["."])
    assert hooks.get_requires_for_build_wheel() == []
    meta_dir = tmp_path / "meta"
    meta_dir.mkdir()
    dist_info = hooks.prepare_metadata_for_build_wheel(str(meta_dir))
    assert ("Requires-Dist", "baz>=1") in _headers((meta_dir / dist_info / "METADATA").read_bytes())
    out = tmp_path / "out"
    out.mkdir()
    built = out / hooks.build_wheel(str(out))
    direct = build_wheel(
        tmp_path / "direct",
        "tool",
        "1.0",
        requires=["baz>=1"],
        console_scripts={"tool": "tool:main"},
    )
    assert built.read_bytes() == direct.read_bytes()
    assert (out / hooks.build_sdist(str(out))).read_bytes() == sdist.read_bytes()


def test_pip_builds_the_sdist_offline(tmp_path: Path, dists: Dists) -> None:
    sdist = dists.sdist("lintme", "0.1", requires=["baz<2"], requires_python=">=3.8")
    out = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-index",
            "-w",
            str(out),
            str(sdist),
        ],
        env=_client_env(tmp_path),
        check=True,
        capture_output=True,
    )
    metadata = _zip_members(out / "lintme-0.1-py3-none-any.whl")["lintme-0.1.dist-info/METADATA"]
    assert ("Requires-Dist", "baz<2") in _headers(metadata)
    assert ("Requires-Python", ">=3.8") in _headers(metadata)


def test_console_script_really_runs(tmp_path: Path, dists: Dists) -> None:
    wheel = dists.wheel("lintme", "1.0", console_scripts={"lintme": "lintme:main"})
    env = _client_env(tmp_path)
    venv = tmp_path / "venv"
    subprocess.run(["uv", "venv", "-q", "--python", sys.executable, str(venv)], env=env, check=True)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    subprocess.run(
        ["uv", "pip", "install", "-q", "--python", str(python), "--no-index", str(wheel)],
        env=env,
        check=True,
    )
    script = venv / ("Scripts/lintme.exe" if os.name == "nt" else "bin/lintme")
    result = subprocess.run([str(script), "a", "b"], capture_output=True, text=True, check=True)
    assert result.stdout == "lintme 1.0 a b\n"


# -- index with real clients ------------------------------------------------------------------


def test_pip_downloads_from_the_index(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    local_index.add(dists.wheel("Foo.Bar", "1.0"))
    local_index.add(dists.wheel("Foo.Bar", "2.0"))
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "download", "--no-deps"),
            *("--index-url", local_index.url, "foo-bar==1.0", "-d", str(tmp_path / "dl")),
        ],
        env=_client_env(tmp_path),
        check=True,
        capture_output=True,
    )
    assert (tmp_path / "dl" / "foo_bar-1.0-py3-none-any.whl").read_bytes() == (
        local_index.files_dir / "foo_bar-1.0-py3-none-any.whl"
    ).read_bytes()
    paths = [r.path for r in local_index.requests]
    assert "/simple/foo-bar/" in paths
    assert "/files/foo_bar-1.0-py3-none-any.whl" in paths


def test_pip_downloads_with_html_only_and_credentials(tmp_path: Path, dists: Dists) -> None:
    with LocalIndex(tmp_path / "index", username="alice", password="s3cr:t") as index:
        index.html_only = True
        index.add(dists.wheel("tool", "1.0"), requires_python=">=3.0")
        subprocess.run(
            [
                *(sys.executable, "-m", "pip", "download", "--no-deps"),
                *("--index-url", index.url_with_credentials, "tool", "-d", str(tmp_path / "dl")),
            ],
            env=_client_env(tmp_path),
            check=True,
            capture_output=True,
        )
    assert (tmp_path / "dl" / "tool-1.0-py3-none-any.whl").exists()
    page_requests = [r for r in index.requests if r.path == "/simple/tool/"]
    assert "json" in page_requests[-1].headers["accept"]  # asked for JSON, was given HTML
    assert not index.errors


def test_uv_compiles_against_the_index(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    local_index.add(dists.wheel("app", "1.0", requires=["lib>=1"], extras={"cli": ["clicky"]}))
    local_index.add(dists.wheel("lib", "1.0"))
    local_index.add(dists.wheel("lib", "1.5"))
    local_index.add(dists.wheel("lib", "2.0"), yanked="broken")
    local_index.add(dists.wheel("lib", "3.0", requires_python=">=99"))
    local_index.add(dists.sdist("clicky", "0.3", requires=["lib<1.5"]))
    (tmp_path / "req.in").write_text("app[cli]\n")
    result = subprocess.run(
        [
            *("uv", "pip", "compile", "--no-cache", "--no-header", "--no-annotate"),
            *("--index-url", local_index.url, str(tmp_path / "req.in")),
        ],
        env=_client_env(tmp_path),
        check=True,
        capture_output=True,
        text=True,
    )
    assert result.stdout.split() == ["app==1.0", "clicky==0.3", "lib==1.0"]
    paths = {r.path for r in local_index.requests}
    assert "/files/app-1.0-py3-none-any.whl.metadata" in paths
    assert "/files/app-1.0-py3-none-any.whl" not in paths
    assert "/files/clicky-0.3.tar.gz" in paths


# -- the protocol, with httpx -----------------------------------------------------------------


def test_json_project_page(local_index: LocalIndex, dists: Dists) -> None:
    wheel = dists.wheel("Foo.Bar", "1.0", requires_python=">=3.8")
    local_index.add(wheel, upload_time=datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc))
    local_index.add(dists.sdist("Foo.Bar", "1.0"), yanked="bad build", upload_time=None)
    local_index.add(dists.wheel("foo_bar", "0.9"), metadata_file=False, requires_python="")
    with httpx.Client(base_url=local_index.origin) as client:
        response = client.get("/simple/foo-bar/", headers={"Accept": PIP_ACCEPT})
        assert response.status_code == 200
        assert response.headers["content-type"] == JSON_TYPE
        assert response.headers["cache-control"] == "max-age=0, must-revalidate"
        page = response.json()
        assert page["meta"] == {"api-version": "1.1"}
        assert page["name"] == "foo-bar"
        assert page["versions"] == ["0.9", "1.0"]
        old, whl, tgz = page["files"]
        assert old["filename"] == "foo_bar-0.9-py3-none-any.whl"
        assert old["core-metadata"] is False
        assert "requires-python" not in old
        meta_sha = hashlib.sha256(client.get("/files/" + whl["filename"] + ".metadata").content)
        assert whl == {
            "filename": "foo_bar-1.0-py3-none-any.whl",
            "url": "../../files/foo_bar-1.0-py3-none-any.whl",
            "hashes": {"sha256": hashlib.sha256(wheel.read_bytes()).hexdigest()},
            "size": wheel.stat().st_size,
            "requires-python": ">=3.8",
            "yanked": False,
            "upload-time": "2024-05-06T07:08:09Z",
            "core-metadata": {"sha256": meta_sha.hexdigest()},
            "dist-info-metadata": {"sha256": meta_sha.hexdigest()},
        }
        assert tgz["filename"] == "foo_bar-1.0.tar.gz"
        assert tgz["yanked"] == "bad build"
        assert tgz["core-metadata"] is False
        assert "upload-time" not in tgz
        assert client.get("/files/foo_bar-1.0.tar.gz.metadata").status_code == 404
        # Relative URLs resolve against the page URL to the file itself.
        file_url = response.url.join(whl["url"])
        assert hashlib.sha256(client.get(file_url).content).hexdigest() == whl["hashes"]["sha256"]
        root = client.get("/simple/", headers={"Accept": JSON_TYPE}).json()
        assert root == {"meta": {"api-version": "1.1"}, "projects": [{"name": "foo-bar"}]}


def test_html_project_page(local_index: LocalIndex, dists: Dists) -> None:
    wheel = dists.wheel("tool", "1.0", requires_python=">=3.8,<4")
    local_index.add(wheel, yanked=True)
    with httpx.Client(base_url=local_index.origin) as client:
        response = client.get("/simple/tool/")
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        meta = hashlib.sha256(client.get("/files/tool-1.0-py3-none-any.whl.metadata").content)
        sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
        assert (
            f'<a href="../../files/tool-1.0-py3-none-any.whl#sha256={sha}" '
            'data-requires-python="&gt;=3.8,&lt;4" data-yanked="" '
            f'data-core-metadata="sha256={meta.hexdigest()}" '
            f'data-dist-info-metadata="sha256={meta.hexdigest()}">'
            "tool-1.0-py3-none-any.whl</a>"
        ) in response.text
        assert '<meta name="pypi:repository-version" content="1.1">' in response.text
        v1 = client.get("/simple/tool/", headers={"Accept": "application/vnd.pypi.simple.v1+html"})
        assert v1.headers["content-type"] == "application/vnd.pypi.simple.v1+html"
        assert v1.text == response.text
        assert '<a href="tool/">tool</a>' in client.get("/simple/").text


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, HTML_TYPE),
        ("", HTML_TYPE),
        (PIP_ACCEPT, JSON_TYPE),
        ("application/vnd.pypi.simple.v1+json;q=0.1, text/html;q=0.5", HTML_TYPE),
        ("application/vnd.pypi.simple.latest+json", JSON_TYPE),
        ("*/*", HTML_TYPE),
        ("application/*", "application/vnd.pypi.simple.v1+html"),
        ("text/html;q=0, application/vnd.pypi.simple.v1+json;q=0.2", JSON_TYPE),
        ("*/*, text/html;q=0, application/vnd.pypi.simple.v1+html;q=0", JSON_TYPE),
        ("application/xml", None),
        ("text/html;q=0", None),
    ],
)
def test_content_negotiation(accept: str | None, expected: str | None) -> None:
    assert negotiate(accept) == expected


def test_negotiation_over_http(local_index: LocalIndex, dists: Dists) -> None:
    local_index.add(dists.wheel("tool", "1.0"))
    with httpx.Client(base_url=local_index.origin) as client:
        assert client.get("/simple/tool/", headers={"Accept": "application/xml"}).status_code == 406
        local_index.html_only = True
        response = client.get("/simple/tool/", headers={"Accept": JSON_TYPE})
        assert response.headers["content-type"].startswith(HTML_TYPE)


def test_redirects_and_not_found(local_index: LocalIndex, dists: Dists) -> None:
    local_index.add(dists.wheel("foo-bar", "1.0"))
    with httpx.Client(base_url=local_index.origin) as client:
        for path in ("/simple/Foo_Bar/", "/simple/foo.bar/", "/simple/foo-bar"):
            response = client.get(path)
            assert response.status_code == 301
            assert response.headers["location"] == "/simple/foo-bar/"
        assert client.get("/simple/Foo_Bar/", follow_redirects=True).status_code == 200
        assert client.get("/simple").headers["location"] == "/simple/"
        assert client.get("/simple/nothing/").status_code == 404
        assert client.get("/files/nothing.whl").status_code == 404
        assert client.get("/elsewhere").status_code == 404


def test_etags_head_and_pages_built_per_request(local_index: LocalIndex, dists: Dists) -> None:
    local_index.add(dists.wheel("tool", "1.0"))
    with httpx.Client(base_url=local_index.origin) as client:
        first = client.get("/simple/tool/", headers={"Accept": JSON_TYPE})
        etag = first.headers["etag"]
        assert etag == '"' + hashlib.sha256(first.content).hexdigest() + '"'
        again = client.get("/simple/tool/", headers={"Accept": JSON_TYPE, "If-None-Match": etag})
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == etag
        html_page = client.get("/simple/tool/", headers={"If-None-Match": etag})
        assert html_page.status_code == 200
        local_index.add(dists.wheel("tool", "2.0"))
        changed = client.get("/simple/tool/", headers={"Accept": JSON_TYPE, "If-None-Match": etag})
        assert changed.status_code == 200
        assert changed.json()["versions"] == ["1.0", "2.0"]
        head = client.head("/files/tool-2.0-py3-none-any.whl")
        assert head.status_code == 200
        assert head.content == b""
        assert (
            int(head.headers["content-length"])
            == local_index.files_dir.joinpath("tool-2.0-py3-none-any.whl").stat().st_size
        )
        assert "etag" in head.headers


def test_basic_auth(tmp_path: Path, dists: Dists) -> None:
    with LocalIndex(tmp_path / "index", username="alice", password="pw") as index:
        index.add(dists.wheel("tool", "1.0"))
        with httpx.Client(base_url=index.origin) as client:
            denied = client.get("/simple/tool/")
            assert denied.status_code == 401
            assert denied.headers["www-authenticate"].startswith("Basic ")
            assert client.get("/files/tool-1.0-py3-none-any.whl").status_code == 401
            assert client.get("/simple/tool/", auth=("alice", "wrong")).status_code == 401
            assert client.get("/simple/tool/", auth=("alice", "pw")).status_code == 200
        assert index.requests[-1].headers["authorization"].startswith("Basic ")
        assert index.url_with_credentials == f"http://alice:pw@127.0.0.1:{index.port}/simple"
    assert not index.errors


def test_fail_injection(local_index: LocalIndex, dists: Dists) -> None:
    local_index.add(dists.wheel("tool", "1.0"))
    local_index.fail("/simple/tool/", 503, times=2)
    local_index.fail("/files/", 0, times=1)
    with httpx.Client(base_url=local_index.origin) as client:
        statuses = [client.get("/simple/tool/").status_code for _ in range(3)]
        assert statuses == [503, 503, 200]
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/files/tool-1.0-py3-none-any.whl")
        assert client.get("/files/tool-1.0-py3-none-any.whl").status_code == 200
    assert [r.path for r in local_index.requests] == ["/simple/tool/"] * 3 + [
        "/files/tool-1.0-py3-none-any.whl"
    ] * 2


def test_stop_closes_idle_keep_alive_connections(tmp_path: Path, dists: Dists) -> None:
    index = LocalIndex(tmp_path / "index")
    index.add(dists.wheel("tool", "1.0"))
    with index, httpx.Client(base_url=index.origin) as client:
        assert client.get("/simple/tool/").status_code == 200
        index.stop()  # while the client still holds its connection open
    with pytest.raises(RuntimeError):
        index.url  # noqa: B018
    assert not index.errors


# -- the cache guard --------------------------------------------------------------------------


def test_environment_is_hermetic(tmp_path: Path) -> None:
    assert cache_root() == tmp_path / "cache"
    assert Path.home() == tmp_path / "home"
    for name in ("PIP_INDEX_URL", "PIP_FIND_LINKS", "UV_INDEX_URL", "UV_DEFAULT_INDEX"):
        assert name not in os.environ


def test_snapshot_sees_creation_change_and_deletion(tmp_path: Path) -> None:
    root = tmp_path / "watched"
    assert _snapshot(root) == {}
    root.mkdir()
    (root / "a").write_text("1")
    before = _snapshot(root)
    (root / "a").write_text("22")
    (root / "b").mkdir()
    after = _snapshot(root)
    assert "created b" in _changes(before, after)
    assert "modified a" in _changes(before, after)
    assert _changes(after, {}) == ["deleted .", "deleted a", "deleted b"]


INNER_TEST = """\
import os
from pathlib import Path

from toolcache.paths import cache_root


def test_writes_to_the_cache_it_is_given() -> None:
    cache_root().mkdir(parents=True)
    (cache_root() / "ok").write_text("1")


def test_writes_to_the_real_cache() -> None:
    real = Path(os.environ["REAL_CACHE"])
    real.mkdir(parents=True)
    (real / "leak").write_text("1")
"""


def test_the_guard_fails_a_test_that_touches_the_real_cache(tmp_path: Path) -> None:
    """The autouse guard of ``tests/conftest.py`` in a pytest of its own, whose user's real
    cache is a folder of ``tmp_path``: the test that writes there errors, the other passes."""
    (tmp_path / "test_inner.py").write_text(INNER_TEST, encoding="utf-8")
    home = tmp_path / "user"
    env = dict(os.environ, HOME=str(home), REAL_CACHE=str(home / ".cache" / "toolcache"))
    # The summary lines asserted below are cut to the terminal's width: give the inner pytest
    # one wide enough whatever the outer terminal is (and with or without CI set).
    env["COLUMNS"] = "400"
    for name in ("XDG_CACHE_HOME", "TOOLCACHE_CACHE_DIR"):
        env.pop(name, None)
    pytest_args = ["-p", "tests.conftest", "-p", "no:cacheprovider", "-c", os.devnull, "-q", "-rA"]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *pytest_args, str(tmp_path / "test_inner.py")],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert re.search(r"^PASSED \S+::test_writes_to_the_cache_it_is_given$", out, re.M), out
    assert re.search(r"^ERROR \S+::test_writes_to_the_real_cache - Failed: test touched", out, re.M)
    assert f"{home / '.cache' / 'toolcache'}: created leak" in out
