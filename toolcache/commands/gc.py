"""``toolcache gc``: remove environments no manifest uses, unused for long, or over a size,
then the unpacked wheels no environment links to any more (the wheels themselves stay, so
rebuilding needs no network).

Never removes an environment in use (being built, or used in the last few minutes), and
leaves unpacked wheels alone while any environment is being built.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from toolcache.commands.list_envs import human_size
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
from toolcache.output import Output

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZES = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_duration(text: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text.lower())
    if not match:
        raise ToolcacheError(f"--max-age: {text!r} is not a duration such as 12h, 30d or 2w")
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
) -> list[tuple[EnvInfo, str]]:
    """The environments to remove, each with why; never one in use."""
    chosen: dict[str, tuple[EnvInfo, str]] = {}
    candidates = [e for e in envs if not in_use(e, now)]
    for env in candidates:
        if env.problem is not None:
            chosen[env.env_id] = (env, f"broken ({env.problem})")
        elif unreferenced and not env.users:
            chosen[env.env_id] = (env, "no known manifest uses it")
        elif max_age is not None:
            last = env.last_used or env.created or 0.0
            if now - last > max_age:
                chosen[env.env_id] = (env, "not used within --max-age")
    if max_size is not None:
        kept = [e for e in envs if e.env_id not in chosen]
        total = sum(e.size for e in kept)
        for env in sorted(kept, key=lambda e: e.last_used or e.created or 0.0):
            if total <= max_size:
                break
            if env in candidates:
                chosen[env.env_id] = (env, "least recently used over --max-size")
                total -= env.size
    return list(chosen.values())


def gc(
    *,
    cache_root: Path,
    max_age: str | None,
    max_size: str | None,
    keep_unreferenced: bool,
    dry_run: bool,
    output: Output,
) -> int:
    age = parse_duration(max_age) if max_age else None
    size = parse_size(max_size) if max_size else None
    envs = environments(cache_root)
    doomed = choose(
        envs, now=time.time(), max_age=age, max_size=size, unreferenced=not keep_unreferenced
    )
    freed = 0
    for env, why in doomed:
        if not dry_run:
            remove(env)
        freed += env.size
        output.result(f"{'would remove' if dry_run else 'removed'} {env.env_id}: {why}")
    trees: list[tuple[Path, int]] = []
    if not build_running(cache_root):  # a build may be about to link from any tree
        trees = unused_trees(cache_root)
        for tree, tree_size in trees:
            if not dry_run:
                remove_tree(tree)
            freed += tree_size
    verb = "would free" if dry_run else "freed"
    output.result(
        f"{verb} {human_size(freed)} ({len(doomed)} of {len(envs)} environments, "
        f"{len(trees)} unpacked wheels no environment uses)"
    )
    return 0
