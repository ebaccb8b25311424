"""``toolcache gc``: remove environments no manifest uses, unused for long, or over a size,
then the unpacked wheels no environment links to any more (the wheels themselves stay, so
rebuilding needs no network).

Never removes an environment in use (a tool running from it, being built, or used in the
last few minutes), whatever its age, and says which it kept; leaves unpacked wheels alone while
any environment is being built.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from toolcache import paths
from toolcache.errors import ToolcacheError
from toolcache.inventory import (
    EnvInfo,
    build_running,
    environments,
    in_use,
    remove,
    remove_tree,
    unused_trees,
)
from toolcache.output import Output, human_size

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZES = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_duration(text: str, option: str = "--max-age") -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text.lower())
    if not match:
        raise ToolcacheError(f"{option}: {text!r} is not a duration such as 12h, 30d or 2w")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_size(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:i?b)?\s*", text.lower())
    if not match:
        raise ToolcacheError(f"--max-size: {text!r} is not a size such as 500M or 2G")
    return int(float(match.group(1)) * _SIZES[match.group(2)])


def choose(
    envs: list[EnvInfo],
    *,
    now: float,
    max_age: float | None,
    max_size: int | None,
    unreferenced: bool,
    keep: frozenset[str] = frozenset(),
) -> tuple[list[tuple[EnvInfo, str]], list[tuple[EnvInfo, str]]]:
    """The environments to remove, each with why; and those the options would remove but
    that are in use, each with what uses them. Those in ``keep`` (``gc -m``'s manifest's) go
    only when broken."""
    busy = {e.env_id: in_use(e, now) for e in envs}
    chosen: dict[str, tuple[EnvInfo, str]] = {}
    kept: dict[str, tuple[EnvInfo, str]] = {}

    def pick(env: EnvInfo, why: str) -> bool:
        reason = busy[env.env_id]
        if reason is not None:
            kept[env.env_id] = (env, reason)
            return False
        chosen[env.env_id] = (env, why)
        return True

    for env in envs:
        if env.problem is not None:
            pick(env, f"broken ({env.problem})")
        elif env.env_id in keep:
            continue
        elif unreferenced and not env.users:
            pick(env, "no known manifest uses it")
        elif max_age is not None:
            last = env.last_used or env.created or 0.0
            if now - last > max_age:
                pick(env, "not used within --max-age")
    if max_size is not None:
        remaining = [e for e in envs if e.env_id not in chosen]
        total = sum(e.size for e in remaining)
        for env in sorted(remaining, key=lambda e: e.last_used or e.created or 0.0):
            if total <= max_size:
                break
            if env.env_id not in keep and pick(env, "least recently used over --max-size"):
                total -= env.size
    return list(chosen.values()), list(kept.values())


def sweep_leftovers(cache_root: Path) -> list[Path]:
    """Temporaries of killed processes older than an hour, wherever the cache makes them:
    environments being built (``envs/*/.tmp-*``, unless their lock is held) and restored
    (``envs/*/.restore-*``),
    unpacked wheels (``files-v1/unpacked/*/.tmp-*``), downloads (``files-v1/.download-*``)."""
    import contextlib
    import os

    from toolcache.archive import restore
    from toolcache.envs import build, unpacked

    removed: list[Path] = []
    envs = paths.envs_dir(cache_root)
    with contextlib.suppress(OSError):
        for folder in envs.iterdir():
            if folder.is_dir():
                removed.extend(build.clean_temporaries(folder))
                removed.extend(restore.clean_stale(folder))
    base = paths.wheel_cache_dir(cache_root)
    with contextlib.suppress(OSError):
        for shard in (base / "unpacked").iterdir():
            if shard.is_dir():
                removed.extend(unpacked.clean_stale(shard))
    now = time.time()
    with contextlib.suppress(OSError):
        for entry in base.glob(".download-*"):
            with contextlib.suppress(OSError):
                if now - entry.stat().st_mtime > build.STALE_AFTER:
                    os.unlink(entry)
                    removed.append(entry)
    return removed


def gc(
    *,
    cache_root: Path,
    max_age: str | None,
    max_size: str | None,
    keep_unreferenced: bool,
    dry_run: bool,
    output: Output,
    manifest_path: Path | None = None,
) -> int:
    """With ``manifest_path``, its tools' environments are recorded as used and kept whatever
    ``max_age`` and ``max_size`` say (unless broken)."""
    keep: frozenset[str] = frozenset()
    if manifest_path is not None:
        from toolcache.commands.list_envs import manifest_env_ids

        keep = frozenset(manifest_env_ids(manifest_path, cache_root, output))
    age = parse_duration(max_age) if max_age else None
    size = parse_size(max_size) if max_size else None
    envs = environments(cache_root)
    doomed, kept = choose(
        envs,
        now=time.time(),
        max_age=age,
        max_size=size,
        unreferenced=not keep_unreferenced,
        keep=keep,
    )
    freed = 0
    gone: set[str] = set()
    for env, why in doomed:
        refused = None if dry_run else remove(env.path)
        if refused is not None:  # a tool started from it since it was chosen
            kept.append((env, refused))
            continue
        freed += env.size
        gone.add(env.env_id)
        output.result(f"{'would remove' if dry_run else 'removed'} {env.env_id}: {why}")
    for env, reason in kept:
        output.result(f"kept {env.env_id}: in use ({reason})")
    built_from = {sha for env in envs if env.env_id not in gone for sha in env.files}
    trees: list[tuple[Path, int]] = []
    # A build may be about to clone from any tree: none while one runs, and asked again before
    # each tree, since one may start meanwhile (a build holds its lock before it picks trees).
    if not build_running(cache_root):
        for tree, tree_size in unused_trees(cache_root, keep=built_from):
            if not dry_run:
                if build_running(cache_root):
                    break
                remove_tree(tree)
            trees.append((tree, tree_size))
            freed += tree_size
    if not dry_run:
        leftovers = sweep_leftovers(cache_root)
        if leftovers:
            output.result(f"removed {len(leftovers)} leftovers of killed builds and downloads")
    verb = "would free" if dry_run else "freed"
    output.result(
        f"{verb} {human_size(freed)} ({len(gone)} of {len(envs)} environments, "
        f"{len(trees)} unpacked wheels no environment uses)"
    )
    return 0
