"""Check and extract an archive into an empty folder; refuse anything unsafe or inconsistent.

The archive is read once, as a stream: zstandard decompresses, ``tarfile`` parses headers
(stream mode, so it never seeks), and every member is written here, not by ``tarfile``'s
extraction. Before anything but the receipt is read, the receipt is checked as a whole
(``Contents.from_bytes``) and against what the caller expects (interpreter, resolution,
packages). Then each member must be exactly the next listed entry: same path, type, size,
symlink target; files are written with ``O_EXCL | O_NOFOLLOW`` and hashed as they are written.
A byte budget bounds what is decompressed: the receipt's size limit first, then per member the
size the receipt declares for it, so neither a bomb nor an oversized header gets far.

On any refusal an ``ArchiveError`` is raised; the caller removes the folder (nothing is ever
written outside it).
"""

from __future__ import annotations

import hashlib
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, Protocol, cast

from toolcache.archive.contents import (
    MAX_RECEIPT_SIZE,
    MEMBER_NAME,
    ArchiveError,
    Contents,
    Entry,
    check_path,
)

_CHUNK = 1 << 20
_TAR_BUFFER = 1 << 20
_BLOCK = tarfile.BLOCKSIZE
#: Header bytes allowed per member beyond its path: the ustar header and a PAX header block.
_HEADER_ALLOWANCE = 4 * _BLOCK
_OPEN_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class Expected:
    """What the caller needs: an archive for anything else is refused before extraction."""

    interpreter_hash: str
    resolution_hash: str
    interpreter: str = ""  # a description of the local interpreter, for the message
    packages: tuple[tuple[str, str, str], ...] | None = None  # (name, version, sha256), sorted

    def check(self, contents: Contents, archive: str) -> None:
        if contents.interpreter_hash != self.interpreter_hash:
            raise ArchiveError(
                archive,
                f"it was made for interpreter {contents.interpreter_hash[:16]} "
                f"({contents.describe_interpreter()}), but {self.interpreter or 'the target'} "
                f"is {self.interpreter_hash[:16]}",
            )
        if contents.resolution_hash != self.resolution_hash:
            raise ArchiveError(
                archive,
                f"it holds resolution {contents.resolution_hash[:16]}, "
                f"not {self.resolution_hash[:16]}",
            )
        if self.packages is not None and tuple(sorted(contents.packages)) != self.packages:
            raise ArchiveError(archive, "its package list does not match the lock")


class _Budget:
    """A reader that refuses to pass more than ``limit`` bytes in total."""

    def __init__(self, source: Readable, archive: str, size_limit: int) -> None:
        self.source = source
        self.archive = archive
        self.size_limit = size_limit
        self.count = 0
        self.limit = MAX_RECEIPT_SIZE + 2 * _TAR_BUFFER

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size if size >= 0 else _CHUNK)
        self.count += len(data)
        if self.count > self.limit:
            raise ArchiveError(
                self.archive,
                "it expands past what its receipt declares or past the size limit "
                f"({self.size_limit} bytes): refused",
            )
        return data

    def allow(self, entry: Entry | None) -> None:
        """Let the next member (``entry``, or the end of the archive) through."""
        extra = 4 * _BLOCK
        if entry is not None:
            names = len(entry.path.encode()) + len(entry.target.encode())
            extra = _HEADER_ALLOWANCE + 2 * names + entry.size
        self.limit = self.count + extra + 2 * _TAR_BUFFER


def unpack(
    source: BinaryIO | Readable,
    dest: Path,
    *,
    archive: str,
    expected: Expected,
    size_limit: int,
) -> Contents:
    """Extract the archive read from ``source`` into the empty folder ``dest``.

    Raises ArchiveError for an unsafe, corrupt, truncated or foreign archive; ``dest`` may then
    hold part of it and is the caller's to remove.
    """
    import zstandard

    try:
        decompressor = zstandard.ZstdDecompressor()
        raw = cast("IO[bytes]", source)  # any object with read() will do
        with decompressor.stream_reader(raw, read_size=1 << 17, closefd=False) as reader:
            budget = _Budget(reader, archive, size_limit)
            with tarfile.open(fileobj=budget, mode="r|", bufsize=_TAR_BUFFER) as tar:  # type: ignore[call-overload]
                contents = _read_receipt(tar, archive, size_limit)
                expected.check(contents, archive)
                _extract(tar, budget, contents, dest, archive)
            budget.allow(None)
            while budget.read(_CHUNK):
                pass  # the end of the stream: zstd checks its frame checksum there
    except zstandard.ZstdError as exc:
        raise ArchiveError(archive, f"it is not valid zstd data ({exc})") from None
    except (tarfile.TarError, EOFError) as exc:
        raise ArchiveError(archive, f"it is truncated or not a tar archive ({exc})") from None
    return contents


