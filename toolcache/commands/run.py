"""``toolcache run``: the tool's command in its environment, locking and building first when
needed. The cache-hit path never gets here: ``_entry`` serves it from the ``_hit`` record."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from toolcache import _hit
from toolcache.commands.plan import make_plan, record
from toolcache.errors import ToolcacheError
from toolcache.lockfile.planning import LockedTool, LockMode
from toolcache.output import Output
from toolcache.runner import exec_tool

if TYPE_CHECKING:
    from collections.abc import Sequence

    from toolcache.envs.store import Environment
    from toolcache.manifest import Tool


def run(
    manifest_path: Path,
    tool_name: str,
    args: list[str],
    *,
    cache_root: Path,
    mode: LockMode,
    offline: bool,
    output: Output,
    python: str | None = None,
) -> int:
    plan = make_plan(
        manifest_path,
        [tool_name],
        cache_root=cache_root,
        mode=mode,
        offline=offline,
        output=output,
        python=python,
    )
    (locked,) = plan.tools
    env = environment(
        locked, cache_root, index_urls=plan.index_urls, offline=offline, output=output
    )
    if python is None:  # a --python run is not what the next plain run may take
        record(plan, manifest_path, cache_root)
        remember_hit(locked, env, manifest_path, cache_root)
    output.close()  # the terminal is the tool's from here
    os.environ.update(dict(locked.tool.env))  # the tool's `env:` (exec_tool passes os.environ)
    return exec_tool(str(env.path), str(env.bin_dir), [*locked.tool.run, *args], tool_name)


def environment(
    locked: LockedTool, cache_root: Path, *, index_urls: list[str], offline: bool, output: Output
) -> Environment:
    """The environment ``run`` starts the tool in: looked up, else built from the lock."""
    from toolcache.envs.store import ensure

    interpreter = locked.choice.interpreter
    if interpreter is None:  # pragma: no cover - run never plans for a described target
        raise ToolcacheError(f"tool {locked.tool.name!r} has no local interpreter")
    return ensure(
        locked.selection,
        interpreter,
        cache_root,
        index_urls=index_urls,
        offline=offline,
        progress=output.progress,
        downloads=output.download,
    )


def hit_record(
    locked: LockedTool, env: Environment, *, tool: str, first: str, also: Sequence[str] = ()
) -> list[str] | None:
    """The fields of a cache-hit record (``toolcache._hit``) for ``locked`` in ``env``, keyed
    by ``tool``; ``first`` is the file checked first (the manifest, or an ad hoc run's lock),
    ``also`` more files to check besides what the tool's own inputs were read from. None for
    a described target, which is not this machine's."""
    from toolcache.envs.receipt import FILENAME as RECEIPT

    interpreter = locked.choice.interpreter
    if interpreter is None:
        return None
    return _hit.fields(
        manifest=first,
        tool=tool,
        lock=str(locked.lock.path.absolute()),
        interpreter=str(interpreter.executable),
        base=env.receipt.base.realpath,
        receipt=str(env.path / RECEIPT),
        env_dir=str(env.path),
        bin_dir=str(env.bin_dir),
        argv=list(locked.tool.run),
        environ=os.environ,
        tool_env=locked.tool.env,
        also_checked=[*also, *(str(p.absolute()) for p in watched(locked.tool))],
    )


def remember_hit(
    locked: LockedTool, env: Environment, manifest_path: Path, cache_root: Path
) -> None:
    """Write the record that lets the next ``run`` of this tool take the cache-hit path
    (``toolcache._hit``); ``restore`` writes it too, so a restored tool's first run is a hit."""
    manifest = str(manifest_path.absolute())
    name = locked.tool.name
    record = hit_record(locked, env, tool=name, first=manifest)
    if record is not None:
        _hit.write(str(cache_root), manifest, name, record)


def watched(tool: Tool) -> list[Path]:
    """Files besides the manifest and the lock that decide a tool's environment: its
    project's pyproject (``with-groups``, ``with-project``), its local requirements' files."""
    from toolcache.local import local_path, watched_paths

    out = []
    if tool.project is not None and tool.project.path is not None:
        out.append(tool.project.path)
    for req in tool.manifest_requirements:
        path = local_path(req)
        if path is not None:
            out.extend(watched_paths(path))
    return out
