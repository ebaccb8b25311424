"""``toolcache store ls`` and ``toolcache store prune``: what a shared store holds, and taking
away what was written long ago.

Folders and object stores (``s3://``, ``gs://``, ``az://``) can be listed; an HTTP cache in
Bazel's layout cannot (the protocol has no listing) and evicts by its own size limit. In an
object store, ``prune`` also removes old archive blobs that no pointer names (an upload whose
pointer was never written, an export that lost a race and could not delete). An
archive's age is the time it was written: stores record no reads, so an archive still in use
is pruned once it is old enough, and the next export that builds its environment writes it
again (a miss costs one build, never a wrong environment).
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import Any

from toolcache.commands.gc import parse_duration
from toolcache.output import Output, human_size, table
from toolcache.store import StoredArchive, open_store

JSON_VERSION = 1


def _when(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _rows(archives: list[StoredArchive]) -> str:
    return table(
        [[a.name, human_size(a.size), _when(a.modified)] for a in archives],
        ["archive", "size", "written"],
    )


def document(description: str, archives: list[StoredArchive]) -> dict[str, Any]:
    """The JSON output of ``ls`` (``"version": 1``)."""
    return {
        "version": JSON_VERSION,
        "store": description,
        "archives": [
            {"name": a.name, "size": a.size, "modified": a.modified.isoformat()} for a in archives
        ],
    }


def ls(spec: str, *, output_format: str, output: Output) -> int:
    """List the archives of the store ``spec``: name, size, when written."""
    store = open_store(spec, read_only=True)
    try:
        archives = list(store.archives())
    finally:
        store.close()
    if output_format == "json":
        output.result(json.dumps(document(store.description, archives), indent=2))
        return 0
    total = sum(a.size for a in archives)
    text = _rows(archives) if archives else ""
    text += f"{len(archives)} archives, {human_size(total)} in {store.description}\n"
    output.result(text)
    return 0


def prune(
    spec: str,
    *,
    older_than: str,
    dry_run: bool,
    output: Output,
    now: float | None = None,
) -> int:
    """Remove the archives of the store ``spec`` written more than ``older_than`` ago
    (``30d``, ``12h``); with ``dry_run``, only say which."""
    age = parse_duration(older_than, "--older-than")
    cutoff = (time.time() if now is None else now) - age
    store = open_store(spec, read_only=dry_run)
    try:
        archives = list(store.archives())
        old = [a for a in archives if a.modified.timestamp() < cutoff]
        for archive in old:
            if not dry_run:
                output.progress(f"removing {archive.name}")
                store.remove(archive.name)
        # Blobs no pointer names, as old: younger ones may be uploads whose pointer is next.
        leftovers = [b for b in store.leftovers() if b.modified.timestamp() < cutoff]
        for blob in leftovers:
            if not dry_run:
                output.progress(f"removing {blob.name}")
                store.remove_leftover(blob.name)
    finally:
        store.close()
    verb = "would remove" if dry_run else "removed"
    text = _rows(old + leftovers) if old or leftovers else ""
    text += (
        f"{verb} {len(old)} archives ({human_size(sum(a.size for a in old))}) written before "
        f"{_when(datetime.fromtimestamp(cutoff, timezone.utc))}; kept {len(archives) - len(old)}"
        f" in {store.description}\n"
    )
    if leftovers:
        size = human_size(sum(b.size for b in leftovers))
        text += f"{verb} {len(leftovers)} leftover archive blobs ({size}) that no pointer names\n"
    output.result(text)
    return 0
