"""``toolcache plan``: per tool the interpreter, resolution and environment; overall the CI key.

The JSON document is versioned (``"version": 1``); its shape is pinned by a contract test.
"""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolcache import keys, paths, plan_output, stamp
from toolcache.errors import ToolcacheError
from toolcache.lockfile.planning import LockedTool, LockMode, Planner
from toolcache.manifest import load
from toolcache.output import Output


def interpreter_fields(t: LockedTool) -> dict[str, Any]:
    """The fields the interpreter hash is made of (its tags summarised: the count, the best
    and a digest), or the markers of a described target."""
    interpreter = t.choice.interpreter
    if interpreter is None:
        return dict(t.choice.target.markers)
    from toolcache.interpreter import hash_payload

    fields = hash_payload(interpreter.probe_data, list(interpreter.tags))
    tags = fields.pop("tags")
    fields["tags"] = {"count": len(tags), "best": tags[0] if tags else None,
                      "sha256": keys.digest(tags)}  # fmt: skip
    return fields


@dataclass(frozen=True)
class Plan:
    tools: list[LockedTool]
    key: str
    restore_prefix: str
    cache_path: Path
    envs_root: Path
    all_tools: list[str]
    index_urls: list[str]  # with credentials: for downloads, never for output

    def environment(self, tool: LockedTool) -> Path:
        return self.envs_root / tool.env_id

    def tool_document(self, t: LockedTool) -> dict[str, Any]:
        return {
            "python": t.choice.description,
            "interpreter": t.selection.interpreter,
            "resolution": t.selection.resolution,
            "environment": str(self.environment(t)),
            "lock": str(t.lock.path),
            "lock-status": t.status,
            "packages": [{"name": p.name, "version": p.version} for p in t.selection.packages],
            # What plan --explain compares: the interpreter's hashed fields, the lock's inputs.
            "interpreter-fields": interpreter_fields(t),
            "inputs": dict(t.lock.inputs),
            **({"env": dict(t.tool.env)} if t.tool.env else {}),
        }

    def document(self) -> dict[str, Any]:
        return plan_output.document(
            {t.tool.name: self.tool_document(t) for t in self.tools},
            key=self.key,
            restore_prefix=self.restore_prefix,
            cache_path=self.cache_path,
        )


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
    python: str | None = None,
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
        python_request=python,
    )
    locked = [planner.lock_tool(tool) for tool in manifest.select(tools)]
    if (python_version is not None or platform_name is not None) and locked:
        # A described target: the key is for its platform, not this machine's.
        markers = locked[0].choice.target.markers
        system, machine = markers["sys_platform"], markers["platform_machine"]
    else:
        system, machine = sys.platform, platform.machine()
    prefix = keys.restore_prefix(system, machine, key_suffix)
    key = keys.cache_key(prefix, [t.env_id for t in locked])
    return Plan(
        tools=locked,
        key=key,
        restore_prefix=prefix,
        cache_path=paths.archives_dir(cache_root),
        envs_root=paths.envs_dir(cache_root),
        all_tools=list(manifest.tools),
        index_urls=[planner.settings.index_url, *planner.settings.extra_index_urls],
    )


def record(plan: Plan, manifest_path: Path, cache_root: Path) -> None:
    """Remember this plan so the next ``plan`` can skip the work (see ``stamp``)."""
    from toolcache.commands.restore_fast import entry as restore_entry
    from toolcache.commands.run import watched

    if any(t.choice.executable is None for t in plan.tools):
        return  # a described target (--python-version/--platform) is not this machine's
    entries = {}
    for t in plan.tools:
        doc = plan.tool_document(t)
        doc["lock-status"] = "fresh"
        entries[t.tool.name] = stamp.tool_entry(
            lock=t.lock.path,
            executable=str(t.choice.executable),
            document=doc,
            env_id=t.env_id,
            read=tuple(watched(t.tool)),  # its pyproject, its local requirements' files
            restore=restore_entry(t),
        )
    stamp.save(cache_root, manifest_path, os.environ, entries, plan.all_tools, key=plan.key)


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
    python: str | None = None,
    explain: bool = False,
    against: Path | None = None,
) -> int:
    from toolcache.commands import explain as explaining

    before = None
    if explain or against is not None:
        before = (
            explaining.read_plan(against)
            if against is not None
            else explaining.recorded(cache_root, manifest_path)
        )
        if before is None:
            raise ToolcacheError(
                f"no earlier plan of {manifest_path} is recorded in {cache_root}: "
                "give one with --against PLAN.json (a plan --format json output)"
            )
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
        python=python,
    )
    # The record is what a plain `plan` (and `run`) would find: not one for another --python.
    if prerelease == "if-necessary-or-explicit" and python is None:
        record(result, manifest_path, cache_root)
    if before is not None:
        name = manifest_path.name
        lines = {t.tool.name: f"{name}:{t.tool.line}" for t in result.tools}
        output.result(explaining.explain(before, result.document(), lines))
        return 0
    output.result(plan_output.emit(result.document(), output_format, os.environ))
    return 0
