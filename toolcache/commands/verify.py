"""``toolcache verify``: every environment and unpacked wheel against what vouches for it.

An environment is checked against its receipt and file list (``toolcache.envs.files``), an
unpacked wheel against its wheel's ``RECORD``; by type and size, and with ``--full`` by sha256
as well, cached wheel files included. ``--repair`` removes what is damaged (an environment
being built, or that a tool is running from, is never touched) and, given a manifest, builds
its tools' environments again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from toolcache import atomic, paths
from toolcache.envs import health, unpacked
from toolcache.inventory import environment_paths, remove, remove_tree
from toolcache.output import Output

#: Prefix of what ``--repair`` moves aside before deleting (cleaned like a killed build's).
_ASIDE = ".tmp-damaged-"


@dataclass(frozen=True)
class Damage:
    kind: str  # "environment", "unpacked wheel" or "wheel"
    path: Path
    reason: str


def _wheel_files(cache_root: Path) -> list[tuple[Path, str]]:
    """Cached wheel and sdist files with the sha256 their folder promises."""
    base = paths.wheel_cache_dir(cache_root)
    out: list[tuple[Path, str]] = []
    try:
        for folder in base.glob("??/*"):
            if len(folder.name) == 64:
                out.extend((f, folder.name) for f in folder.iterdir() if f.is_file())
    except OSError:
        pass
    return sorted(out)


def find_damage(cache_root: Path, *, full: bool) -> tuple[dict[str, int], list[Damage]]:
    """(how many of each kind were checked, what is damaged)."""
    from toolcache.index import disk

    damage: list[Damage] = []
    envs = environment_paths(cache_root)
    for env in envs:
        reason = health.check(env, full=full)
        if reason is not None:
            damage.append(Damage("environment", env, reason.removeprefix("damaged: ")))
    trees = unpacked.trees(cache_root)
    for root in trees:
        tree = unpacked.load(root)
        reason = "its index is missing or unreadable" if tree is None else None
        if tree is not None:
            reason = unpacked.check(tree, full=full)
        if reason is not None:
            damage.append(Damage("unpacked wheel", root, reason))
    wheels = _wheel_files(cache_root) if full else []
    for path, sha256 in wheels:
        if disk.sha256_file(path) != sha256:
            damage.append(Damage("wheel", path, "its sha256 is not the one it is stored under"))
    counts = {"environments": len(envs), "unpacked wheels": len(trees)}
    if full:
        counts["cached files"] = len(wheels)
    return counts, damage


def verify(
    *,
    cache_root: Path,
    full: bool,
    repair: bool,
    manifest_path: Path | None,
    output: Output,
) -> int:
    checked, damage = find_damage(cache_root, full=full)
    for item in damage:
        shown = _shown(item.path, cache_root)
        if repair:
            if item.kind == "environment":
                if _being_built(item.path):
                    output.result(f"{item.kind} {shown}: {item.reason} (being built: left alone)")
                    continue
                refused = remove(item.path)
                if refused is not None:
                    output.result(f"{item.kind} {shown}: {item.reason} (left alone: {refused})")
                    continue
            elif item.kind == "unpacked wheel":
                remove_tree(item.path)
            else:
                atomic.discard(item.path, _ASIDE)
            output.result(f"removed {item.kind} {shown}: {item.reason}")
        else:
            output.result(f"damaged {item.kind} {shown}: {item.reason}")
    if repair and manifest_path is not None:
        _rebuild(manifest_path, cache_root, output)
    summary = ", ".join(f"{n} {kind}" for kind, n in checked.items())
    how = "sizes and sha256" if full else "sizes"
    output.result(f"checked {summary} ({how}): {len(damage)} damaged")
    if damage and not repair:
        output.error("the cache is damaged; `toolcache verify --repair` removes what is")
        return 1
    return 0


def _being_built(env: Path) -> bool:
    from toolcache.mutex import is_locked

    return is_locked(env.parent / f"{env.name}.lock")


def _rebuild(manifest_path: Path, cache_root: Path, output: Output) -> None:
    """Build every tool's environment of the manifest that is missing now."""
    from toolcache.commands.plan import make_plan
    from toolcache.envs.store import ensure

    plan = make_plan(manifest_path, [], cache_root=cache_root, output=output)
    for tool in plan.tools:
        if tool.choice.interpreter is None:
            continue
        env = ensure(
            tool.selection,
            tool.choice.interpreter,
            cache_root,
            index_urls=plan.index_urls,
            progress=output.progress,
            downloads=output.download,
        )
        output.result(f"{tool.tool.name}: {_shown(env.path, cache_root)} is sound")


def _shown(path: Path, cache_root: Path) -> str:
    try:
        return path.relative_to(cache_root).as_posix()
    except ValueError:
        return str(path)
