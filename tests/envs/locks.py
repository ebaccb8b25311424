"""Locks for the environment tests, made the way a user makes them: from a ``tools.yaml``."""

from __future__ import annotations

from pathlib import Path

from toolcache import manifest as manifest_mod
from toolcache.lockfile.document import ToolLock
from toolcache.lockfile.planning import Planner


def lock_tool(folder: Path, manifest: str, cache: Path, *, tool: str = "lint") -> ToolLock:
    """Write ``manifest`` to ``folder/tools.yaml`` and lock its ``tool`` into ``cache``."""
    path = folder / "tools.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(manifest, encoding="utf-8")
    loaded = manifest_mod.load(path)
    return Planner(loaded, cache_root=cache).lock_tool(loaded.tools[tool]).lock