def _read_receipt(tar: tarfile.TarFile, archive: str, size_limit: int) -> Contents:
    first = tar.next()
    if first is None or first.name != MEMBER_NAME or not first.isreg():
        found = "nothing" if first is None else repr(first.name)
        raise ArchiveError(archive, f"its first member is {found}, not the receipt {MEMBER_NAME}")
    if first.size > MAX_RECEIPT_SIZE:
        raise ArchiveError(archive, f"its receipt is {first.size} bytes, too large")
    stream = tar.extractfile(first)
    assert stream is not None
    data = stream.read()
    if len(data) != first.size:
        raise ArchiveError(archive, "it is truncated (in its receipt)")
    return Contents.from_bytes(data, archive=archive, size_limit=size_limit)


def _describe_member(member: tarfile.TarInfo) -> str | None:
    """Why this member is unsafe whatever the receipt says, or None."""
    problem = check_path(member.name.rstrip("/") if member.isdir() else member.name)
    if problem is not None:
        return problem
    if member.islnk():
        return f"hardlink {member.name!r} -> {member.linkname!r} (hardlinks are not allowed)"
    if member.ischr() or member.isblk() or member.isfifo() or member.isdev():
        return f"{member.name!r} is a device or FIFO"
    return None


def _matches(member: tarfile.TarInfo, entry: Entry) -> bool:
    if member.name.rstrip("/") != entry.path:
        return False
    if entry.type == "dir":
        return member.isdir()
    if entry.type == "symlink":
        return member.issym() and member.linkname == entry.target
    return member.type in (tarfile.REGTYPE, tarfile.AREGTYPE) and member.size == entry.size


def _extract(
    tar: tarfile.TarFile, budget: _Budget, contents: Contents, dest: Path, archive: str
) -> None:
    base = os.fspath(dest)
    for entry in contents.entries:
        if entry.type == "interpreter":
            continue  # made by relocation
        budget.allow(entry)
        member = tar.next()
        if member is None:
            raise ArchiveError(archive, f"it is truncated: {entry.path!r} is missing")
        problem = _describe_member(member)
        if problem is not None:
            raise ArchiveError(archive, f"unsafe member: {problem}")
        if not _matches(member, entry):
            raise ArchiveError(
                archive,
                f"member {member.name!r} is not what its receipt lists next ({entry.path!r}, "
                f"{entry.type})",
            )
        path = os.path.join(base, entry.path)
        if entry.type == "dir":
            os.mkdir(path, 0o755)
        elif entry.type == "symlink":
            os.symlink(entry.target, path)
        else:
            _write_file(tar, member, entry, path, archive)
    budget.allow(None)
    extra = tar.next()
    if extra is not None:
        raise ArchiveError(archive, f"member {extra.name!r} is not listed in its receipt")


def _write_file(
    tar: tarfile.TarFile, member: tarfile.TarInfo, entry: Entry, path: str, archive: str
) -> None:
    stream = tar.extractfile(member)
    assert stream is not None
    digest = hashlib.sha256()
    written = 0
    fd = os.open(path, _OPEN_FLAGS, 0o755 if entry.executable else 0o644)
    try:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view) :]
            written += len(chunk)
    finally:
        os.close(fd)
    if written != entry.size:
        raise ArchiveError(archive, f"it is truncated (in {entry.path!r})")
    if digest.hexdigest() != entry.sha256:
        raise ArchiveError(
            archive,
            f"sha256 mismatch for {entry.path!r}: expected {entry.sha256}, "
            f"got {digest.hexdigest()}",
        )
