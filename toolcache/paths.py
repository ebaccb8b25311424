"""Where toolcache keeps things. Standard library only: the cache-hit path of ``run`` uses it."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing itself costs milliseconds on the cache-hit path
if TYPE_CHECKING:
    from pathlib import Path


def cache_root_str() -> str:
    """``TOOLCACHE_CACHE_DIR``, else ``$XDG_CACHE_HOME/toolcache``, else the platform's.

    A string, with ``os.path`` only: the cache-hit path of ``run`` does not import pathlib.
    """
    explicit = os.environ.get("TOOLCACHE_CACHE_DIR")
    if explicit:
        return os.path.abspath(os.path.expanduser(explicit))
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        return os.path.join(xdg, "toolcache")
    home = os.path.expanduser("~")
    if sys.platform == "darwin":
        return os.path.join(home, "Library", "Caches", "toolcache")
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA") or os.path.join(home, "AppData", "Local")
        return os.path.join(local, "toolcache", "Cache")
    return os.path.join(home, ".cache", "toolcache")


def cache_root() -> Path:
    """The cache root (see ``cache_root_str``)."""
    from pathlib import Path

    return Path(cache_root_str())


def http_cache_dir(root: Path) -> Path:
    """Cached simple-API pages and PEP 658 metadata files."""
    return root / "http-v1"


def wheel_cache_dir(root: Path) -> Path:
    """Downloaded and built distribution files, content-addressed by sha256."""
    return root / "files-v1"


def interpreter_cache_dir(root: Path) -> Path:
    """Cached interpreter probes, keyed by the interpreter file's identity."""
    return root / "interpreters-v1"


def envs_dir(root: Path) -> Path:
    """Environments: ``envs/<interpreter-hash>/<resolution-hash>``."""
    return root / "envs"


def archives_dir(root: Path) -> Path:
    """Exported environment archives: the folder a CI cache step saves and restores."""
    return root / "archives"


def relative_posix(path: Path, base: Path) -> str:
    """``path`` relative to ``base`` in POSIX form, as locks and their inputs record paths
    (absolute when on another drive)."""
    try:
        relative = os.path.relpath(os.path.realpath(path), os.path.realpath(base))
    except ValueError:  # another drive on Windows
        relative = os.fspath(path)
    return relative.replace(os.sep, "/")


def absolute_python(python: str | None) -> str | None:
    """A ``--python`` that is a path, made absolute and normal (relative to the working
    directory, never to the manifest's folder); a version request as it is. The one form the
    command line, the full path and the cache-hit path of ``run`` all key by."""
    if python is not None and (os.sep in python or python.startswith(".")):
        return os.path.abspath(python)
    return python


def adhoc_dir(root: Path) -> Path:
    """Locks of ad hoc runs (``run ruff@0.9.10``): ``adhoc/<digest>/pylock.toml``."""
    return root / "adhoc"


MANIFEST_NAME = "tools.yaml"


def find_manifest(given: str | None, start: str | None = None) -> str:
    """The manifest to use: ``given`` as it is, else the nearest ``tools.yaml`` from ``start``
    (the current folder) upwards, stopping at a repository root; else ``tools.yaml`` here.

    ``os.path`` only: the cache-hit path of ``run`` uses it.
    """
    if given is not None:
        return os.path.abspath(given)
    here = os.path.abspath(start or os.getcwd())
    folder = here
    while True:
        candidate = os.path.join(folder, MANIFEST_NAME)
        if os.path.isfile(candidate):
            return candidate
        parent = os.path.dirname(folder)
        if parent == folder or os.path.exists(os.path.join(folder, ".git")):
            return os.path.join(here, MANIFEST_NAME)
        folder = parent
