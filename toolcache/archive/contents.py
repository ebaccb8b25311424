"""What an archive holds: the embedded receipt, and the rules that make it safe to extract.

An archive is a tar stream (PAX format) compressed with zstandard. Its first member,
``MEMBER_NAME``, is a JSON document listing every entry of the environment in extraction order
with its type and, for a file, its size and sha256. Every later member must match the next
listed entry exactly, so the receipt alone decides what may be written, and is checked as a
whole before anything else is read:

- paths are relative, ``/``-separated, without empty, ``.`` or ``..`` parts, NUL or ``\\``;
- every name can be created as spelled on Windows too (an archive made on Linux may be
  restored there): no ``<>:"|?*`` or control characters, no trailing dot or space, no device
  name (``CON``, ``nul.txt``, ``com1``), the rules of ``ntpath.isreserved``; the same holds
  for the parts of a symlink's target;
- names are compared as a file system that ignores case and Unicode normalization sees them
  (macOS, Windows; see ``fold``): no two entries are the same name there (``Foo``/``foo``,
  composed/decomposed ``é``), so no entry lands on another one;
- every entry's parent is a directory listed before it (never a symlink), so nothing is ever
  written through a link;
- a symlink's target is relative and, resolved against the archive's own symlinks, stays
  inside the root (``bin/python3 -> python``, ``lib64 -> lib``); every part it walks through
  is a listed folder or symlink, looked up folded, so ``UP/..`` cannot pass for a folder on
  a case-insensitive file system where ``up`` is a symlink;
- links to the base interpreter (``bin/python -> /usr/bin/python3.12``) are not stored as
  symlinks at all: they are ``interpreter`` entries without a target, which relocation makes
  point to the local interpreter;
- there are no hardlinks, devices, FIFOs or sockets;
- ``pyvenv.cfg`` and the environment's receipt are plain files, and the names relocation
  writes at the root are not used;
- the files add up to no more than the size limit.

Nothing else absolute is stored: ``pyvenv.cfg`` and the environment's receipt are rewritten by
relocation. Bytecode (``__pycache__``) and the last-used marker are left out.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeGuard

from toolcache import keys
from toolcache.envs import receipt as env_receipt
from toolcache.errors import ToolcacheError

FORMAT = 1
MEMBER_NAME = ".toolcache-archive.json"
SUFFIX = ".tar.zst"
#: Default limit on what an archive may expand to (the sum of its files).
DEFAULT_SIZE_LIMIT = 4 << 30
#: The receipt member is read into memory: it may not be larger than this.
MAX_RECEIPT_SIZE = 64 << 20
MAX_ENTRIES = 1_000_000
MAX_PATH = 4096
MAX_SYMLINK_DEPTH = 40
SKIPPED_DIRS = frozenset({"__pycache__"})
#: The last-used marker: this machine's, left out.
SKIPPED_ROOT_FILES = frozenset({env_receipt.LAST_USED})
#: Written at the root by relocation under fixed names (the marker is touched, ``pyvenv.cfg``
#: goes through a temporary file): an archive may not bring its own.
RESERVED_ROOT_NAMES = SKIPPED_ROOT_FILES | {".pyvenv.cfg.tmp"}
#: Rewritten by relocation: they must be plain files.
ROOT_FILES = frozenset({"pyvenv.cfg", env_receipt.FILENAME})

#: Characters Windows does not allow in a name (``ntpath.isreserved``; ``/`` and ``\\`` are
#: separators, refused before).
WINDOWS_RESERVED_CHARS = frozenset('<>:"|?*') | frozenset(map(chr, range(32)))
#: Device names: reserved on Windows in any case, with any extension (``nul.txt``), trailing
#: spaces before it ignored (``nul .txt``). ``ntpath.isreserved``'s list, with the ``COM0``
#: and ``LPT0`` of Microsoft's naming rules.
WINDOWS_DEVICE_NAMES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{port}{n}" for port in ("COM", "LPT") for n in "0123456789\xb9\xb2\xb3"}
)

#: Matches every path with a part ``windows_problem`` refuses (and some it does not): most
#: paths are let through by this one search.
_WINDOWS_SUSPECT = re.compile(
    r'[<>:"|?*\x00-\x1f]|[. ](?:/|$)|(?:^|/)(?:con|prn|aux|nul|com|lpt)', re.IGNORECASE
)

EntryType = Literal["dir", "file", "symlink", "interpreter"]
_TYPES: frozenset[str] = frozenset({"dir", "file", "symlink", "interpreter"})
_HEX = frozenset("0123456789abcdef")


class ArchiveError(ToolcacheError):
    """An archive was refused (unsafe, corrupt, or for another environment), or could not be
    written. ``archive`` names it, ``reason`` says why."""

    def __init__(self, archive: str, reason: str) -> None:
        self.archive = archive
        self.reason = reason
        super().__init__(f"archive {archive}: {reason}")


def archive_name(interpreter_hash: str, resolution_hash: str) -> str:
    """``<interp16>-<res16>.tar.zst``: the environment's id with ``-`` for ``/``."""
    return keys.env_id(interpreter_hash, resolution_hash).replace("/", "-") + SUFFIX


