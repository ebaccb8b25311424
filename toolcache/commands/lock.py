"""``toolcache lock``: resolve the manifest's tools and write their locks."""

from __future__ import annotations

from pathlib import Path

from toolcache.commands.plan import make_plan
from toolcache.lockfile.planning import LockMode
from toolcache.output import Output, table


def lock(
    manifest_path: Path,
    tools: list[str],
    *,
    cache_root: Path,
    mode: LockMode,
    offline: bool,
    prerelease: str,
    python_version: str | None,
    platform_name: str | None,
    output: Output,
    python: str | None = None,
) -> int:
    result = make_plan(
        manifest_path,
        tools,
        cache_root=cache_root,
        mode=mode,
        offline=offline,
        prerelease=prerelease,
        python_version=python_version,
        platform_name=platform_name,
        output=output,
        python=python,
    )
    rows = [
        [
            t.tool.name,
            t.status,
            str(len(t.lock.targets)),
            str(len(t.selection.packages)),
            str(t.lock.path),
        ]
        for t in result.tools
    ]
    # "packages": what this interpreter gets from the lock.
    output.result(table(rows, ["tool", "lock", "targets", "packages", "path"]))
    return 0
