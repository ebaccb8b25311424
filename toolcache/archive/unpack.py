"""Check and extract an archive into an empty folder; refuse anything unsafe or inconsistent.

The archive is read once, as a stream: zstandard decompresses, ``tarfile`` parses headers,
and every member is written here, not by ``tarfile``'s extraction. ``tarfile`` reads from a
forward-only file over the decompressed stream (``_Budget``) in its seeking mode, so headers
and data are read with exact sizes, without the buffer copies of its stream mode.

Before anything but the receipt is read, the receipt is checked as a whole
(``Contents.from_bytes``) and against what the caller expects (interpreter, resolution,
packages). Then each member must be exactly the next listed entry: same path, type, size,
symlink target; each file is hashed before it is written, with ``O_EXCL | O_NOFOLLOW``, on a
few threads (creating files is what extraction spends its time on). A byte budget bounds
what is decompressed: the receipt's size limit first, then per member the size the receipt
declares for it, so neither a bomb nor an oversized header gets far.

On any refusal an ``ArchiveError`` is raised; the caller removes the folder (nothing is ever
written outside it).
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
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
#: Threads writing files (2 to 4: more contend for the GIL with the parsing thread), and the
#: bytes read ahead of them at most.
WRITE_THREADS = max(2, min(4, os.cpu_count() or 1))
MAX_PENDING = 64 << 20
BATCH_BYTES = 256 << 10
BATCH_FILES = 16
_KEEP = 512
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


class _Budget(io.RawIOBase):
    """The decompressed stream as a forward-only file, refusing to pass more than ``limit``.

    ``tarfile`` (in its ordinary, seeking mode, which reads headers and data with exact
    sizes) gets ``tell`` and ``seek``: forward by skipping, and back by at most ``_KEEP``
    bytes (it steps back one byte to check for the end of the data). Chunks of ``_CHUNK``
    bytes are pulled from zstd; ``count`` is how many so far.
    """

    def __init__(self, source: Readable, archive: str, size_limit: int) -> None:
        super().__init__()
        self.source = source
        self.archive = archive
        self.size_limit = size_limit
        self.count = 0
        self.limit = MAX_RECEIPT_SIZE + 2 * _CHUNK
        self._buffer = b""
        self._offset = 0  # of the next byte in _buffer
        self._position = 0  # of the next byte in the stream

    def _fill(self) -> bool:
        data = self.source.read(_CHUNK)
        if not data:
            return False
        self.count += len(data)
        if self.count > self.limit:
            raise ArchiveError(
                self.archive,
                "it expands past what its receipt declares or past the size limit "
                f"({self.size_limit} bytes): refused",
            )
        keep = self._buffer[max(self._offset - _KEEP, 0) : self._offset]
        self._buffer = keep + data
        self._offset = len(keep)
        return True

    def read(self, size: int = -1, /) -> bytes:
        if size < 0:
            size = 1 << 62
        pieces: list[bytes] = []
        wanted = size
        while wanted > 0:
            available = len(self._buffer) - self._offset
            if available <= 0:
                if not self._fill():
                    break
                continue
            take = min(available, wanted)
            pieces.append(self._buffer[self._offset : self._offset + take])
            self._offset += take
            wanted -= take
        data = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        self._position += len(data)
        return data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self._position
        elif whence != io.SEEK_SET:
            raise io.UnsupportedOperation("seek from the end")
        back = self._position - offset
        if back > 0:
            if back > self._offset:
                raise io.UnsupportedOperation("seek back beyond the kept bytes")
            self._offset -= back
            self._position = offset
        while self._position < offset:
            if not self.read(min(offset - self._position, _CHUNK)):
                break
        return self._position

    def allow(self, entry: Entry | None) -> None:
        """Let the next member (``entry``, or the end of the archive) through."""
        extra = 4 * _BLOCK
        if entry is not None:
            names = len(entry.path.encode()) + len(entry.target.encode())
            extra = _HEADER_ALLOWANCE + 2 * names + entry.size
        self.limit = self.count + extra + 2 * _CHUNK


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
            with tarfile.open(fileobj=budget, mode="r:") as tar:
                contents = _read_receipt(tar, archive, size_limit)
                expected.check(contents, archive)
                _extract(tar, budget, contents, dest, archive)
            budget.allow(None)
            budget.seek(1 << 62)  # to the end: zstd checks its frame checksum there
    except zstandard.ZstdError as exc:
        raise ArchiveError(archive, f"it is not valid zstd data ({exc})") from None
    except (tarfile.TarError, EOFError, io.UnsupportedOperation) as exc:
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


def _describe_member(member: tarfile.TarInfo, *, checked: bool) -> str | None:
    """Why this member is unsafe whatever the receipt says, or None (``checked``: its path
    is known to be safe)."""
    if not checked:
        problem = check_path(member.name.rstrip("/") if member.isdir() else member.name)
        if problem is not None:
            return problem
    if member.islnk():
        return f"hardlink {member.name!r} -> {member.linkname!r} (hardlinks are not allowed)"
    if member.ischr() or member.isblk() or member.isfifo() or member.isdev():
        return f"{member.name!r} is a device or FIFO"
    if member.sparse is not None:
        return f"{member.name!r} is a sparse file"
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
    with _Writer(archive) as writer:
        for entry in contents.entries:
            if entry.type == "interpreter":
                continue  # made by relocation
            budget.allow(entry)
            member = tar.next()
            if member is None:
                raise ArchiveError(archive, f"it is truncated: {entry.path!r} is missing")
            # A member named as its entry has a path already checked with the receipt.
            named = member.name.rstrip("/") if member.isdir() else member.name
            problem = _describe_member(member, checked=named == entry.path)
            if problem is not None:
                raise ArchiveError(archive, f"unsafe member: {problem}")
            if not _matches(member, entry):
                raise ArchiveError(
                    archive,
                    f"member {member.name!r} is not what its receipt lists next "
                    f"({entry.path!r}, {entry.type})",
                )
            path = os.path.join(base, entry.path)
            if entry.type == "dir":
                os.mkdir(path, 0o755)
            elif entry.type == "symlink":
                os.symlink(entry.target, path)
            else:
                writer.submit(path, _read_member(budget, member, entry, archive), entry)
        budget.allow(None)
        extra = tar.next()
        if extra is not None:
            raise ArchiveError(archive, f"member {extra.name!r} is not listed in its receipt")


def _read_member(budget: _Budget, member: tarfile.TarInfo, entry: Entry, archive: str) -> bytes:
    """The member's data, read straight from the stream (``tarfile`` left it at its start)."""
    budget.seek(member.offset_data)
    data = budget.read(entry.size)
    if len(data) != entry.size:
        raise ArchiveError(archive, f"it is truncated (in {entry.path!r})")
    return data


