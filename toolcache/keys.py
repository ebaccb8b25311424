"""Canonical hashes: lock inputs, resolution, environment ids and CI cache keys.

Everything hashed here is sorted, delimited, versioned JSON with no absolute paths, times, user
names or credentials, so the same manifest and interpreter give byte-identical keys anywhere.
Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import NewType

InterpreterHash = NewType("InterpreterHash", str)
ResolutionHash = NewType("ResolutionHash", str)
InputsHash = NewType("InputsHash", str)

#: Characters of a hash used in folder names: 64 bits, short enough for any path limit.
PATH_DIGEST = 16
KEY_PREFIX = "toolcache-v1"
MAX_KEY = 512


def canonical_json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def digest(value: object) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()


def resolution_hash(packages: Iterable[tuple[str, str, str]]) -> ResolutionHash:
    """sha256 over the resolved set: (normalized name, version, sha256 of the chosen file).

    Independent of the lock file's layout and of the order packages were found in.
    """
    rows = sorted({(name, version, sha) for name, version, sha in packages})
    return ResolutionHash(
        digest({"format": "toolcache-resolution/1", "packages": [list(r) for r in rows]})
    )


def inputs_hash(inputs: Mapping[str, object]) -> InputsHash:
    """sha256 over what a tool's resolution depends on (see ``lock.lock_inputs``)."""
    return InputsHash(digest({"format": "toolcache-inputs/1", **inputs}))


def env_id(interpreter: str, resolution: str) -> str:
    """``<interpreter>/<resolution>``, the environment's place below ``envs/``."""
    return f"{interpreter[:PATH_DIGEST]}/{resolution[:PATH_DIGEST]}"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "x"


def restore_prefix(sys_platform: str, machine: str, suffix: str = "") -> str:
    """The part of every key shared by all manifests on this platform (for ``restore-keys``)."""
    parts = [KEY_PREFIX, _slug(sys_platform), _slug(machine.lower())]
    if suffix:
        parts.append(_slug(suffix))
    return "-".join(parts) + "-"


def cache_key(prefix: str, env_ids: Sequence[str]) -> str:
    """The CI cache key: the prefix, then a digest of the set of environments needed.

    Tools that share an environment count once and renaming a tool changes nothing, because
    what is cached is the environments, not the names.
    """
    key = prefix + digest({"format": "toolcache-key/1", "envs": sorted(set(env_ids))})[:32]
    assert len(key) <= MAX_KEY and "," not in key
    return key
