"""``toolcache run``: the tool's command in its environment, locking and building first when
needed. The cache-hit path never gets here: ``_entry`` serves it from the ``_hit`` record."""

from __future__ import annotations

import os
from pathlib import Path

from toolcache import _hit
from toolcache.commands.plan import make_plan, record
from toolcache.errors import ToolcacheError
from toolcache.lockfile.planning import LockMode
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

    plan = make_plan(
        manifest_path, [tool_name], cache_root=cache_root, mode=mode, offline=offline, output=output
    )
    (locked,) = plan.tools
    interpreter = locked.choice.interpreter
    if interpreter is None:  # pragma: no cover - run never plans for a described target
        raise ToolcacheError(f"tool {tool_name!r} has no local interpreter")
    env = ensure(
        locked.selection,
        interpreter,
        cache_root,
        index_urls=plan.index_urls,
        offline=offline,
        progress=output.progress,
        downloads=output.download,
    )
    record(plan, manifest_path, cache_root)
    manifest = str(manifest_path.absolute())
    _hit.write(
        str(cache_root),
        manifest,
        tool_name,
        _hit.fields(
            manifest=manifest,
            tool=tool_name,
            lock=str(locked.lock.path.absolute()),
            interpreter=str(interpreter.executable),
            base=env.receipt.base.realpath,
            receipt=str(env.path / RECEIPT),
            env_dir=str(env.path),
            bin_dir=str(env.bin_dir),
            argv=list(locked.tool.run),
            environ=os.environ,
        ),
    )
    output.close()  # the terminal is the tool's from here
    return exec_tool(str(env.path), str(env.bin_dir), [*locked.tool.run, *args], tool_name)