def _write_file(path: str, data: bytes, entry: Entry, archive: str) -> None:
    """Check ``data`` against the receipt, then write it as a new file (never through a link)."""
    actual = hashlib.sha256(data).hexdigest()
    if actual != entry.sha256:
        raise ArchiveError(
            archive, f"sha256 mismatch for {entry.path!r}: expected {entry.sha256}, got {actual}"
        )
    fd = os.open(path, _OPEN_FLAGS, 0o755 if entry.executable else 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _write_batch(batch: list[tuple[str, bytes, Entry]], archive: str) -> None:
    for path, data, entry in batch:
        _write_file(path, data, entry, archive)


class _Writer:
    """Hashes and writes files on threads, at most ``MAX_PENDING`` bytes in flight.

    Creating files dominates extraction on disk (an ``open`` costs far more than writing a
    small file), and ``open``, ``write`` and sha256 release the GIL, so threads overlap them
    while this thread decompresses and parses. Small files go in batches (one task per
    ``BATCH_BYTES`` or ``BATCH_FILES``) to keep the hand-offs few. Folders are made in order
    by the caller, so a file's folder always exists when it is written. The first failure is
    raised, by ``submit`` or on leaving the ``with`` block, after the other writes stopped.
    """

    def __init__(self, archive: str) -> None:
        self.archive = archive
        self.pool = ThreadPoolExecutor(max_workers=WRITE_THREADS)
        self.pending: deque[tuple[Future[None], int]] = deque()
        self.pending_bytes = 0
        self.batch: list[tuple[str, bytes, Entry]] = []
        self.batch_bytes = 0

    def submit(self, path: str, data: bytes, entry: Entry) -> None:
        self.batch.append((path, data, entry))
        self.batch_bytes += len(data)
        if self.batch_bytes >= BATCH_BYTES or len(self.batch) >= BATCH_FILES:
            self.flush()

    def flush(self) -> None:
        if not self.batch:
            return
        size = self.batch_bytes
        while self.pending and (
            self.pending_bytes + size > MAX_PENDING or self.pending[0][0].done()
        ):
            future, done_size = self.pending.popleft()
            self.pending_bytes -= done_size
            future.result()
        future = self.pool.submit(_write_batch, self.batch, self.archive)
        self.pending.append((future, size))
        self.pending_bytes += size
        self.batch = []
        self.batch_bytes = 0

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        try:
            if kind is None:
                self.flush()
                while self.pending:
                    self.pending.popleft()[0].result()
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)
