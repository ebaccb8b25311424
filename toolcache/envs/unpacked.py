"""Wheels unpacked once into the cache, for environments to hard-link their files from.

``files-v1/unpacked/<sha[:2]>/<sha256>/`` holds ``files/`` (the archive's files at their
archive paths, executable bits applied) and ``index.json`` (what installing needs: where each
file goes, its sha256 and size for the installed ``RECORD``, the entry points). The key is the
sha256 of the wheel file. A tree is extracted beside its final place, checked against the
wheel's ``RECORD`` (every file listed, every hash and size right), and renamed into place with
its index already written: a tree that exists is complete. Installing links these files, so
nothing may ever write into them in place.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import posixpath
import shutil
import stat
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolcache import atomic, paths
from toolcache.envs.files import record_digest
from toolcache.errors import ToolcacheError

FORMAT = 1
INDEX = "index.json"
FILES = "files"
TMP_PREFIX = ".tmp-"
#: A temporary tree is removed once it is this old (seconds): its unpacker was killed.
STALE_AFTER = 3600.0
_CHUNK = 1 << 20
_SCHEMES = ("purelib", "platlib", "headers", "scripts", "data")


class UnpackError(ToolcacheError):
    """A wheel could not be unpacked: a bad archive, or contents that disagree with RECORD."""

    def __init__(self, wheel: str, reason: str) -> None:
        self.wheel = wheel
        self.reason = reason
        super().__init__(f"cannot install {wheel}: {reason}")


@dataclass(frozen=True)
class Entry:
    """One file of the wheel: installed into ``scheme`` at ``path``, from ``files/<source>``."""

    scheme: str
    path: str  # within the scheme, "/"-separated
    source: str  # the archive path
    sha256: str  # urlsafe base64 without padding, as RECORD writes it
    size: int
    python_script: bool  # a ``#!python`` script of the scripts scheme: rewritten, not linked


@dataclass(frozen=True)
class Unpacked:
    """A wheel unpacked in the cache: its tree and what installing it needs."""

    root: Path  # unpacked/<aa>/<sha256>
    wheel: str  # the wheel's file name
    dist_info: str  # e.g. "black-25.11.0.dist-info"
    root_scheme: str  # "purelib" or "platlib" (Root-Is-Purelib)
    entries: tuple[Entry, ...]
    entry_points: tuple[tuple[str, str, str, str], ...]  # (name, module, attr, section)

    @property
    def files(self) -> Path:
        return self.root / FILES

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "wheel": self.wheel,
            "dist-info": self.dist_info,
            "root-scheme": self.root_scheme,
            "entries": [
                [e.scheme, e.path, e.source, e.sha256, e.size, e.python_script]
                for e in self.entries
            ],
            "entry-points": [list(ep) for ep in self.entry_points],
        }

    @classmethod
    def from_json(cls, root: Path, data: dict[str, Any]) -> Unpacked:
        if data.get("format") != FORMAT:
            raise ValueError(f"format {data.get('format')!r}")
        return cls(
            root=root,
            wheel=str(data["wheel"]),
            dist_info=str(data["dist-info"]),
            root_scheme=str(data["root-scheme"]),
            entries=tuple(
                Entry(str(s), str(p), str(src), str(h), int(n), bool(x))
                for s, p, src, h, n, x in data["entries"]
            ),
            entry_points=tuple(
                (str(a), str(b), str(c), str(d)) for a, b, c, d in data["entry-points"]
            ),
        )


def tree_path(cache_root: Path, sha256: str) -> Path:
    return paths.wheel_cache_dir(cache_root) / "unpacked" / sha256[:2] / sha256


#: Trees already read, by path, with the inode of their index: a tree is never changed in
#: place (only replaced whole), so the build's check and the install share one parse.
_LOADED: dict[Path, tuple[int, Unpacked]] = {}


def load(root: Path) -> Unpacked | None:
    """The unpacked wheel at ``root``, or None when there is none (or of another format)."""
    index = root / INDEX
    try:
        inode = index.stat().st_ino
        seen = _LOADED.get(root)
        if seen is not None and seen[0] == inode:
            return seen[1]
        found = Unpacked.from_json(root, json.loads(index.read_bytes()))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    _LOADED[root] = (inode, found)
    return found


def check(tree: Unpacked, *, full: bool = False) -> str | None:
    """Why the tree's files are no longer what its wheel's RECORD says, or None: a file
    missing or of another size, or (``full``) of another sha256."""
    files = str(tree.files)
    for entry in tree.entries:
        path = f"{files}/{entry.source}"
        try:
            st = os.stat(path, follow_symlinks=False)
        except OSError:
            return f"{entry.source} is missing"
        if not stat.S_ISREG(st.st_mode) or st.st_size != entry.size:
            return f"{entry.source} was changed (size {st.st_size}, not {entry.size})"
        if full and file_record_digest(path) != entry.sha256:
            return f"{entry.source} was changed (its sha256 differs)"
    return None


def trees(cache_root: Path) -> list[Path]:
    """Every unpacked tree in the cache (complete or not; temporaries left out)."""
    base = paths.wheel_cache_dir(cache_root) / "unpacked"
    try:
        return sorted(
            p for p in base.glob("??/*") if p.is_dir() and not p.name.startswith(TMP_PREFIX)
        )
    except OSError:
        return []


class WheelMismatch(UnpackError):
    """The wheel file is not the one its sha256 names (a truncated or tampered cached file)."""


def ensure(wheel: Path, sha256: str, cache_root: Path) -> Unpacked:
    """``wheel`` (whose file must have ``sha256``) unpacked in the cache: found (and its files
    still of the sizes its RECORD gives), else unpacked now from the wheel, whose sha256 is
    checked first (``WheelMismatch``).

    Safe against concurrent callers, in threads or processes: each unpacks beside, the first
    rename wins and the others use its tree.
    """
    root = tree_path(cache_root, sha256)
    found = load(root)
    if found is not None and check(found) is None:
        return found
    from toolcache.index.disk import sha256_file

    try:
        actual = sha256_file(wheel)
    except OSError as exc:
        raise UnpackError(wheel.name, f"cannot read it ({exc.strerror})") from None
    if actual != sha256:
        raise WheelMismatch(wheel.name, f"its sha256 is {actual}, not {sha256}")
    root.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(root.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{sha256[:16]}-", dir=root.parent))
    try:
        made = _unpack(wheel, tmp)
        tmp.chmod(0o777 & ~atomic.UMASK)  # mkdtemp made it private; the tree is shared
        found = load(root)
        if found is not None and check(found) is None:
            return found  # another thread or process unpacked it meanwhile
        if root.exists():  # a tree of another format, or a broken one: replace it
            with contextlib.suppress(OSError):  # gone meanwhile: as good
                atomic.discard(root, f"{TMP_PREFIX}old-")
        try:
            tmp.rename(root)
        except OSError:
            found = load(root)
            if found is None:
                raise
            return found  # another process won the race: its tree is as good
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dataclasses.replace(made, root=root)


def clean_stale(parent: Path) -> list[Path]:
    """Remove the temporary trees in ``parent`` older than ``STALE_AFTER`` (their unpacker
    was killed); return what was removed."""
    now = time.time()
    removed: list[Path] = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(parent):
            if entry.name.startswith(TMP_PREFIX):
                with contextlib.suppress(OSError):
                    if now - entry.stat(follow_symlinks=False).st_mtime > STALE_AFTER:
                        shutil.rmtree(entry.path, ignore_errors=True)
                        removed.append(Path(entry.path))
    return removed


def file_record_digest(path: str | os.PathLike[str]) -> str:
    """The sha256 of the file at ``path`` as ``RECORD`` writes it."""
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            sha.update(chunk)
    return record_digest(sha.digest())


def _safe(name: str) -> bool:
    """A relative, normalised archive path without ``..`` (the installer's traversal guard)."""
    if not name or name.startswith("/") or "\\" in name or "\0" in name:
        return False
    parts = name.split("/")
    return all(part not in ("", ".", "..") for part in parts) and not (
        len(parts[0]) == 2 and parts[0][1] == ":"
    )


def _scheme_of(name: str, data_dir: str, root_scheme: str) -> tuple[str, str] | None:
    """(scheme, path within it) of an archive path; None for a bad ``.data`` subfolder."""
    if not name.startswith(data_dir + "/"):
        return root_scheme, name
    scheme, _, rest = name[len(data_dir) + 1 :].partition("/")
    if scheme not in _SCHEMES or not rest:
        return None
    return scheme, rest


def _unpack(wheel: Path, dest: Path) -> Unpacked:
    """Extract and check ``wheel`` into ``dest`` (an empty folder); write its index last."""
    from installer.records import RecordEntry, parse_record_file
    from installer.sources import WheelFile
    from installer.utils import parse_entrypoints, parse_metadata_file

    name = wheel.name
    try:
        with zipfile.ZipFile(wheel) as archive:
            source = WheelFile(archive)
            dist_info = source.dist_info_dir
            data_dir = source.data_dir
            metadata = parse_metadata_file(source.read_dist_info("WHEEL"))
            version = metadata["Wheel-Version"]
            if not (version and version.startswith("1.")):
                raise UnpackError(name, f"Wheel-Version {version} is not 1.x")
            root_scheme = "purelib" if metadata["Root-Is-Purelib"] == "true" else "platlib"
            source.validate_record(validate_contents=False)
            record_path = f"{dist_info}/RECORD"
            records = {
                row[0]: RecordEntry.from_elements(*row)
                for row in parse_record_file(source.read_dist_info("RECORD").splitlines())
            }
            points: tuple[tuple[str, str, str, str], ...] = ()
            if "entry_points.txt" in source.dist_info_filenames:
                text = source.read_dist_info("entry_points.txt")
                points = tuple((n, m, a, str(s)) for n, m, a, s in parse_entrypoints(text))
            entries = _extract(
                archive,
                dest / FILES,
                records,
                record_path=record_path,
                data_dir=data_dir,
                root_scheme=root_scheme,
                wheel=name,
            )
    except UnpackError:
        raise
    except (ValueError, KeyError, OSError, zipfile.BadZipFile, EOFError) as exc:
        # installer raises InvalidWheelSource and _WheelFileValidationError (ValueErrors)
        raise UnpackError(name, str(exc) or type(exc).__name__) from None
    made = Unpacked(dest, name, dist_info, root_scheme, tuple(entries), points)
    index = dest / INDEX
    index.write_text(json.dumps(made.to_json(), separators=(",", ":")), encoding="utf-8")
    return made


def _extract(
    archive: zipfile.ZipFile,
    files: Path,
    records: dict[str, Any],
    *,
    record_path: str,
    data_dir: str,
    root_scheme: str,
    wheel: str,
) -> list[Entry]:
    entries: list[Entry] = []
    made_dirs: set[str] = set()
    exec_mode = 0o777 & ~atomic.UMASK | 0o111
    for info in archive.infolist():
        member = info.filename
        if member.endswith("/"):
            continue
        if not _safe(member):
            raise UnpackError(wheel, f"{member!r} is not a safe path inside the wheel")
        if member == record_path or "__pycache__" in member.split("/")[:-1]:
            continue  # RECORD is written at install; wheels must not ship bytecode
        # validate_record saw every file listed with a hash, but for signatures of RECORD
        record = records.get(member)
        expected = None if record is None else record.hash_
        expected_size = None if record is None else record.size
        placed = _scheme_of(member, data_dir, root_scheme)
        if placed is None:
            raise UnpackError(wheel, f"{member} is not in a valid .data subdirectory")
        folder = posixpath.dirname(member)
        if folder not in made_dirs:
            (files / folder).mkdir(parents=True, exist_ok=True)
            made_dirs.add(folder)
        sha = hashlib.sha256()
        other = (
            None if expected is None or expected.name == "sha256" else hashlib.new(expected.name)
        )
        size = 0
        first = b""
        target = files / member
        with archive.open(info) as src, target.open("xb") as out:
            while chunk := src.read(_CHUNK):
                if not size:
                    first = chunk[:8]
                size += len(chunk)
                sha.update(chunk)
                if other is not None:
                    other.update(chunk)
                out.write(chunk)
        digest = record_digest(sha.digest() if other is None else other.digest())
        if expected is not None and (size != expected_size or digest != expected.value):
            raise UnpackError(wheel, f"the hash or size of {member} does not match RECORD")
        mode = info.external_attr >> 16
        if mode and stat.S_ISREG(mode) and mode & 0o111:
            target.chmod(exec_mode)
        scheme, path = placed
        python_script = scheme == "scripts" and first.startswith(b"#!python")
        sha256 = record_digest(sha.digest())
        entries.append(Entry(scheme, path, member, sha256, size, python_script))
    return entries
