"""``toolcache run``: the tool's command in its environment, locking and building first when
needed. The cache-hit path never gets here: ``_entry`` serves it from the ``stamp`` record."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

from toolcache import _hit, keys, paths, stamp
from toolcache.commands.plan import Plan
from toolcache.errors import ToolcacheError
from toolcache.locking import LockMode, Planner
from toolcache.manifest import load
from toolcache.output import Output
from toolcache.runner import exec_tool


def run(
    manifest_path: Path,
    tool_name: str,
    args: list[str],
    *,
    cache_root: Path,
    mode: LockMode,
    offline: bool,
    output: Output,
) -> int:
    from toolcache.envs.receipt import FILENAME as RECEIPT
    from toolcache.envs.store import ensure

    manifest = load(manifest_path)
    (tool,) = manifest.select([tool_name])
    planner = Planner(
        manifest, cache_root=cache_root, mode=mode, offline=offline, progress=output.progress
    )
    locked = planner.lock_tool(tool)
    interpreter = locked.choice.interpreter
    if interpreter is None:  # pragma: no cover - run never plans for a described target
        raise ToolcacheError(f"tool {tool.name!r} has no local interpreter")
    settings = planner.settings
    env = ensure(
        locked.lock,
        interpreter,
        cache_root,
        index_urls=[settings.index_url, *settings.extra_index_urls],
        offline=offline,
        progress=output.progress,
    )
    prefix = keys.restore_prefix(sys.platform, platform.machine())
    plan = Plan(
        tools=[locked],
        key=keys.cache_key(prefix, [locked.env_id]),
        restore_prefix=prefix,
        cache_path=paths.archives_dir(cache_root),
        envs_root=paths.envs_dir(cache_root),
        all_tools=list(manifest.tools),
    )
    document = plan.tool_document(locked)
    document["lock-status"] = "fresh"
    stamp.save(
        cache_root,
        manifest_path,
        os.environ,
        {
            tool.name: stamp.tool_entry(
                lock=locked.lock.path,
                executable=str(interpreter.executable),
                document=document,
                env_id=locked.env_id,
                run=list(tool.run),
            )
        },
        plan.all_tools,
    )
    manifest_abs = str(manifest_path.absolute())
    _hit.write(
        str(cache_root),
        manifest_abs,
        tool.name,
        _hit.fields(
            manifest=manifest_abs,
            tool=tool.name,
            lock=str(locked.lock.path.absolute()),
            interpreter=str(interpreter.executable),
            base=env.receipt.base.realpath,
            receipt=str(env.path / RECEIPT),
            env_dir=str(env.path),
            bin_dir=str(env.bin_dir),
            argv=list(tool.run),
            environ=os.environ,
        ),
    )
    return exec_tool(str(env.path), str(env.bin_dir), [*tool.run, *args], tool.name)
