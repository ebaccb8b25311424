"""``toolcache restore``: bring each tool's environment into the cache, the cheapest way.

Per tool, one status: ``hit`` (present and healthy), ``restored`` (from an archive in the
folder, ``--from``, by default ``paths.archives_dir``, or in a ``--store``), ``built`` (from
the lock, when no archive matches or one was refused) or ``missing`` (``--no-build``). A
refused archive (unsafe, corrupt, for another interpreter, ...) is reported as a warning and
leaves the cache as it was. Output: text, versioned JSON, or GitHub step outputs
(``status-<tool>``, ``cache-hit``, ``statuses``) and a step-summary table.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from toolcache.archive.contents import DEFAULT_SIZE_LIMIT, ArchiveError, package_rows
from toolcache.commands.plan import Plan, make_plan, record
from toolcache.commands.restore_fast import each
from toolcache.envs import store as env_store
from toolcache.errors import HashMismatch, ToolcacheError
from toolcache.lockfile.planning import LockedTool, LockMode
from toolcache.output import Output
from toolcache.relocate import RelocationError
from toolcache.restore_output import Restored, emit
from toolcache.store import ArchiveKey, Store, StoreError, store_or_folder


def _try_archive(
    tool: LockedTool,
    source: Store,
    *,
    cache_root: Path,
    executable: Path,
    size_limit: int,
    output: Output,
) -> tuple[str | None, str | None, str | None, env_store.Environment | None]:
    """(status, where, refusal, environment): status "restored"/"hit" or None when no archive
    was used."""
    from toolcache.archive.restore import restore_environment

    key = ArchiveKey(tool.selection.interpreter, tool.selection.resolution)
    where: str | None = None
    try:
        with source.open(key) as download:
            if download is None:
                return None, None, None, None
            where = download.where
            output.progress(f"restoring {tool.tool.name} from {where}")
            outcome, environment = restore_environment(
                download.stream,
                archive=key.name,
                cache_root=cache_root,
                interpreter_hash=tool.selection.interpreter,
                resolution_hash=tool.selection.resolution,
                packages=package_rows(tool.selection.packages),
                executable=executable,
                interpreter_description=tool.choice.description,
                size_limit=size_limit,
                verify_download=download.verify,
            )
            return outcome, where, None, environment
    except (ArchiveError, RelocationError, HashMismatch, StoreError, OSError) as exc:
        reason = str(exc) if isinstance(exc, ToolcacheError) else f"{key.name}: {exc}"
        output.warning(f"{tool.tool.name}: not restored: {reason}")
        return None, where, reason, None


def _from_cache(
    tool: LockedTool, source: Store, *, cache_root: Path, size_limit: int, output: Output
) -> Restored:
    """The tool's environment as a hit, or restored from an archive; else a row with status
    "missing" (and why an archive was refused) for the caller to build or report."""
    started = time.perf_counter()
    lock = tool.selection
    path = env_store.env_path(cache_root, lock.interpreter, lock.resolution)

    def done(
        status: str,
        where: str | None = None,
        refused: str | None = None,
        found: env_store.Environment | None = None,
    ) -> Restored:
        seconds = time.perf_counter() - started
        return Restored(tool.tool.name, tool.env_id, path, status, seconds, where, refused, found)

    found = env_store.lookup(cache_root, lock.interpreter, lock.resolution)
    if found is not None:
        return done("hit", found=found)
    interpreter = tool.choice.interpreter
    if interpreter is None:
        raise ToolcacheError(
            f"cannot restore {tool.tool.name}: it was locked for {tool.choice.description}, "
            "not an interpreter on this machine"
        )
    status, where, refused, found = _try_archive(
        tool,
        source,
        cache_root=cache_root,
        executable=interpreter.executable,
        size_limit=size_limit,
        output=output,
    )
    return done(status or "missing", where, refused, found)


def _build(
    tool: LockedTool,
    row: Restored,
    *,
    cache_root: Path,
    offline: bool,
    index_urls: list[str],
    output: Output,
) -> Restored:
    """Build the environment of a tool no archive gave (``row`` says why)."""
    assert tool.choice.interpreter is not None  # _from_cache refused the tool otherwise
    started = time.perf_counter()
    found = env_store.ensure(
        tool.selection,
        tool.choice.interpreter,
        cache_root,
        index_urls=index_urls,
        offline=offline,
        progress=output.progress,
        downloads=output.download,
    )
    seconds = row.seconds + time.perf_counter() - started
    return dataclasses.replace(row, status="built", seconds=seconds, found=found)


def restore(
    manifest_path: Path,
    tools: list[str],
    *,
    cache_root: Path,
    from_: Path | None,
    store: str | None,
    no_build: bool,
    mode: LockMode,
    offline: bool,
    output_format: str,
    output: Output,
    size_limit: int = DEFAULT_SIZE_LIMIT,
) -> int:
    """Restore (or build) the environments of the manifest's tools (all, or ``tools``).

    Returns 0, whatever the statuses: ``missing`` is an answer, not a failure. Raises a
    ``ToolcacheError`` when a build fails.
    """
    if from_ is not None and store is not None:
        raise ToolcacheError("--from and --store exclude each other")
    result = make_plan(
        manifest_path, tools, cache_root=cache_root, mode=mode, offline=offline, output=output
    )
    source = store_or_folder(store, from_, cache_root=cache_root, read_only=True)
    # One row per environment: tools sharing one share its outcome (at no extra time).
    by_first: dict[str, LockedTool] = {}
    for tool in result.tools:
        by_first.setdefault(tool.env_id, tool)
    firsts = list(by_first.values())
    try:
        # Archives are read, checked and written several at once (decompression, hashing and
        # writes release the GIL); then the environments no archive gave are built side by
        # side too: each build has its own index client, downloads (most of a cold build)
        # overlap, and the download and unpacked-wheel caches are safe for concurrent callers.
        def take(tool: LockedTool) -> Restored:
            return _from_cache(
                tool, source, cache_root=cache_root, size_limit=size_limit, output=output
            )

        def build(job: tuple[LockedTool, Restored]) -> Restored:
            return _build(
                job[0],
                job[1],
                cache_root=cache_root,
                offline=offline,
                index_urls=result.index_urls,
                output=output,
            )

        found = each(take, firsts, "toolcache-restore")
        by_env = {tool.env_id: row for tool, row in zip(firsts, found, strict=True)}
        missing = [(t, r) for t, r in zip(firsts, found, strict=True) if r.status == "missing"]
        if no_build:
            missing = []
        by_env.update((row.env_id, row) for row in each(build, missing, "toolcache-build"))
    finally:
        source.close()
    rows = [
        by_env[tool.env_id]
        if tool is by_first[tool.env_id]
        else dataclasses.replace(by_env[tool.env_id], tool=tool.tool.name, seconds=0.0)
        for tool in result.tools
    ]
    _ready_for_hits(result, rows, manifest_path, cache_root)
    emit(rows, output_format, output)
    return 0


def _ready_for_hits(
    result: Plan, rows: list[Restored], manifest_path: Path, cache_root: Path
) -> None:
    """When every tool's environment is present, write the plan's and each tool's cache-hit
    records, so the job's next ``plan`` and each tool's first ``run`` take their fast paths."""
    from toolcache.commands.run import remember_hit

    if any(row.status == "missing" for row in rows):
        return  # a refused or absent archive leaves the cache as it was: no records either
    record(result, manifest_path, cache_root)
    found = {row.tool: row.found for row in rows}
    for tool in result.tools:
        env = found.get(tool.tool.name)
        if env is not None:
            remember_hit(tool, env, manifest_path, cache_root)
