"""Where toolcache keeps things. Standard library only: the cache-hit path of ``run`` uses it."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def cache_root() -> Path:
    """``TOOLCACHE_CACHE_DIR``, else ``$XDG_CACHE_HOME/toolcache``, else the platform's."""
    explicit = os.environ.get("TOOLCACHE_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser().absolute()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "toolcache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "toolcache"
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(local) / "toolcache" / "Cache"
    return Path.home() / ".cache" / "toolcache"


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
