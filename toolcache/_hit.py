"""The cache-hit path of ``toolcache run``: ``os``, ``sys`` and ``zlib`` only.

After a full ``run`` has locked a tool and found (or built) its healthy environment, it leaves
a small record per (manifest, tool) with the identity (size and mtime) of every file the
answer depended on: the manifest, the tool's lock, the interpreter it was found as, the
environment's base interpreter and receipt. The next ``run`` of that tool stats those files;
when all are unchanged (and the settings in the environment variables are the same) it starts
the tool at once: no YAML, no packaging, no Typer, no JSON, no interpreter probe, no network.
Anything changed or missing: ``None``, and the full path runs and records again.

The record is NUL-separated text, so any command-line argument round-trips.
"""

from __future__ import annotations

import os
import sys
import zlib

TYPE_CHECKING = False  # typing costs milliseconds on this path
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

FORMAT = "toolcache-run-hit/2"
#: The environment's last-used marker (the same name as ``envs.receipt.LAST_USED``).
LAST_USED = "toolcache-last-used"

#: Environment variables whose values change what a full run would decide.
SETTINGS_ENV = (
    "TOOLCACHE_INDEX_URL",
    "UV_DEFAULT_INDEX",
    "UV_INDEX_URL",
    "PIP_INDEX_URL",
    "TOOLCACHE_EXTRA_INDEX_URL",
    "UV_INDEX",
    "UV_EXTRA_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "TOOLCACHE_FIND_LINKS",
    "UV_FIND_LINKS",
    "TOOLCACHE_EXCLUDE_NEWER",
    "UV_EXCLUDE_NEWER",
    "PATH",
    "PYENV_ROOT",
    "RUNNER_TOOL_CACHE",
    "HOME",
)


def _without_userinfo(value: str) -> str:
    """``https://user:token@host/x`` → ``https://host/x``: credentials are not settings."""
    out = []
    for part in value.split():
        scheme, sep, rest = part.partition("://")
        if sep:
            authority, slash, path = rest.partition("/")
            out.append(scheme + sep + authority.rpartition("@")[2] + slash + path)
        else:
            out.append(part)
    return " ".join(out)


def settings_fingerprint(environ: Mapping[str, str]) -> str:
    """A checksum of the settings in the environment (never the values: no secrets on disk)."""
    text = "\0".join(f"{n}={_without_userinfo(environ.get(n, ''))}" for n in SETTINGS_ENV)
    return f"{zlib.crc32(text.encode()):08x}:{len(text)}"


def identity(path: str) -> str:
    """``size:mtime_ns`` of a file (following links), or "" when it cannot be read."""
    try:
        st = os.stat(path)
    except OSError:
        return ""
    return f"{st.st_size}:{st.st_mtime_ns}"


def record_path(cache_root: str, manifest: str, tool: str) -> str:
    key = f"{zlib.crc32(manifest.encode()):08x}{len(manifest):04x}"
    return os.path.join(cache_root, "stamps-v1", f"{key}-{tool}.run")


def fields(
    *,
    manifest: str,
    tool: str,
    lock: str,
    interpreter: str,
    base: str,
    receipt: str,
    env_dir: str,
    bin_dir: str,
    argv: list[str],
    environ: Mapping[str, str],
    tool_env: Sequence[tuple[str, str]] = (),
    also_checked: Sequence[str] = (),
) -> list[str]:
    """The record's fields; every checked file is followed by its identity now.

    ``tool_env`` is the tool's ``env:`` from the manifest (set when it starts; the manifest's
    identity is checked, so an edited ``env:`` never takes a stale hit); ``also_checked`` are
    more files the answer depended on (the project's pyproject, a local requirement's files).
    """
    checked = [manifest, lock, interpreter, base, receipt, *also_checked]
    out = [FORMAT, tool, settings_fingerprint(environ), env_dir, bin_dir, str(len(tool_env))]
    for name, value in tool_env:
        out += [name, value]
    out.append(str(len(checked)))
    for path in checked:
        out += [path, identity(path)]
    return out + argv


def write(cache_root: str, manifest: str, tool: str, record: list[str]) -> None:
    """Save a record atomically; best effort (a read-only cache only loses the shortcut)."""
    from toolcache import atomic

    try:
        atomic.write_bytes(record_path(cache_root, manifest, tool), "\0".join(record).encode())
    except OSError:
        return


def read(
    cache_root: str, manifest: str, tool: str
) -> tuple[str, str, list[str], dict[str, str]] | None:
    """``(env_dir, bin_dir, argv, tool_env)`` when the record is valid, else None."""
    return read_at(record_path(cache_root, manifest, tool), tool, manifest)


def read_at(
    record_file: str, tool: str, manifest: str | None
) -> tuple[str, str, list[str], dict[str, str]] | None:
    """``read`` of the record in ``record_file``; its first checked file must be ``manifest`` (any
    file for None: an ad hoc record's first is its lock)."""
    try:
        with open(record_file, encoding="utf-8", newline="") as fh:
            record = fh.read().split("\0")
        if record[0] != FORMAT or record[1] != tool:
            return None
        if record[2] != settings_fingerprint(os.environ):
            return None
        env_dir, bin_dir, pairs = record[3], record[4], int(record[5])
        at = 6 + 2 * pairs
        tool_env = dict(zip(record[6:at:2], record[7:at:2], strict=True))
        count = int(record[at])
        checked = record[at + 1 : at + 1 + 2 * count]
        argv = record[at + 1 + 2 * count :]
    except (OSError, ValueError, IndexError):
        return None
    if (manifest is not None and checked[0] != manifest) or not argv:
        return None
    for path, ident in zip(checked[::2], checked[1::2], strict=False):
        if not ident or identity(path) != ident:
            return None
    python = "python.exe" if sys.platform == "win32" else "python"
    if not os.path.exists(os.path.join(bin_dir, python)):  # follows the link: dangling = gone
        return None
    return env_dir, bin_dir, argv, tool_env


def mark_used(env_dir: str) -> None:
    """Touch the environment's last-used file (``envs.receipt.LAST_USED``); best effort."""
    try:
        os.utime(os.path.join(env_dir, LAST_USED))
    except OSError:
        return


def adhoc_key(
    tool: str, from_: str | None, with_: Sequence[str], python: str | None, manifest: str | None
) -> str:
    """What an ad hoc run (``run ruff@0.9.10``, ``run --from REQ CMD``) is keyed by: the command
    line's own strings, each length-prefixed (so ``["ab", "c"]`` and ``["a", "bc"]`` differ),
    ``-`` for one not given. ``manifest`` is the manifest a bare name was not found in."""
    parts = [tool, from_, python, manifest, *with_]
    return "adhoc/1 " + " ".join("-" if p is None else f"{len(p)}:{p}" for p in parts)


def adhoc_record_path(cache_root: str, key: str) -> str:
    return os.path.join(
        cache_root, "stamps-v1", f"adhoc-{zlib.crc32(key.encode()):08x}{len(key):04x}.run"
    )


def write_adhoc(cache_root: str, key: str, record: list[str]) -> None:
    """Save an ad hoc run's record (``fields`` with ``tool=key``); best effort."""
    from toolcache import atomic

    try:
        atomic.write_bytes(adhoc_record_path(cache_root, key), "\0".join(record).encode())
    except OSError:
        return


def read_adhoc(cache_root: str, key: str) -> tuple[str, str, list[str], dict[str, str]] | None:
    """``read`` for an ad hoc run: the record stores the whole key, so a checksum collision is
    a miss, never another tool."""
    return read_at(adhoc_record_path(cache_root, key), key, None)
