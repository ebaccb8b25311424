"""Local requirements: a project folder or a wheel file named in ``from:`` or ``with:``.

The manifest turns ``./plugins/mine``, ``../shared/config-1.0-py3-none-any.whl`` and
``mine @ file:///abs/path`` into a ``Requirement`` whose URL is the path's ``file:`` URL (see
``toolcache.manifest``); everything after that knows a local requirement by that URL.

What a local requirement is, for the lock, is its **fingerprint**: the sha256 of a wheel file,
or the content hash of a folder, over its source files (every file but bytecode and those of
VCS, cache and ``*.egg-info`` folders at any depth, and of build output, environments and lock
folders at its top: see ``_ignored_dir``; sorted POSIX relative paths, each with its bytes,
length-delimited, versioned). Editing, adding or removing a source file changes
it; mtimes, permissions and the folder's own path do not.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from packaging.requirements import Requirement

from toolcache.index import urls

#: Folders never part of a project's sources, at any depth: VCS data and caches.
IGNORED_DIRS = frozenset({".git", ".hg", ".svn", ".bzr", "__pycache__", "node_modules"})
#: Folders a project's tools make at its top (build output, environments, lock folders): a
#: subpackage called ``build`` deeper down is a source like any other.
IGNORED_TOP_DIRS = frozenset({"build", "dist", ".venv", ".tox", ".nox"})
IGNORED_SUFFIXES = (".egg-info", ".pyc")


def _ignored_dir(name: str, *, top: bool) -> bool:
    if name in IGNORED_DIRS or name.endswith(IGNORED_SUFFIXES):
        return True
    if name.startswith(".") and name.endswith("_cache"):  # .mypy_cache, .pytest_cache, ...
        return True
    # At the top, also a manifest's lock folder (``tools.lock``): locking must not change
    # the sources of a folder that holds its own manifest.
    return top and (name in IGNORED_TOP_DIRS or name.endswith(".lock"))


_FORMAT = b"toolcache-local-sources/2\0"


def local_path(requirement: Requirement) -> Path | None:
    """The path of a local requirement (its ``file:`` URL), None for any other."""
    url = requirement.url
    if not url or not urls.is_file_url(url):
        return None
    return urls.file_url_to_path(url)


def _walk(folder: Path) -> tuple[list[Path], list[tuple[str, Path]]]:
    """The source folders below ``folder`` and its source files as ``(relative POSIX path,
    path)``, sorted."""
    folders: list[Path] = []
    found: list[tuple[str, Path]] = []
    for root, dirs, files in os.walk(folder):
        top = Path(root) == folder
        dirs[:] = sorted(d for d in dirs if not _ignored_dir(d, top=top))
        folders.extend(Path(root, d) for d in dirs)
        for name in files:
            if name.endswith(IGNORED_SUFFIXES):
                continue
            path = Path(root, name)
            found.append((path.relative_to(folder).as_posix(), path))
    found.sort()
    return folders, found


def source_files(folder: Path) -> Iterator[tuple[str, Path]]:
    """``(relative POSIX path, path)`` of every source file under ``folder``, sorted."""
    yield from _walk(folder)[1]


def content_hash(folder: Path) -> str:
    """The sha256 of ``folder``'s sources (see the module doc)."""
    digest = hashlib.sha256(_FORMAT)
    for relative, path in source_files(folder):
        data = path.read_bytes()
        name = relative.encode("utf-8")
        digest.update(b"%d\0" % len(name) + name + b"%d\0" % len(data))
        digest.update(data)
    return digest.hexdigest()


def fingerprint(path: Path) -> str:
    """A wheel file's sha256, or a folder's content hash."""
    if path.is_dir():
        return content_hash(path)
    from toolcache.index import disk

    return disk.sha256_file(path)


def copy_sources(folder: Path, dest: Path) -> None:
    """Copy ``folder``'s sources (as ``content_hash`` sees them) into ``dest``."""
    for relative, path in source_files(folder):
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)


def project_name(folder: Path) -> str | None:
    """``[project] name`` of ``folder``'s pyproject.toml, when it is written there."""
    from toolcache import project

    try:
        data = project.read(folder / "pyproject.toml").data
    except project.PyprojectError:
        return None
    table = data.get("project")
    name = table.get("name") if isinstance(table, dict) else None
    return name if isinstance(name, str) and name else None


def watched_paths(path: Path) -> list[Path]:
    """What the cache-hit path of ``run`` checks for a local requirement: a wheel file, or a
    folder's source files and its folders (one gains an entry, the folder's mtime changes)."""
    if not path.is_dir():
        return [path]
    folders, files = _walk(path)
    return [path, *folders, *(p for _, p in files)]
