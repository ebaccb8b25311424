"""Locks for the environment tests, made the way a user makes them: from a ``tools.yaml``."""

from __future__ import annotations

from pathlib import Path

from toolcache import manifest as manifest_mod
from toolcache.lockfile.planning import Planner
from toolcache.lockfile.selection import Selection


def lock_tool(folder: Path, manifest: str, cache: Path, *, tool: str = "lint") -> Selection:
    """Write ``manifest`` to ``folder/tools.yaml``, lock its ``tool`` into ``cache`` and select
    from the lock for the tool's interpreter."""
    path = folder / "tools.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(manifest, encoding="utf-8")
    loaded = manifest_mod.load(path)
    return Planner(loaded, cache_root=cache).lock_tool(loaded.tools[tool]).selection
