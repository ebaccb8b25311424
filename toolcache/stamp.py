"""What the last full run learned about a manifest, so the next one can skip the work.

After ``plan`` or ``run`` has loaded a manifest, found interpreters and checked locks, it
records here, per manifest, everything those answers depended on:

- the manifest's sha256,
- a digest of the environment variables that change index settings or interpreter discovery
  (values are hashed, never stored: they may hold credentials),
- the sha256 of every lock file used,
- the identity (size, mtime) of every interpreter used,

and per tool what ``plan`` prints and ``run`` needs (hashes, environment, command, packages).
A later call that finds all of those unchanged uses the record instead of importing YAML,
packaging or Typer, probing interpreters or reading locks. Anything changed: the record is
ignored and the full path runs (and records again). Standard library only: this is the
cache-hit path of ``toolcache run``.

Not detected: a new interpreter installed into a version-manager folder after the record was
made (the one recorded keeps being used while it is unchanged, as a lock would).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from toolcache._hit import SETTINGS_ENV

FORMAT = 1


def _sha256_file(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _identity(path: str) -> list[int] | None:
    try:
        st = Path(path).stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def environment_digest(environ: Mapping[str, str]) -> str:
    values = {name: environ.get(name) for name in SETTINGS_ENV}
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()


def stamp_file(cache_root: Path, manifest: Path) -> Path:
    digest = hashlib.sha256(str(manifest.absolute()).encode()).hexdigest()[:32]
    return cache_root / "stamps-v1" / f"{digest}.json"


def load(cache_root: Path, manifest: Path, environ: Mapping[str, str]) -> dict[str, Any] | None:
    """The record for ``manifest`` if the manifest and environment are unchanged, else None.

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
    if data.get("environment") != environment_digest(environ):
        return None
    return data


def tool(data: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    """The tool's record if its lock file and interpreter are unchanged since it was made."""
    entry = data.get("tools", {}).get(name)
    if not isinstance(entry, dict):
        return None
    if _sha256_file(Path(entry["lock"])) != entry.get("lock-sha256"):
        return None
    interpreter = entry.get("executable")
    if interpreter is not None and _identity(interpreter) != entry.get("executable-identity"):
        return None
    return entry


def tool_entry(
    *,
    lock: Path,
    executable: str | None,
    document: Mapping[str, Any],
    env_id: str,
    run: list[str],
) -> dict[str, Any]:
    """A tool's record: ``document`` is its entry in ``plan``'s JSON document."""
    return {
        "lock": str(lock),
        "lock-sha256": _sha256_file(lock),
        "executable": executable,
        "executable-identity": _identity(executable) if executable else None,
        "env-id": env_id,
        "run": run,
        "document": dict(document),
    }


def save(
    cache_root: Path,
    manifest: Path,
    environ: Mapping[str, str],
    tools: Mapping[str, dict[str, Any]],
    all_tools: list[str],
) -> None:
    """Record ``tools`` for ``manifest``, keeping other tools' records when still valid.

    ``all_tools`` names every tool of the manifest, in order, so that a later ``plan`` of the
    whole manifest knows which records it needs.
    """
    manifest_sha = _sha256_file(manifest)
    if manifest_sha is None:
        return
    environment = environment_digest(environ)
    previous = load(cache_root, manifest, environ) or {}
    merged = {**previous.get("tools", {}), **tools}
    data = {
        "format": FORMAT,
        "manifest": str(manifest.absolute()),
        "manifest-sha256": manifest_sha,
        "environment": environment,
        "all-tools": all_tools,
        "tools": merged,
    }
    target = stamp_file(cache_root, manifest)
    with contextlib.suppress(OSError):
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".stamp-", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, sort_keys=True)
            Path(tmp).replace(target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
