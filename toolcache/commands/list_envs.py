"""``toolcache list``: the environments in the cache, their size, last use and users."""

from __future__ import annotations

import json
import time
from pathlib import Path

from toolcache.inventory import EnvInfo, environments
from toolcache.output import Output, human_size, table

JSON_VERSION = 1


def human_age(moment: float | None, now: float) -> str:
    if moment is None:
        return "never"
    seconds = max(0.0, now - moment)
    for unit, length in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= length:
            return f"{seconds / length:.0f}{unit} ago"
    return "just now"


def document(envs: list[EnvInfo]) -> dict[str, object]:
    return {
        "version": JSON_VERSION,
        "environments": [
            {
                "id": e.env_id,
                "path": str(e.path),
                "size": e.size,
                "created": e.created,
                "last-used": e.last_used,
                "packages": [{"name": n, "version": v} for n, v in e.packages],
                "used-by": e.users,
                "problem": e.problem,
            }
            for e in envs
        ],
    }


def manifest_env_ids(manifest_path: Path, cache_root: Path, output: Output) -> set[str]:
    """The environments ``manifest_path``'s tools use here, from its locks as they are and
    with no network (``--frozen --offline``); its record is written, so they count as used."""
    from toolcache.commands.plan import make_plan, record
    from toolcache.lockfile.planning import LockMode

    plan = make_plan(
        manifest_path, [], cache_root=cache_root, mode=LockMode.FROZEN, offline=True, output=output
    )
    record(plan, manifest_path, cache_root)
    return {tool.env_id for tool in plan.tools}


def list_envs(
    *, cache_root: Path, output_format: str, output: Output, manifest_path: Path | None = None
) -> int:
    """Every environment of the cache, or with ``manifest_path`` those its tools use."""
    wanted = None if manifest_path is None else manifest_env_ids(manifest_path, cache_root, output)
    envs = [e for e in environments(cache_root) if wanted is None or e.env_id in wanted]
    if output_format == "json":
        output.result(json.dumps(document(envs), indent=2))
        return 0
    now = time.time()
    rows = [
        [
            e.env_id,
            human_size(e.size),
            human_age(e.last_used, now),
            ", ".join([*e.users, *([] if e.problem is None else [f"broken: {e.problem}"])]) or "-",
        ]
        for e in envs
    ]
    total = sum(e.size for e in envs)
    text = table(rows, ["environment", "size", "last used", "used by"]) if rows else ""
    output.result(text + f"{len(envs)} environments, {human_size(total)} in {cache_root}")
    return 0
