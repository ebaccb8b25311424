"""What the cache holds: environments, their size and use, and which manifests' tools use them.

References come from the ``stamp`` records every ``plan``/``run`` leaves per manifest: a
manifest that still exists references the environments its tools were last planned with.

An environment is in use while a tool runs from it: the tool holds a shared lock on the
environment's in-use file for its whole life (see ``toolcache.runner``). Whatever removes or
replaces an environment does it inside ``claim``, which takes that lock exclusively without
waiting, and leaves the environment alone when it cannot.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from toolcache import atomic, paths
from toolcache.envs import health
from toolcache.envs import receipt as receipt_mod

#: An environment used this recently counts as in use too. The in-use lock covers running
#: tools; this covers what holds no lock: a ``run`` between finding its environment and
#: starting the tool (a full run records the plan first), ``export`` reading one, and tools
#: started by a toolcache from before the lock.
IN_USE_SECONDS = 300
#: Why ``claim`` refuses while a tool holds the lock.
RUNNING = "a tool is running from it"


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
    #: The sha256 of every file its receipt names (a wheel's is its unpacked tree's name).
    files: frozenset[str] = frozenset()


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


def environment_paths(cache_root: Path) -> list[Path]:
    """Every environment folder in the cache (``envs/<interp16>/<res16>``), temporaries left
    out, sorted."""
    root = paths.envs_dir(cache_root)
    try:
        return sorted(
            env
            for interp in root.iterdir()
            if interp.is_dir()
            for env in interp.iterdir()
            if env.is_dir() and not env.name.startswith(".")
        )
    except OSError:
        return []


def environments(cache_root: Path) -> list[EnvInfo]:
    refs = references(cache_root)
    out: list[EnvInfo] = []
    seen: set[tuple[int, int]] = set()
    for env in environment_paths(cache_root):
        env_id = f"{env.parent.name}/{env.name}"
        info = EnvInfo(env, env_id, _size(env, seen), None, None, [], refs.get(env_id, []))
        try:
            rec = receipt_mod.read(env)
            info.created = rec.created
            info.packages = [(p.name, p.version) for p in rec.packages]
            info.files = frozenset(p.sha256 for p in rec.packages)
            # Damaged (a file missing, added or resized) or its interpreter gone: broken.
            info.problem = health.check_receipt(env, rec)
        except receipt_mod.ReceiptError as exc:
            info.problem = str(exc)
        info.last_used = receipt_mod.last_used(env)
        out.append(info)
    return out


@contextlib.contextmanager
def claim(env_path: Path, *, create: bool = True) -> Iterator[str | None]:
    """Hold the environment's in-use lock exclusively for the ``with`` block, never waiting.

    Yields None when it is held (no tool runs from the environment, and none can start until
    the block ends: one that tries waits, then finds the environment gone or replaced), else
    why not (``RUNNING``, or the in-use file cannot be opened). Anything that deletes, moves
    or replaces an environment does so only inside ``with claim(path) as refused:`` when
    ``refused is None``. ``create=False`` probes without leaving a file: with no file, no
    tool holds a lock. Like build locks, the file stays when the environment goes: deleting it
    would let a tool still waiting on the old file run unseen by the next remover.
    """
    from toolcache.runner import in_use_path, lock_fd

    flags = os.O_RDONLY | (os.O_CREAT if create else 0)
    try:
        fd = os.open(in_use_path(str(env_path)), flags, 0o666)
    except FileNotFoundError:  # no file (or no folder): no tool has a lock to hold
        yield None
        return
    except OSError as exc:
        yield f"its in-use file cannot be opened ({exc.strerror})"
        return
    try:
        try:
            free = lock_fd(fd, exclusive=True, wait=False)
        except OSError:  # a file system without locks: no tool can hold one either
            free = True
        yield None if free else RUNNING
    finally:
        os.close(fd)


def in_use(info: EnvInfo, now: float | None = None) -> str | None:
    """Why the environment is in use, or None: a tool is running from it (its in-use lock is
    held), it is being built (its build lock is held), or, unless it is broken, it was used
    within ``IN_USE_SECONDS``."""
    from toolcache.mutex import is_locked

    with claim(info.path, create=False) as refused:
        if refused is not None:
            return refused
    if is_locked(info.path.parent / f"{info.path.name}.lock"):
        return "being built"
    moment = now if now is not None else time.time()
    # A broken environment is never used as it is (a lookup builds it again): no grace time.
    if (
        info.problem is None
        and info.last_used is not None
        and moment - info.last_used < IN_USE_SECONDS
    ):
        return f"used within the last {IN_USE_SECONDS // 60} minutes"
    return None


def remove(env_path: Path) -> str | None:
    """Move the environment aside (so no lookup sees half of it), then delete it; None when
    done, else why it was left (a tool is running from it)."""
    from toolcache.mutex import exclusive

    with exclusive(env_path.parent / f"{env_path.name}.lock"), claim(env_path) as refused:
        if refused is not None:
            return refused
        aside = atomic.move_aside(env_path, f".tmp-{env_path.name}-old-")
    shutil.rmtree(aside, ignore_errors=True)
    return None


def build_running(cache_root: Path) -> bool:
    """Whether any environment is being built right now (its lock is held)."""
    from toolcache.mutex import is_locked

    root = paths.envs_dir(cache_root)
    return root.is_dir() and any(is_locked(lock) for lock in root.glob("*/*.lock"))


def unused_trees(cache_root: Path, *, keep: Collection[str] = ()) -> list[tuple[Path, int]]:
    """Unpacked wheels no environment uses: none was built from the wheel (``keep``: the
    sha256s the environments' receipts name) and none links to its files (each has one link).

    Files are cloned into environments by default, so a link count says nothing then: the
    receipts do. The wheel a tree came from stays in the cache, so a later build unpacks it
    again without the network. A tree unpacked from a wheel built from an sdist is named by
    that wheel, not by the sdist the receipt names, so it goes (its wheel stays too).
    """
    from toolcache.envs.unpacked import trees

    found: list[tuple[Path, int]] = []
    for tree in trees(cache_root):
        if tree.name in keep:
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
