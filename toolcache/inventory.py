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

from toolcache import paths
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
    from toolcache.file_lock import is_locked

    if is_locked(info.path.parent / f"{info.path.name}.lock"):
        return True
    moment = now if now is not None else time.time()
    return info.last_used is not None and moment - info.last_used < IN_USE_SECONDS


def remove(info: EnvInfo) -> None:
    """Move the environment aside (so no lookup sees half of it), then delete it."""
    from toolcache.file_lock import exclusive

    with exclusive(info.path.parent / f"{info.path.name}.lock"):
        aside = info.path.parent / f".trash-{info.path.name}-{os.getpid()}"
        info.path.rename(aside)
    shutil.rmtree(aside, ignore_errors=True)
