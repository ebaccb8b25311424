"""``toolcache plan``: per tool the interpreter, resolution and environment; overall the CI key.

The JSON document is versioned (``"version": 1``); its shape is pinned by a contract test.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolcache import keys, paths
from toolcache.errors import ToolcacheError
from toolcache.locking import LockedTool, LockMode, Planner
from toolcache.manifest import load
from toolcache.output import Output, table

JSON_VERSION = 1


@dataclass(frozen=True)
class Plan:
    tools: list[LockedTool]
    key: str
    restore_prefix: str
    cache_path: Path
    envs_root: Path

    def environment(self, tool: LockedTool) -> Path:
        return self.envs_root / tool.env_id

    def document(self) -> dict[str, Any]:
        return {
            "version": JSON_VERSION,
            "key": self.key,
            "restore-prefix": self.restore_prefix,
            "cache-path": str(self.cache_path),
            "tools": {
                t.tool.name: {
                    "python": t.choice.description,
                    "interpreter": t.lock.interpreter,
                    "resolution": t.lock.resolution,
                    "environment": str(self.environment(t)),
                    "lock": str(t.lock.path),
                    "lock-status": t.status,
                    "packages": [{"name": p.name, "version": p.version} for p in t.lock.packages],
                }
                for t in self.tools
            },
        }


def make_plan(
    manifest_path: Path,
    tools: list[str],
    *,
    cache_root: Path,
    mode: LockMode = LockMode.AUTO,
    offline: bool = False,
    prerelease: str = "if-necessary-or-explicit",
    python_version: str | None = None,
    platform_name: str | None = None,
    key_suffix: str = "",
    output: Output | None = None,
) -> Plan:
    manifest = load(manifest_path)
    planner = Planner(
        manifest,
        cache_root=cache_root,
        mode=mode,
        offline=offline,
        prerelease=prerelease,
        python_version=python_version,
        platform=platform_name,
        progress=output.progress if output else None,
    )
    locked = [planner.lock_tool(tool) for tool in manifest.select(tools)]
    prefix = keys.restore_prefix(sys.platform, platform.machine(), key_suffix)
    key = keys.cache_key(prefix, [t.env_id for t in locked])
    return Plan(
        tools=locked,
        key=key,
        restore_prefix=prefix,
        cache_path=paths.archives_dir(cache_root),
        envs_root=paths.envs_dir(cache_root),
    )


def plan(
    manifest_path: Path,
    tools: list[str],
    *,
    output_format: str,
    cache_root: Path,
    mode: LockMode,
    offline: bool,
    prerelease: str,
    python_version: str | None,
    platform_name: str | None,
    key_suffix: str,
    output: Output,
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
        key_suffix=key_suffix,
        output=output,
    )
    if output_format == "json":
        output.result(json.dumps(result.document(), indent=2, sort_keys=False))
    elif output_format == "github":
        write_github(result, os.environ)
        output.result(render_text(result))
    else:
        output.result(render_text(result))
    return 0


def render_text(result: Plan) -> str:
    rows = []
    for t in result.tools:
        pins = " ".join(f"{p.name}=={p.version}" for p in t.lock.packages)
        rows.append([t.tool.name, t.choice.description, t.env_id, pins])
    text = table(rows, ["tool", "python", "environment", "packages"])
    text += "\n" + table(
        [
            ["key", result.key],
            ["restore-prefix", result.restore_prefix],
            ["cache-path", str(result.cache_path)],
        ]
    )
    return text


def _append(path_var: str, environ: os._Environ[str] | dict[str, str], text: str) -> None:
    target = environ.get(path_var)
    if not target:
        raise ToolcacheError(f"--format github needs ${path_var} (set by GitHub Actions)")
    with Path(target).open("a", encoding="utf-8") as fh:
        fh.write(text)


def write_github(result: Plan, environ: os._Environ[str] | dict[str, str]) -> None:
    """Step outputs to ``$GITHUB_OUTPUT`` and a table to ``$GITHUB_STEP_SUMMARY``."""
    document = result.document()
    outputs = {
        "key": result.key,
        "restore-prefix": result.restore_prefix,
        "cache-path": str(result.cache_path),
        "tools": " ".join(t.tool.name for t in result.tools),
        "plan": json.dumps(document, separators=(",", ":")),
    }
    lines = []
    for name, value in outputs.items():
        if "\n" in value:
            delimiter = "toolcache_" + keys.digest(value)[:16]
            lines.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
        else:
            lines.append(f"{name}={value}\n")
    _append("GITHUB_OUTPUT", environ, "".join(lines))
    summary = [
        "### toolcache plan\n\n",
        "| tool | python | packages | environment |\n",
        "|---|---|---|---|\n",
    ]
    for t in result.tools:
        summary.append(
            f"| {t.tool.name} | {t.choice.description} | {len(t.lock.packages)} | `{t.env_id}` |\n"
        )
    summary.append(f"\nCache key: `{result.key}`\n")
    if environ.get("GITHUB_STEP_SUMMARY"):
        _append("GITHUB_STEP_SUMMARY", environ, "".join(summary))
