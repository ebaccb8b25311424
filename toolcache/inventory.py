"""What the cache holds: environments, their size and use, and which manifests' tools use them.

References come from the ``stamp`` records every ``plan``/``run`` leaves per manifest: a
manifest that still exists references the environments its tools were last planned with.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from toolcache import atomic, paths
from toolcache.envs import receipt as receipt_mod

#: An environment used this recently may still be running a tool; ``gc`` leaves it alone.
IN_USE_SECONDS = 300


@dataclass
class EnvInfo:
    path: Path
    env_id: str  # "<interp16>/<res16>"
    size: int
    created: float | None
    last_used: float | None
    packages: list[tuple[str, str]]
    users: list[str] = field(default_factory=list)  # "manifest:tool"
    problem: str | None = None


def _size(path: Path, seen: set[tuple[int, int]]) -> int:
    """Bytes on disk, counting hardlinked files once."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            key = (st.st_dev, st.st_ino)
            if key in seen:
                continue
            seen.add(key)
            total += getattr(st, "st_blocks", 0) * 512 or st.st_size
    return total


def references(cache_root: Path) -> dict[str, list[str]]:
    """env-id → ["<manifest>:<tool>", ...] from the records of manifests that still exist."""
    found: dict[str, list[str]] = {}
    folder = cache_root / "stamps-v1"
    if not folder.is_dir():
        return found
    for record_file in sorted(folder.glob("*.json")):
        try:
            data = json.loads(record_file.read_bytes())
            manifest = str(data["manifest"])
            tools = data["tools"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if not Path(manifest).is_file():
            continue
        for name, entry in sorted(tools.items()):
            if isinstance(entry, dict) and "env-id" in entry:
                found.setdefault(str(entry["env-id"]), []).append(f"{manifest}:{name}")
    return found


def environments(cache_root: Path) -> list[EnvInfo]:
    root = paths.envs_dir(cache_root)
    refs = references(cache_root)
    out: list[EnvInfo] = []
    seen: set[tuple[int, int]] = set()
    if not root.is_dir():
        return out
    for interp_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for env in sorted(
            p for p in interp_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
        ):
            env_id = f"{interp_dir.name}/{env.name}"
            info = EnvInfo(env, env_id, _size(env, seen), None, None, [], refs.get(env_id, []))
            try:
                rec = receipt_mod.read(env)
                info.created = rec.created
                info.packages = [(p.name, p.version) for p in rec.packages]
            except receipt_mod.ReceiptError as exc:
                info.problem = str(exc)
            info.last_used = receipt_mod.last_used(env)
            out.append(info)
    return out


def in_use(info: EnvInfo, now: float | None = None) -> bool:
    """Being built (its lock is held) or used within the last few minutes."""
    from toolcache.mutex import is_locked

    if is_locked(info.path.parent / f"{info.path.name}.lock"):
        return True
    moment = now if now is not None else time.time()
    return info.last_used is not None and moment - info.last_used < IN_USE_SECONDS


def remove(info: EnvInfo) -> None:
    """Move the environment aside (so no lookup sees half of it), then delete it."""
    from toolcache.mutex import exclusive

    with exclusive(info.path.parent / f"{info.path.name}.lock"):
        aside = atomic.move_aside(info.path, f".tmp-{info.path.name}-old-")
    shutil.rmtree(aside, ignore_errors=True)


def build_running(cache_root: Path) -> bool:
    """Whether any environment is being built right now (its lock is held)."""
    from toolcache.mutex import is_locked

    root = paths.envs_dir(cache_root)
    return root.is_dir() and any(is_locked(lock) for lock in root.glob("*/*.lock"))


def unused_trees(cache_root: Path) -> list[tuple[Path, int]]:
    """Unpacked wheels no environment links to: every file has one link, the tree's own.

    Environments hard-link their files from these trees, so a tree whose files all have a link
    count of one serves no environment; the wheel it came from stays in the cache, so a later
    build unpacks it again without the network.
    """
    root = paths.wheel_cache_dir(cache_root) / "unpacked"
    found: list[tuple[Path, int]] = []
    if not root.is_dir():
        return found
    for tree in sorted(root.glob("*/*")):
        if not tree.is_dir() or tree.name.startswith("."):
            continue
        size, linked = 0, False
        for dirpath, _dirs, files in os.walk(tree):
            for name in files:
                try:
                    st = os.lstat(os.path.join(dirpath, name))
                except OSError:
                    continue
                if st.st_nlink > 1:
                    linked = True
                    break
                size += getattr(st, "st_blocks", 0) * 512 or st.st_size
            if linked:
                break
        if not linked:
            found.append((tree, size))
    return found


def remove_tree(tree: Path) -> None:
    """Move an unpacked tree aside (a lookup never sees half of it), then delete it; a killed
    gc leaves a ``.tmp-`` folder that the next unpack there cleans up."""
    atomic.discard(tree, f".tmp-{tree.name}-old-")
