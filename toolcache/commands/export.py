"""``toolcache export``: pack each environment the manifest needs as a ``.tar.zst`` archive.

Into a folder (``--to``, by default ``paths.archives_dir``: the ``cache-path`` that ``plan``
reports) or a store (``--store``, see ``toolcache.store``). An archive that is already there
is left alone; an environment that is not in the cache is reported and skipped. ``--prune``
removes the folder's archives that the manifest no longer needs, so a CI cache does not grow
with every change of a lock.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from toolcache.commands.plan import make_plan
from toolcache.envs import health
from toolcache.envs.store import env_path, lookup
from toolcache.errors import ToolcacheError
from toolcache.lockfile.planning import LockedTool, LockMode
from toolcache.output import Output, human_size, table
from toolcache.store import ArchiveKey, Store, store_or_folder


@dataclass(frozen=True)
class Exported:
    tool: str
    archive: str
    status: str  # "written", "exists", "not-built", "read-only"
    size: int | None  # of a written archive


def _interpreter_info(tool: LockedTool) -> dict[str, str]:
    found = tool.choice.interpreter
    if found is None:
        return {"description": tool.choice.description}
    return {
        "implementation": found.implementation_name,
        "version": found.python_full_version,
        "platform": found.sysconfig_platform,
    }


def _export_one(
    tool: LockedTool,
    key: ArchiveKey,
    destination: Store,
    *,
    cache_root: Path,
    level: int,
    say: Callable[[str], None],
) -> Exported:
    from toolcache.archive.pack import pack

    name = tool.tool.name
    if destination.contains(key):
        return Exported(name, key.name, "exists", None)
    path = env_path(cache_root, tool.selection.interpreter, tool.selection.resolution)
    if not path.is_dir():
        return Exported(name, key.name, "not-built", None)
    if destination.read_only:
        return Exported(name, key.name, "read-only", None)
    # An archive travels to other runners: every file must still be what its wheel said.
    reason = health.check(path, full=True)
    env = lookup(cache_root, tool.selection.interpreter, tool.selection.resolution)
    if reason is not None or env is None:
        raise ToolcacheError(
            f"cannot export the environment of {name} ({tool.env_id}): "
            f"{reason or 'it is not the one its receipt names'}; "
            "`toolcache verify --repair -m MANIFEST` rebuilds it"
        )
    say(f"packing the environment of {name} ({tool.env_id})")
    info = _interpreter_info(tool)
    scratch = destination.scratch_dir()
    if scratch is not None:
        _, size = pack(env.path, scratch / key.name, interpreter=info, level=level)
        destination.put(key, scratch / key.name)
    else:
        with tempfile.TemporaryDirectory(prefix="toolcache-export-") as folder:
            _, size = pack(env.path, Path(folder) / key.name, interpreter=info, level=level)
            say(f"uploading {key.name} ({human_size(size)}) to {destination.description}")
            destination.put(key, Path(folder) / key.name)
    return Exported(name, key.name, "written", size)


def export(
    manifest_path: Path,
    tools: list[str],
    *,
    cache_root: Path,
    to: Path | None,
    store: str | None,
    prune: bool,
    mode: LockMode,
    offline: bool,
    output: Output,
    read_only: bool = False,
    level: int | None = None,
) -> int:
    """Export the environments of the manifest's tools (all, or ``tools``); 0 on success.

    ``read_only`` (for untrusted builds) reports what would be uploaded and writes nothing.
    """
    from toolcache.archive.pack import LEVEL

    if to is not None and store is not None:
        raise ToolcacheError("--to and --store exclude each other")
    result = make_plan(
        manifest_path, tools, cache_root=cache_root, mode=mode, offline=offline, output=output
    )
    destination = store_or_folder(store, to, cache_root=cache_root, read_only=read_only)
    rows: list[Exported] = []
    removed: list[str] = []
    try:
        done: dict[str, Exported] = {}
        for tool in result.tools:
            key = ArchiveKey(tool.selection.interpreter, tool.selection.resolution)
            if key.name not in done:
                done[key.name] = _export_one(
                    tool,
                    key,
                    destination,
                    cache_root=cache_root,
                    level=LEVEL if level is None else level,
                    say=output.progress,
                )
            exported = done[key.name]
            if exported.status == "not-built":
                output.warning(
                    f"the environment of {tool.tool.name} ({tool.env_id}) is not in the cache:"
                    " not exported"
                )
            rows.append(dataclasses.replace(exported, tool=tool.tool.name))
        if prune:
            wanted = set(done)
            for name in list(destination.names()):
                if name not in wanted:
                    if not destination.read_only:
                        destination.remove(name)
                    removed.append(name)
    finally:
        destination.close()
    text = table(
        [[r.tool, r.archive, r.status, "" if r.size is None else human_size(r.size)] for r in rows],
        ["tool", "archive", "status", "size"],
    )
    verb = "would remove" if destination.read_only else "removed"
    for name in removed:
        text += f"{verb} {name}\n"
    text += f"archives: {destination.description}\n"
    output.result(text)
    return 0
