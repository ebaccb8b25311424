"""What the last full ``plan`` or ``run`` learned about a manifest, so ``plan`` can skip the
work next time (``run`` has its own smaller record per tool: ``_hit``).

After a full ``plan`` or ``run`` has loaded a manifest, found interpreters and checked locks,
it records here, per manifest, everything those answers depended on:

- the manifest's sha256,
- the settings fingerprint of the environment variables (``_hit.settings_fingerprint``:
  credentials are stripped and values never stored),
- the sha256 of every lock file used,
- the identity (size, mtime) of every interpreter used,

and per tool its entry of ``plan``'s JSON document and its environment id. A later ``plan``
that finds all of those unchanged prints from the record instead of importing YAML, packaging
or Typer, probing interpreters or reading locks; ``list`` and ``gc`` read the records to know
which environments the manifests use. Anything changed: the record is ignored and the full
path runs (and records again). Standard library only.

Not detected: a new interpreter installed into a version-manager folder after the record was
made (the one recorded keeps being used while it is unchanged, as a lock would).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from toolcache import _hit, atomic

FORMAT = 3


def _sha256_file(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def stamp_file(cache_root: Path, manifest: Path) -> Path:
    digest = hashlib.sha256(str(manifest.absolute()).encode()).hexdigest()[:32]
    return cache_root / "stamps-v1" / f"{digest}.json"


def load(cache_root: Path, manifest: Path, environ: Mapping[str, str]) -> dict[str, Any] | None:
    """The record for ``manifest`` if the manifest and settings are unchanged, else None.

    Per-tool validity (lock and interpreter unchanged) is checked by ``tool``.
    """
    try:
        data = json.loads(stamp_file(cache_root, manifest).read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return None
    if data.get("manifest-sha256") != _sha256_file(manifest):
        return None
    if data.get("settings") != _hit.settings_fingerprint(environ):
        return None
    return data


def tool(data: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    """The tool's record if its lock file, the files its inputs were read from (a project's
    pyproject) and its interpreter are unchanged since it was made."""
    entry = data.get("tools", {}).get(name)
    if not isinstance(entry, dict):
        return None
    if _sha256_file(Path(entry["lock"])) != entry.get("lock-sha256"):
        return None
    for path, sha in entry.get("read", {}).items():
        if _sha256_file(Path(path)) != sha:
            return None
    executable = entry.get("executable")
    if executable is not None and _hit.identity(executable) != entry.get("executable-identity"):
        return None
    return entry


def tool_entry(
    *,
    lock: Path,
    executable: str,
    document: Mapping[str, Any],
    env_id: str,
    read: tuple[Path, ...] = (),
    restore: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A tool's record: ``document`` is its entry in ``plan``'s JSON document; ``read`` the
    files besides the manifest and the lock that its plan was made from; ``restore`` what
    ``restore``'s fast path needs besides (``commands.restore_fast.entry``)."""
    return {
        "lock": str(lock),
        "lock-sha256": _sha256_file(lock),
        "read": {str(path.absolute()): _sha256_file(path) for path in read},
        "executable": executable,
        "executable-identity": _hit.identity(executable),
        "env-id": env_id,
        "document": dict(document),
        "restore": dict(restore or {}),
    }


def save(
    cache_root: Path,
    manifest: Path,
    environ: Mapping[str, str],
    tools: Mapping[str, dict[str, Any]],
    all_tools: list[str],
    *,
    key: str | None = None,
) -> None:
    """Record ``tools`` for ``manifest``, keeping other tools' records when still valid.

    ``all_tools`` names every tool of the manifest, in order, so that a later ``plan`` of the
    whole manifest knows which records it needs.
    """
    manifest_sha = _sha256_file(manifest)
    if manifest_sha is None:
        return
    previous = load(cache_root, manifest, environ) or {}
    data = {
        "format": FORMAT,
        "manifest": str(manifest.absolute()),
        "manifest-sha256": manifest_sha,
        "settings": _hit.settings_fingerprint(environ),
        "all-tools": all_tools,
        "key": key,  # of this plan, for plan --explain
        "tools": {**previous.get("tools", {}), **tools},
    }
    with contextlib.suppress(OSError):  # a read-only cache only loses the shortcut
        atomic.write_bytes(stamp_file(cache_root, manifest), json.dumps(data).encode())