def is_archive_name(name: str) -> bool:
    stem = name.removesuffix(SUFFIX)
    first, sep, second = stem.partition("-")
    return (
        name.endswith(SUFFIX)
        and bool(sep)
        and len(first) == len(second) == keys.PATH_DIGEST
        and set(first + second) <= _HEX
    )


@dataclass(frozen=True)
class Entry:
    path: str  # relative, "/"-separated
    type: EntryType
    executable: bool = False  # files only
    size: int = 0  # files only
    sha256: str = ""  # files only
    target: str = ""  # symlinks only

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "type": self.type}
        if self.type == "file":
            out.update(executable=self.executable, size=self.size, sha256=self.sha256)
        elif self.type == "symlink":
            out["target"] = self.target
        return out


@dataclass(frozen=True)
class Contents:
    """The embedded receipt: which environment this is, and every entry in member order."""

    interpreter_hash: str
    resolution_hash: str
    interpreter: Mapping[str, str]  # implementation, version, platform: for messages only
    packages: tuple[tuple[str, str, str], ...]  # (name, version, sha256) as in the receipt
    entries: tuple[Entry, ...]

    @property
    def interpreter_links(self) -> list[str]:
        return [e.path for e in self.entries if e.type == "interpreter"]

    def describe_interpreter(self) -> str:
        i = self.interpreter
        return f"{i.get('implementation', '?')} {i.get('version', '?')} ({i.get('platform', '?')})"

    def to_bytes(self) -> bytes:
        document = {
            "format": FORMAT,
            "interpreter-hash": self.interpreter_hash,
            "resolution-hash": self.resolution_hash,
            "interpreter": dict(self.interpreter),
            "packages": [list(p) for p in self.packages],
            "entries": [e.to_json() for e in self.entries],
        }
        return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes, *, archive: str, size_limit: int) -> Contents:
        """Parse and check the receipt (see the module docstring); ArchiveError when unsafe."""
        try:
            document = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ArchiveError(archive, f"its receipt is not JSON ({exc})") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            found = document.get("format") if isinstance(document, dict) else None
            raise ArchiveError(archive, f"its receipt has format {found!r}, not {FORMAT}")
        try:
            raw_entries = document["entries"]
            if not isinstance(raw_entries, list) or len(raw_entries) > MAX_ENTRIES:
                raise TypeError("entries")
            contents = cls(
                interpreter_hash=_hex64(document["interpreter-hash"]),
                resolution_hash=_hex64(document["resolution-hash"]),
                interpreter={str(k): str(v) for k, v in dict(document["interpreter"]).items()},
                packages=tuple(
                    (str(name), str(version), str(sha))
                    for name, version, sha in document["packages"]
                ),
                entries=tuple(_entry(raw) for raw in raw_entries),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ArchiveError(
                archive, f"its receipt is malformed (bad or missing {exc})"
            ) from None
        check_entries(contents.entries, archive=archive, size_limit=size_limit)
        return contents


def is_sha256(value: object) -> TypeGuard[str]:
    """A sha256 as toolcache writes one: 64 lowercase hex digits."""
    return isinstance(value, str) and len(value) == 64 and set(value) <= _HEX


def _hex64(value: object) -> str:
    if not is_sha256(value):
        raise ValueError(f"hash {value!r}")
    return value


def _entry(raw: object) -> Entry:
    if not isinstance(raw, dict):
        raise TypeError("entry")
    kind = raw["type"]
    path = raw["path"]
    if kind not in _TYPES or not isinstance(path, str):
        raise ValueError(f"entry {raw!r}")
    if kind == "file":
        size = raw["size"]
        executable = raw["executable"]
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValueError(f"size of {path!r}")
        if not isinstance(executable, bool):
            raise ValueError(f"executable of {path!r}")
        return Entry(path, "file", executable, size, _hex64(raw["sha256"]))
    if kind == "symlink":
        target = raw["target"]
        if not isinstance(target, str):
            raise ValueError(f"target of {path!r}")
        return Entry(path, "symlink", target=target)
    return Entry(path, kind)


def fold(path: str) -> str:
    """``path`` as a file system that ignores case and Unicode normalization compares names.

    Canonical caseless matching (Unicode D145: NFD, case folding, then NFC here), with upper
    case taken before folding as NTFS compares names (so the dotless i, U+0131, meets ``i``):
    ``Foo``, ``FOO`` and ``foo`` are one name, and so are a composed and a decomposed ``é``.
    Meant to be stricter than each real file system (NTFS ignores case but not normalization;
    APFS ignores normalization, and case by default; ``ß`` meets ``ss`` here only), so that
    names one of them takes for one are one here. ``/`` is kept: the fold of a path is the
    path of the folded parts.
    """
    if path.isascii():
        return path.lower()
    decomposed = unicodedata.normalize("NFD", path)
    return unicodedata.normalize("NFC", decomposed.upper().casefold())


def windows_problem(name: str) -> str | None:
    """Why Windows cannot create a file or folder called ``name`` (one part of a path) as
    spelled, or None: ``ntpath.isreserved``'s rules, checked on every platform since an
    archive made here may be restored there."""
    if name[-1:] in (".", " ") and name not in (".", ".."):
        return f"{name!r} ends in a dot or space"
    reserved = sorted(WINDOWS_RESERVED_CHARS.intersection(name))
    if reserved:
        return f"{reserved[0]!r} is a reserved character"
    device = name.partition(".")[0].rstrip(" ").upper()
    if device in WINDOWS_DEVICE_NAMES:
        return f"{device} is a device name"
    return None


def same_name(path: str, other: str) -> str:
    """The reason to refuse ``path`` beside ``other``, which folds the same (``fold``)."""
    nfc = unicodedata.normalize
    show = ascii if nfc("NFC", path) == nfc("NFC", other) else repr  # é composed or not
    return (
        f"{show(path)} and {show(other)} are one name where case or Unicode normalization "
        "is ignored (macOS, Windows)"
    )


def check_path(path: str) -> str | None:
    """Why ``path`` may not name an entry, or None."""
    if not path or len(path) > MAX_PATH:
        return "an empty or overlong path"
    if "\0" in path or "\\" in path:
        return f"{path!r} contains NUL or a backslash"
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        return f"{path!r} is absolute"
    parts = path.split("/")
    if ".." in parts:
        return f"{path!r} contains '..'"
    if any(part in ("", ".") for part in parts):
        return f"{path!r} is not normalized"
    if _WINDOWS_SUSPECT.search(path):
        for part in parts:
            problem = windows_problem(part)
            if problem is not None:
                return f"{path!r} cannot be created on Windows ({problem})"
    return None


def resolve_link(
    link: str,
    target: str,
    symlinks: Mapping[str, str],
    directories: Collection[str] | None = None,
) -> str | None:
    """Where symlink ``link -> target`` leads, relative to the root (``""`` is the root), with
    the archive's other ``symlinks`` followed; None when it leaves the root or loops.

    ``symlinks`` maps each symlink's folded path (``fold``) to its target: a part of a path is
    looked up folded, as a case-insensitive file system would read it (``UP`` is the symlink
    ``up``). When ``directories`` (folded paths) is given, every part walked through (with
    another part after it) must be one of them or a symlink, else None: a name the archive
    does not hold as a folder might be a link on some file system after all (Windows reads a
    short name such as ``LONGNA~1`` as the long name it stands for).
    """
    if not target or target.startswith("/") or "\0" in target or "\\" in target:
        return None
    if len(target) > 1 and target[1] == ":":
        return None
    pending = [*reversed(target.split("/"))]
    parts = link.split("/")[:-1]
    followed = 0
    while pending:
        part = pending.pop()
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
            continue
        parts.append(part)
        here = fold("/".join(parts))
        if here in symlinks:
            followed += 1
            inner = symlinks[here]
            if followed > MAX_SYMLINK_DEPTH or inner.startswith("/") or "\\" in inner:
                return None
            parts.pop()
            pending.extend(reversed(inner.split("/")))
        elif directories is not None and pending and here not in directories:
            return None
    return "/".join(parts)


def _target_problem(target: str) -> str | None:
    if not _WINDOWS_SUSPECT.search(target):
        return None
    for part in target.split("/"):
        if part not in ("", ".", ".."):
            problem = windows_problem(part)
            if problem is not None:
                return problem
    return None


_RESERVED_FOLDED = frozenset(fold(name) for name in RESERVED_ROOT_NAMES)
_ROOT_FILES_FOLDED = frozenset(fold(name) for name in ROOT_FILES)


def check_entries(entries: Sequence[Entry], *, archive: str, size_limit: int) -> None:
    """Refuse (ArchiveError) a list of entries that would not be safe to extract."""
    kinds: dict[str, EntryType] = {}
    listed: dict[str, str] = {}  # folded path: the path as listed
    directories: set[str] = set()  # folded
    symlinks: dict[str, str] = {}  # folded path: target
    links: list[tuple[str, str]] = []
    total = 0
    for entry in entries:
        problem = check_path(entry.path)
        if problem is not None:
            raise ArchiveError(archive, f"unsafe entry: {problem}")
        key = fold(entry.path)
        other = listed.get(key)
        if other == entry.path:
            raise ArchiveError(archive, f"unsafe entry: {entry.path!r} is listed twice")
        if other is not None:
            raise ArchiveError(archive, f"unsafe entry: {same_name(entry.path, other)}")
        parent = entry.path.rpartition("/")[0]
        if parent and kinds.get(parent) != "dir":
            what = kinds.get(parent, "not listed before it")
            raise ArchiveError(
                archive, f"unsafe entry: the parent of {entry.path!r} is not a directory ({what})"
            )
        # ``PyVenv.cfg`` is ``pyvenv.cfg`` on some file systems and another file on others.
        if key in _RESERVED_FOLDED or (key in _ROOT_FILES_FOLDED and entry.path not in ROOT_FILES):
            raise ArchiveError(archive, f"unsafe entry: {entry.path!r} is a reserved name")
        if entry.path in ROOT_FILES and entry.type != "file":
            raise ArchiveError(archive, f"unsafe entry: {entry.path!r} is not a file")
        kinds[entry.path] = entry.type
        listed[key] = entry.path
        if entry.type == "dir":
            directories.add(key)
        elif entry.type == "symlink":
            symlinks[key] = entry.target
            links.append((entry.path, entry.target))
        total += entry.size
        if total > size_limit:
            raise ArchiveError(
                archive, f"it expands past the size limit ({size_limit} bytes): refused"
            )
    for link, target in links:
        problem = _target_problem(target)
        if problem is not None:
            raise ArchiveError(
                archive,
                f"unsafe entry: symlink {link!r} -> {target!r} cannot be created on Windows "
                f"({problem})",
            )
        if resolve_link(link, target, symlinks, directories) is None:
            raise ArchiveError(
                archive,
                f"unsafe entry: symlink {link!r} -> {target!r} leads outside the archive "
                "or through a name it does not list as a folder",
            )


# --- scanning an environment for export --------------------------------------------------------


def _sha256_of(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def scan(env_dir: Path, *, base_interpreter: str, archive: str) -> list[Entry]:
    """Every entry of the environment at ``env_dir`` in extraction order, files hashed.

    A symlink whose target resolves to ``base_interpreter`` (a realpath) becomes an
    ``interpreter`` entry; any other link that leaves the environment, a name that could not
    be restored on Windows or beside another on a case-insensitive file system (the rules of
    ``check_entries``, said with the file's path), and anything that is not a directory, file
    or symlink, make the environment unexportable (ArchiveError).
    """
    entries: list[Entry] = []

    def walk(folder: Path, prefix: str) -> None:
        with os.scandir(folder) as found:
            children = sorted(found, key=lambda e: e.name)
        seen: dict[str, str] = {}  # folded name: name
        for child in children:
            rel = f"{prefix}{child.name}"
            if not prefix and child.name in SKIPPED_ROOT_FILES:
                continue
            problem = windows_problem(child.name)
            if problem is not None:
                raise ArchiveError(
                    archive, f"cannot archive {child.path!r}: Windows does not allow it ({problem})"
                )
            other = seen.setdefault(fold(child.name), child.name)
            if other != child.name:
                raise ArchiveError(
                    archive, f"cannot archive {child.path!r}: {same_name(child.name, other)}"
                )
            st = child.stat(follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                target = os.readlink(child.path)
                if os.path.isabs(target):
                    if os.path.realpath(child.path) != base_interpreter:
                        raise ArchiveError(
                            archive, f"{rel} links outside the environment, to {target}"
                        )
                    entries.append(Entry(rel, "interpreter"))
                else:
                    entries.append(Entry(rel, "symlink", target=target.replace(os.sep, "/")))
            elif stat.S_ISDIR(st.st_mode):
                if child.name in SKIPPED_DIRS:
                    continue
                entries.append(Entry(rel, "dir"))
                walk(Path(child.path), f"{rel}/")
            elif stat.S_ISREG(st.st_mode):
                sha, size = _sha256_of(Path(child.path))
                entries.append(Entry(rel, "file", bool(st.st_mode & 0o100), size, sha))
            else:
                raise ArchiveError(archive, f"{rel} is not a file, folder or symlink")

    walk(env_dir, "")
    check_entries(entries, archive=archive, size_limit=1 << 62)
    return entries


def package_rows(packages: Iterable[Any]) -> tuple[tuple[str, str, str], ...]:
    """``(name, version, sha256)`` of receipt or lock packages, sorted."""
    return tuple(sorted((str(p.name), str(p.version), str(p.sha256)) for p in packages))
