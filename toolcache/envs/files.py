"""An environment's file list, and checking the environment against it.

``toolcache-files.json`` at the environment's root lists every file the build placed (path
relative to the environment, sha256 as ``RECORD`` writes it, size). The hashes come from the
wheels' ``RECORD`` files, checked when each wheel was unpacked, and from the bytes written for
the files made during the build (launchers, ``RECORD``, ``INSTALLER``): never from what is on
disk later. Not listed, because they are the machine's own and remade on restore: the
receipt, this list, ``pyvenv.cfg``, the interpreter links in ``bin`` (symlinks), the last-used
stamp, and bytecode (``__pycache__``, ``*.pyc``) that the environment's ``python`` writes on use.

``check`` compares an environment with its list: ``cheap`` stats every file (missing, size,
type) and looks for files nobody listed; ``full`` also hashes every file. Standard library only.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from toolcache import atomic

FILENAME = "toolcache-files.json"
FORMAT = 1
#: Files at the environment's root that are not the build's to vouch for.
_ROOT_OWN = frozenset(
    {"pyvenv.cfg", "lib64", "toolcache-receipt.json", "toolcache-last-used", FILENAME}
)
_CHUNK = 1 << 20
_BIN = "Scripts" if os.name == "nt" else "bin"


def write(env_dir: Path, placed: Iterable[tuple[str, str, int]]) -> None:
    """Record ``placed`` (absolute path, RECORD-style sha256, size) for ``env_dir``."""
    root = os.path.abspath(env_dir)
    files = {}
    for path, digest, size in placed:
        relative = os.path.relpath(os.path.abspath(path), root).replace(os.sep, "/")
        if relative.startswith("../"):
            raise ValueError(f"{path} is outside {env_dir}")
        if not _bytecode(relative):  # the check never looks at bytecode (see _own)
            files[relative] = [digest, size]
    document = {"format": FORMAT, "files": dict(sorted(files.items()))}
    atomic.write_bytes(env_dir / FILENAME, json.dumps(document, separators=(",", ":")).encode())


def read(env_dir: Path) -> dict[str, tuple[str, int]] | None:
    """The list, or None when the environment has none (or one of another format)."""
    try:
        document = json.loads((env_dir / FILENAME).read_bytes())
        if document.get("format") != FORMAT:
            return None
        return {str(k): (str(v[0]), int(v[1])) for k, v in document["files"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError):
        return None


def _bytecode(relative: str) -> bool:
    return "__pycache__" in relative.split("/") or relative.endswith((".pyc", ".pyo"))


def _own(relative: str, is_link: bool, bin_name: str) -> bool:
    """Files the list does not vouch for (see the module docstring). The interpreter links
    are the symlinks in ``bin`` named ``python*``, ``pypy*`` or ``𝜋thon`` (3.14's venv makes
    it); a wheel installs no symlinks, so any other one there is reported as added."""
    if relative in _ROOT_OWN or _bytecode(relative):
        return True
    parts = relative.split("/")
    return (
        len(parts) == 2
        and parts[0] == bin_name
        and is_link
        and (parts[1].startswith(("python", "pypy")) or parts[1] == "\U0001d70bthon")
    )


def _walk(env_dir: Path) -> Iterator[tuple[str, os.stat_result]]:
    """Every non-directory below ``env_dir`` (symlinks not followed), relative, with lstat."""
    root = str(env_dir)
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                if entry.name != "__pycache__":
                    stack.append(entry.path)
                continue
            yield os.path.relpath(entry.path, root).replace(os.sep, "/"), st


def check(env_dir: Path, *, full: bool = False, limit: int = 5) -> list[str]:
    """What is wrong with ``env_dir`` against its list (at most ``limit`` problems, then a
    count); an empty list when it is intact."""
    if full:  # the cheap check (every lookup) stays standard library only
        from toolcache.envs.unpacked import file_record_digest
    listed = read(env_dir)
    if listed is None:
        return [f"it has no file list ({FILENAME}): built by an older toolcache"]
    problems: list[str] = []
    seen: set[str] = set()
    for relative, st in _walk(env_dir):
        if _own(relative, stat.S_ISLNK(st.st_mode), _BIN):
            continue
        seen.add(relative)
        problem = _differs(relative, listed.get(relative), stat.S_ISREG(st.st_mode), st.st_size)
        if (
            problem is None
            and full
            and file_record_digest(env_dir / relative) != listed[relative][0]
        ):
            problem = f"{relative} was changed (its sha256 differs)"
        if problem is not None:
            problems.append(problem)
    return _limited(problems, listed, seen, limit)


def check_listing(
    listed: Mapping[str, tuple[str, int]] | None,
    present: Iterable[tuple[str, bool, bool, int, str]],
    *,
    limit: int = 5,
) -> list[str]:
    """``check`` with ``full`` of a listing known without looking at the disk: ``present``
    gives each non-folder's relative path, whether it is a regular file, a symlink, its size
    and its sha256 in hex ("" when not known). A restore checks what it has just written."""
    if listed is None:
        return [f"it has no file list ({FILENAME}): built by an older toolcache"]
    problems: list[str] = []
    seen: set[str] = set()
    for relative, regular, is_link, size, sha256 in present:
        if _own(relative, is_link, _BIN):
            continue
        seen.add(relative)
        expected = listed.get(relative)
        problem = _differs(relative, expected, regular, size)
        if (
            problem is None
            and expected is not None
            and record_digest(bytes.fromhex(sha256)) != expected[0]
        ):
            problem = f"{relative} was changed (its sha256 differs)"
        if problem is not None:
            problems.append(problem)
    return _limited(problems, listed, seen, limit)


def record_digest(digest: bytes) -> str:
    """A sha256 digest as ``RECORD`` and this list write it: urlsafe base64 without padding."""
    import base64

    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def _differs(
    relative: str, expected: tuple[str, int] | None, regular: bool, size: int
) -> str | None:
    if expected is None:
        return f"{relative} was added"
    if not regular:
        return f"{relative} is not a regular file"
    if size != expected[1]:
        return f"{relative} was changed (size {size}, not {expected[1]})"
    return None


def _limited(
    problems: list[str], listed: Mapping[str, tuple[str, int]], seen: set[str], limit: int
) -> list[str]:
    problems.extend(f"{relative} is missing" for relative in sorted(set(listed) - seen))
    if len(problems) > limit:
        problems = [*problems[:limit], f"and {len(problems) - limit} more"]
    return problems


def describe(problems: list[str]) -> str:
    """One line: ``3 files damaged: a was changed (...); b is missing; ...``."""
    return "damaged: " + "; ".join(problems)
