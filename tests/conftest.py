from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.dists import build_sdist, build_wheel
from tests.support.index import LocalIndex

# The user's real cache, found before any fixture patches the environment.
_REAL_CACHE_DIRS: tuple[Path, ...] = tuple(
    dict.fromkeys(
        [
            Path("~/.cache/toolcache").expanduser(),
            *(
                [Path(os.environ["XDG_CACHE_HOME"]) / "toolcache"]
                if os.environ.get("XDG_CACHE_HOME")
                else []
            ),
            *(
                [Path(os.environ["TOOLCACHE_CACHE_DIR"]).expanduser()]
                if os.environ.get("TOOLCACHE_CACHE_DIR")
                else []
            ),
        ]
    )
)

_LEAKY_ENV = (
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_FIND_LINKS",
    "UV_INDEX_URL",
    "UV_EXTRA_INDEX_URL",
    "UV_INDEX",
    "UV_DEFAULT_INDEX",
)

_Snapshot = dict[str, tuple[bool, int, int]]


def _snapshot(root: Path) -> _Snapshot:
    """Every entry under ``root`` (and ``root`` itself): is-dir, size, mtime in ns."""
    found: _Snapshot = {}
    try:
        st = root.stat()
    except FileNotFoundError:
        return found
    found["."] = (root.is_dir(), st.st_size, st.st_mtime_ns)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = os.path.join(dirpath, name)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            rel = os.path.relpath(path, root)
            found[rel] = (name in dirnames, st.st_size, st.st_mtime_ns)
    return found


def _changes(before: _Snapshot, after: _Snapshot) -> list[str]:
    added = [f"created {p}" for p in sorted(after.keys() - before.keys())]
    removed = [f"deleted {p}" for p in sorted(before.keys() - after.keys())]
    changed = [f"modified {p}" for p in sorted(before) if p in after and before[p] != after[p]]
    return added + removed + changed


@pytest.fixture(autouse=True)
def _guard_real_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point every cache at ``tmp_path`` and fail a test that touches the real one."""
    before = {root: _snapshot(root) for root in _REAL_CACHE_DIRS}
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("TOOLCACHE_CACHE_DIR", str(tmp_path / "cache"))
    for name in _LEAKY_ENV:
        monkeypatch.delenv(name, raising=False)
    yield
    problems = [
        f"{root}: {change}"
        for root in _REAL_CACHE_DIRS
        for change in _changes(before[root], _snapshot(root))
    ]
    if problems:
        pytest.fail("test touched the real toolcache cache:\n" + "\n".join(problems[:20]))


@pytest.fixture
def local_index(tmp_path: Path) -> Iterator[LocalIndex]:
    """A started index on 127.0.0.1; fails the test if the server hit an error."""
    with LocalIndex(tmp_path / "index") as index:
        yield index
    if index.errors:
        raise index.errors[0]


class Dists:
    """``wheel(...)`` and ``sdist(...)`` are ``build_wheel`` and ``build_sdist`` into ``dest``."""

    def __init__(self, dest: Path) -> None:
        self.dest = dest
        self.wheel = functools.partial(build_wheel, dest)
        self.sdist = functools.partial(build_sdist, dest)


@pytest.fixture
def dists(tmp_path: Path) -> Dists:
    """Distributions built into ``tmp_path/"dists"``."""
    return Dists(tmp_path / "dists")
