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
    from collections.abc import Mapping

FORMAT = "toolcache-run-hit/1"
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
) -> list[str]:
    """The record's fields; every checked file is followed by its identity now."""
    checked = [manifest, lock, interpreter, base, receipt]
    out = [FORMAT, tool, settings_fingerprint(environ), env_dir, bin_dir, str(len(checked))]
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


def read(cache_root: str, manifest: str, tool: str) -> tuple[str, str, list[str]] | None:
    """``(env_dir, bin_dir, argv)`` when the record is valid, else None."""
    try:
        with open(record_path(cache_root, manifest, tool), encoding="utf-8", newline="") as fh:
            record = fh.read().split("\0")
        if record[0] != FORMAT or record[1] != tool:
            return None
        if record[2] != settings_fingerprint(os.environ):
            return None
        env_dir, bin_dir, count = record[3], record[4], int(record[5])
        checked = record[6 : 6 + 2 * count]
        argv = record[6 + 2 * count :]
    except (OSError, ValueError, IndexError):
        return None
    if checked[0] != manifest or not argv:
        return None
    for path, ident in zip(checked[::2], checked[1::2], strict=False):
        if not ident or identity(path) != ident:
            return None
    python = "python.exe" if sys.platform == "win32" else "python"
    if not os.path.exists(os.path.join(bin_dir, python)):  # follows the link: dangling = gone
        return None
    return env_dir, bin_dir, argv


def mark_used(env_dir: str) -> None:
    """Touch the environment's last-used file (``envs.receipt.LAST_USED``); best effort."""
    try:
        os.utime(os.path.join(env_dir, LAST_USED))
    except OSError:
        return
