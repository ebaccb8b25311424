"""``toolcache restore`` from the record the job's ``plan`` left: the warm CI job's path.

A CI job runs ``plan`` and then ``restore`` on the same manifest. When ``plan``'s record is
valid (``stamp``: manifest, settings, locks, interpreters and the files the tools' inputs were
read from unchanged), the record holds all that restoring needs per tool: the full hashes, the
packages (name, version, sha256), the interpreter as found, the command and its ``env:``. So
this path restores from the archives folder without importing Typer, PyYAML or packaging,
loading the manifest, reading locks or probing interpreters. Archives are checked exactly as
on the full path (``archive.restore``), several at once, and each tool's cache-hit record is
written as the full path writes it, so the first ``run`` of each tool is a hit.

It answers only when every tool ends ``hit`` or ``restored``. Anything else returns None
before anything is written (a tool without a record, an archive absent: the full command
builds it or reports it missing) or after (an archive refused: the full command warns about it
and builds; what was restored meanwhile is then a hit), and so does a store (``--store``).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from toolcache import _hit, paths, stamp
from toolcache.envs import store as env_store
from toolcache.output import Output
from toolcache.restore_output import Restored, emit

if TYPE_CHECKING:
    from toolcache.lockfile.planning import LockedTool

#: Environments restored (or built) at once.
WORKERS = 4
T = TypeVar("T")
R = TypeVar("R")


class _Declined(Exception):
    """This path cannot give the answer: the full command will."""


def each(action: Callable[[T], R], jobs: list[T], name: str) -> list[R]:
    """``action`` of each job, up to ``WORKERS`` at once on threads named ``name`` (reading,
    hashing and writing archives release the GIL; builds wait on the network); the first
    failure is raised once the others have finished."""
    if min(WORKERS, len(jobs)) <= 1:
        return [action(job) for job in jobs]
    with ThreadPoolExecutor(min(WORKERS, len(jobs)), thread_name_prefix=name) as pool:
        return list(pool.map(action, jobs))


def entry(locked: LockedTool) -> dict[str, Any]:
    """What a tool's ``stamp`` record keeps for this path, besides ``plan``'s document (which
    has the hashes, the interpreter and the tool's ``env:``)."""
    from toolcache.archive.contents import package_rows

    return {
        "packages": [list(row) for row in package_rows(locked.selection.packages)],
        "run": list(locked.tool.run),
    }


def _records(record: dict[str, Any], names: list[str]) -> dict[str, dict[str, Any]] | None:
    """Each named tool's record, when every one is valid and made for this path."""
    entries = {}
    for name in names:
        found = stamp.tool(record, name)
        if found is None or not found.get("restore"):
            return None
        entries[name] = found
    return entries or None


def _restore_one(
    tool: str, entry: dict[str, Any], archive: Path, cache_root: Path, output: Output
) -> Restored:
    """Restore one environment from ``archive``; ``_Declined`` when it is refused."""
    from toolcache.archive.contents import DEFAULT_SIZE_LIMIT, ArchiveError
    from toolcache.archive.restore import restore_environment
    from toolcache.relocate import RelocationError

    started = time.perf_counter()
    doc = entry["document"]
    output.progress(f"restoring {tool} from {archive}")
    rows = tuple((str(n), str(v), str(h)) for n, v, h in entry["restore"]["packages"])
    try:
        with archive.open("rb") as stream:
            outcome, env = restore_environment(
                stream,
                archive=archive.name,
                cache_root=cache_root,
                interpreter_hash=doc["interpreter"],
                resolution_hash=doc["resolution"],
                packages=rows,
                executable=Path(entry["executable"]),
                interpreter_description=doc["python"],
                size_limit=DEFAULT_SIZE_LIMIT,
            )
    except (ArchiveError, RelocationError, OSError) as exc:
        raise _Declined(str(exc)) from None
    seconds = time.perf_counter() - started
    return Restored(tool, entry["env-id"], env.path, outcome, seconds, str(archive), None, env)


def _remember_hit(
    tool: str, entry: dict[str, Any], env: env_store.Environment, manifest: str, cache_root: Path
) -> None:
    """The cache-hit record ``commands.run.remember_hit`` writes, from the stamp record."""
    from toolcache.envs.receipt import FILENAME as RECEIPT

    restore = entry["restore"]
    fields = _hit.fields(
        manifest=manifest,
        tool=tool,
        lock=os.path.abspath(entry["lock"]),
        interpreter=entry["executable"],
        base=env.receipt.base.realpath,
        receipt=str(env.path / RECEIPT),
        env_dir=str(env.path),
        bin_dir=str(env.bin_dir),
        argv=list(restore["run"]),
        environ=os.environ,
        tool_env=list(entry["document"].get("env", {}).items()),
        also_checked=list(entry.get("read", {})),
    )
    _hit.write(str(cache_root), manifest, tool, fields)


def restore(
    manifest: Path,
    tools: list[str],
    *,
    cache_root: Path,
    from_: Path | None,
    output_format: str,
    output: Output,
) -> int | None:
    """Restore the tools' environments (all, or ``tools``) from the folder ``from_`` (by
    default ``paths.archives_dir``) and print as ``commands.restore.restore`` does; None when
    the full command must answer."""
    record = stamp.load(cache_root, manifest, os.environ)
    if record is None:
        return None
    names = list(dict.fromkeys(tools)) or list(record.get("all-tools", []))
    entries = _records(record, names)
    if entries is None:
        return None
    folder = from_ or paths.archives_dir(cache_root)
    from toolcache.archive.contents import archive_name

    # Decide before writing anything: each environment is present, or its archive is.
    rows: dict[str, Restored] = {}
    todo: dict[str, tuple[str, Path]] = {}
    for name, found in entries.items():
        env_id = found["env-id"]
        if env_id in rows or env_id in todo:
            continue
        started = time.perf_counter()
        doc = found["document"]
        env = env_store.lookup(cache_root, doc["interpreter"], doc["resolution"])
        if env is not None:
            seconds = time.perf_counter() - started
            rows[env_id] = Restored(name, env_id, env.path, "hit", seconds, None, None, env)
            continue
        archive = folder / archive_name(doc["interpreter"], doc["resolution"])
        if not archive.is_file():
            return None
        todo[env_id] = (name, archive)
    try:
        done = each(
            lambda job: _restore_one(job[0], entries[job[0]], job[1], cache_root, output),
            list(todo.values()),
            "toolcache-restore",
        )
    except _Declined:
        return None
    rows.update((row.env_id, row) for row in done)
    out = []
    manifest_path = str(manifest.absolute())
    for name, found in entries.items():
        row = rows[found["env-id"]]
        if row.tool != name:  # a tool sharing another's environment: its outcome, no time
            row = dataclasses.replace(row, tool=name, seconds=0.0)
        assert row.found is not None
        _remember_hit(name, found, row.found, manifest_path, cache_root)
        out.append(row)
    emit(out, output_format, output)
    return 0
