"""Check and extract an archive into an empty folder; refuse anything unsafe or inconsistent.

The archive is read once, as a stream: zstandard decompresses it in large chunks, and a small
tar reader of our own (``_TarReader``) parses each 512-byte header where it lies in a chunk
and hands out a member's data as slices of the chunk, not copied (``tarfile``'s parsing and a
file object's copies would cost as much as decompressing). It reads only what ``pack``
writes: POSIX ustar headers (checksum, ``prefix``) and PAX extended
headers for long names and link targets (records ``path``, ``linkpath`` and ``size``;
others, such as ``mtime``, are ignored). Everything else is refused: another header format,
GNU long names, PAX global headers, sparse files, a bad checksum, a stream that ends early or
holds anything but zeros after its end.

Before anything but the receipt is read, the receipt is checked as a whole
(``Contents.from_bytes``) and against what the caller expects (interpreter, resolution,
packages). Then each member must be exactly the next listed entry: same path, type, size,
symlink target (hardlinks, devices and FIFOs are refused). Files are hashed and written, with
``O_EXCL | O_NOFOLLOW`` and the mode the receipt gives them, on a few threads (creating files
is what extraction spends its time on): a small file is hashed before it is written, a large
one piece by piece as it is decompressed, refused at its end. A byte budget bounds what is
decompressed: the receipt's size limit first, then per member the size the receipt declares
for it, so neither a bomb nor an oversized header gets far. The stream is read to its end, so
that zstd checks its frame checksum. Decompression stays on the calling thread: reading ahead
on another thread measured no faster, the writer threads keeping the other cores busy.

On any refusal an ``ArchiveError`` is raised; the caller removes the folder (nothing is ever
written outside it).
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from queue import Queue
from typing import IO, BinaryIO, Protocol, cast
from zlib import adler32

from toolcache.archive.contents import (
    MAX_RECEIPT_SIZE,
    MEMBER_NAME,
    ArchiveError,
    Contents,
    Entry,
    check_path,
)

#: Decompressed bytes pulled from zstd at a time: large, so that most members lie whole in
#: one chunk and few headers straddle two.
_CHUNK = 2 << 20
#: Files this large are streamed to a writer thread, hashed and written while they are
#: decompressed, in pieces of ``_CHUNK`` bytes, at most ``_STREAM_PIECES`` of them waiting
#: (``_STREAM_BYTES`` in flight, with the one written and the one read).
_STREAMED_SIZE = _CHUNK
_STREAM_PIECES = 4
_STREAM_BYTES = (_STREAM_PIECES + 2) * _CHUNK
#: Compressed bytes zstd reads from the source at a time.
_READ_SIZE = 1 << 20
#: Threads writing files (2 to 4: more contend for the GIL with the parsing thread), and the
#: bytes read ahead of them at most.
WRITE_THREADS = max(2, min(4, os.cpu_count() or 1))
MAX_PENDING = 64 << 20
BATCH_BYTES = 256 << 10
BATCH_FILES = 16
_BLOCK = 512
#: Header bytes allowed per member beyond its path: the ustar header and a PAX header block.
_HEADER_ALLOWANCE = 4 * _BLOCK
#: A PAX header holds a path and a link target at most (``MAX_PATH`` characters each).
_MAX_PAX = 64 << 10
_MAGIC = b"ustar\x0000"  # POSIX ustar, version 00: what ``TarInfo.tobuf`` writes
_OPEN_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)

# Type flags: the byte at offset 156 of a header.
_FILE_TYPES = frozenset(b"0\0")  # a regular file ("\0" in old archives)
_HARDLINK = ord("1")
_SYMLINK = ord("2")
_DEVICE_TYPES = frozenset(b"346")  # character device, block device, FIFO
_DIRECTORY = ord("5")
_GNU_SPARSE = ord("S")
_PAX = ord("x")
#: Headers other tar writers use for what ``pack`` writes as PAX headers.
_FOREIGN_HEADERS = {
    ord("g"): "a PAX global header",
    ord("L"): "a GNU long name header",
    ord("K"): "a GNU long link name header",
}

#: A piece of a member's data: a slice of a decompressed chunk, or a read of its own.
Data = bytes | memoryview


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


@dataclass(slots=True)
class _Member:
    """A member's header, its PAX header applied: what is compared with the receipt."""

    name: str  # a directory's without its trailing "/"
    kind: int  # the type flag
    size: int
    linkname: str
    sparse: bool


class _TarReader:
    """The decompressed stream as tar members: headers parsed in place, data as slices.

    Chunks of ``_CHUNK`` bytes are pulled from zstd; ``count`` is how many bytes so far, and
    the stream may not pass ``limit`` (``allow`` moves it on, member by member). A header
    that straddles two chunks is joined; a member's data that does is given in pieces.
    """

    def __init__(self, stream: Readable, archive: str, size_limit: int) -> None:
        self.stream = stream
        self.archive = archive
        self.size_limit = size_limit
        self.count = 0
        self.limit = MAX_RECEIPT_SIZE + 2 * _CHUNK
        self._chunk = b""
        self._view = memoryview(self._chunk)
        self._pos = 0  # of the next byte in _chunk

    @property
    def offset(self) -> int:
        """Where the next byte is in the stream (for messages)."""
        return self.count - len(self._chunk) + self._pos

    def allow(self, entry: Entry | None) -> None:
        """Let the next member (``entry``, or the end of the archive) through."""
        extra = 4 * _BLOCK
        if entry is not None:
            names = len(entry.path.encode()) + len(entry.target.encode())
            extra = _HEADER_ALLOWANCE + 2 * names + entry.size
        self.limit = self.count + extra + 2 * _CHUNK

    def next_member(self) -> _Member | None:
        """The next member, or None at the end of the archive (read to the end of the stream)."""
        offset = self.offset
        member = self._header(offset)
        if member is None:
            self._finish(offset)
            return None
        if member.kind == _PAX:
            member = self._extended(member.size, offset)
        if member.kind == _DIRECTORY:
            member.name = member.name.rstrip("/")
        return member

    def data(self, size: int, what: str) -> list[Data]:
        """A member's data, as the slices of chunks that hold it (``what`` names it in messages)."""
        start = self._pos
        end = start + size
        padded = end + (-size % _BLOCK)
        if padded <= len(self._chunk):  # the common case: the member lies in this chunk
            self._pos = padded
            return [self._view[start:end]]
        return list(self.pieces(size, what))

    def pieces(self, size: int, what: str) -> Iterator[Data]:
        """A member's data piece by piece: what this chunk holds of it, then reads of at most
        ``_CHUNK`` bytes that hold nothing else (each freed once written), then the start of a
        new chunk."""
        padding = -size % _BLOCK
        while size:
            if self._pos == len(self._chunk):
                if size >= _CHUNK:
                    piece = self._read(_CHUNK, what)
                    size -= len(piece)
                    yield piece
                    continue
                if not self._pull():
                    raise ArchiveError(self.archive, f"it is truncated (in {what})")
            step = min(size, len(self._chunk) - self._pos)
            yield self._view[self._pos : self._pos + step]
            self._pos += step
            size -= step
        self._skip(padding, what)

    def _header(self, offset: int) -> _Member | None:
        """The header at ``offset``, or None for a zero block."""
        start = self._pos
        if start + _BLOCK <= len(self._chunk):
            self._pos = start + _BLOCK
            block = self._chunk
        else:
            block = b"".join(self.pieces(_BLOCK, f"the header at byte {offset}"))
            start = 0
        total = _byte_sum(block, start)
        if total == 0:
            return None
        stored = _number(block, start + 148, 8)
        if stored != total - sum(block[start + 148 : start + 156]) + 8 * ord(" "):
            raise self._corrupt("a bad header checksum", offset)
        kind = block[start + 156]
        if kind in _FOREIGN_HEADERS:
            raise ArchiveError(
                self.archive,
                f"it holds {_FOREIGN_HEADERS[kind]} (at byte {offset}), which toolcache "
                "archives never do: refused",
            )
        if block[start + 257 : start + 265] != _MAGIC:
            raise self._corrupt("a header not in the POSIX ustar format", offset)
        size = _number(block, start + 124, 12)
        if size is None:
            raise self._corrupt("a bad size in a header", offset)
        name = _text(block, start, 100)
        if block[start + 345]:
            name = _text(block, start + 345, 155) + "/" + name
        linkname = _text(block, start + 157, 100) if block[start + 157] else ""
        return _Member(name, kind, size, linkname, kind == _GNU_SPARSE)

    def _extended(self, size: int, offset: int) -> _Member:
        """The member after a PAX header of ``size`` bytes at ``offset``, its records applied."""
        if size > _MAX_PAX:
            raise self._corrupt(f"a PAX header of {size} bytes", offset)
        records = _pax_records(b"".join(self.data(size, f"the PAX header at byte {offset}")))
        member = self._header(self.offset)
        if records is None or member is None or member.kind == _PAX:
            raise self._corrupt("a malformed PAX header", offset)
        for key, value in records.items():
            if key == b"path":
                member.name = value.decode("utf-8", "surrogateescape")
            elif key == b"linkpath":
                member.linkname = value.decode("utf-8", "surrogateescape")
            elif key == b"size":
                if not value.isdigit():
                    raise self._corrupt("a bad size in a PAX header", offset)
                member.size = int(value)
            elif key.startswith(b"GNU.sparse."):
                member.sparse = True
        return member

    def _finish(self, offset: int) -> None:
        """After a zero block: a second one, then only zeros to the end of the stream (read to
        its end, so that zstd checks its frame checksum)."""
        if self._header(self.offset) is not None:
            raise self._corrupt("a lone zero block", offset)
        while True:
            if self._chunk.count(0, self._pos) != len(self._chunk) - self._pos:
                raise self._corrupt("data after its end", self.offset)
            self._pos = len(self._chunk)
            if not self._pull():
                return

    def _skip(self, size: int, what: str) -> None:
        while size:
            if self._pos == len(self._chunk) and not self._pull():
                raise ArchiveError(self.archive, f"it is truncated (in {what})")
            step = min(size, len(self._chunk) - self._pos)
            self._pos += step
            size -= step

    def _pull(self) -> bool:
        """Replace the used-up chunk with the next one; False at the end of the stream."""
        chunk = self.stream.read(_CHUNK)
        self._count(len(chunk))
        self._chunk = chunk
        self._view = memoryview(chunk)
        self._pos = 0
        return bool(chunk)

    def _read(self, size: int, what: str) -> bytes:
        """The next ``size`` bytes or fewer (but some) from zstd, in place of the used-up chunk."""
        self._chunk = b""
        self._view = memoryview(self._chunk)
        self._pos = 0
        data = self.stream.read(size)
        if not data:
            raise ArchiveError(self.archive, f"it is truncated (in {what})")
        self._count(len(data))
        return data

    def _count(self, size: int) -> None:
        self.count += size
        if self.count > self.limit:
            raise ArchiveError(
                self.archive,
                "it expands past what its receipt declares or past the size limit "
                f"({self.size_limit} bytes): refused",
            )

    def _corrupt(self, what: str, offset: int) -> ArchiveError:
        return ArchiveError(
            self.archive, f"it is corrupt or not a tar archive ({what} at byte {offset})"
        )


def _byte_sum(block: bytes, start: int) -> int:
    """The sum of the 512 bytes at ``start``, for the header checksum: Adler-32's low half is
    the sum of the bytes modulo 65521, exact for 256 bytes (at most 65,280), and is computed in
    C, many times faster than ``sum``."""
    low = adler32(block[start : start + 256], 0) & 0xFFFF
    return low + (adler32(block[start + 256 : start + _BLOCK], 0) & 0xFFFF)


def _number(block: bytes, start: int, length: int) -> int | None:
    """A header's number field: octal digits ended by NUL or space, or base-256 (a first byte
    0x80, as tar writes values too large for the digits); None when malformed or negative."""
    if block[start] == 0x80:
        return int.from_bytes(block[start + 1 : start + length], "big")
    end = block.find(0, start, start + length)
    digits = block[start : end if end >= 0 else start + length].strip()
    try:
        value = int(digits or b"0", 8)
    except ValueError:
        return None
    return value if value >= 0 else None


def _text(block: bytes, start: int, length: int) -> str:
    """A header's text field, ended by NUL or its length (names as ``tarfile`` decodes them)."""
    end = block.find(0, start, start + length)
    return block[start : end if end >= 0 else start + length].decode("utf-8", "surrogateescape")


def _pax_records(data: bytes) -> dict[bytes, bytes] | None:
    """The records of a PAX extended header (``"<length> <key>=<value>\\n"``, the length
    counting the whole record), or None when malformed."""
    records: dict[bytes, bytes] = {}
    start = 0
    while start < len(data):
        space = data.find(b" ", start)
        length = data[start:space]
        if space < 0 or not length.isdigit():
            return None
        end = start + int(length)
        if end > len(data) or end <= space + 1 or data[end - 1] != ord("\n"):
            return None
        key, equals, value = data[space + 1 : end - 1].partition(b"=")
        if not equals:
            return None
        records[key] = value
        start = end
    return records


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
        with decompressor.stream_reader(raw, read_size=_READ_SIZE, closefd=False) as stream:
            reader = _TarReader(stream, archive, size_limit)
            contents = _read_receipt(reader, archive, size_limit)
            expected.check(contents, archive)
            _extract(reader, contents, dest, archive)
    except zstandard.ZstdError as exc:
        raise ArchiveError(archive, f"it is not valid zstd data ({exc})") from None
    return contents


def _read_receipt(reader: _TarReader, archive: str, size_limit: int) -> Contents:
    first = reader.next_member()
    if first is None or first.name != MEMBER_NAME or first.kind not in _FILE_TYPES or first.sparse:
        found = "nothing" if first is None else repr(first.name)
        raise ArchiveError(archive, f"its first member is {found}, not the receipt {MEMBER_NAME}")
    if first.size > MAX_RECEIPT_SIZE:
        raise ArchiveError(archive, f"its receipt is {first.size} bytes, too large")
    data = b"".join(reader.data(first.size, "its receipt"))
    return Contents.from_bytes(data, archive=archive, size_limit=size_limit)


def _describe_member(member: _Member, *, checked: bool) -> str | None:
    """Why this member is unsafe whatever the receipt says, or None (``checked``: its path
    is known to be safe)."""
    if not checked:
        problem = check_path(member.name)
        if problem is not None:
            return problem
    if member.kind == _HARDLINK:
        return f"hardlink {member.name!r} -> {member.linkname!r} (hardlinks are not allowed)"
    if member.kind in _DEVICE_TYPES:
        return f"{member.name!r} is a device or FIFO"
    if member.sparse:
        return f"{member.name!r} is a sparse file"
    return None


def _matches(member: _Member, entry: Entry) -> bool:
    if member.name != entry.path:
        return False
    if entry.type == "dir":
        return member.kind == _DIRECTORY and member.size == 0
    if entry.type == "symlink":
        return member.kind == _SYMLINK and member.size == 0 and member.linkname == entry.target
    return member.kind in _FILE_TYPES and member.size == entry.size


def _extract(reader: _TarReader, contents: Contents, dest: Path, archive: str) -> None:
    prefix = os.path.join(os.fspath(dest), "")
    with _Writer(archive) as writer:
        for entry in contents.entries:
            if entry.type == "interpreter":
                continue  # made by relocation
            reader.allow(entry)
            member = reader.next_member()
            if member is None:
                raise ArchiveError(archive, f"it is truncated: {entry.path!r} is missing")
            # A member named as its entry has a path already checked with the receipt.
            problem = _describe_member(member, checked=member.name == entry.path)
            if problem is not None:
                raise ArchiveError(archive, f"unsafe member: {problem}")
            if not _matches(member, entry):
                raise ArchiveError(
                    archive,
                    f"member {member.name!r} is not what its receipt lists next "
                    f"({entry.path!r}, {entry.type})",
                )
            path = prefix + entry.path
            if entry.type == "dir":
                os.mkdir(path, 0o755)
            elif entry.type == "symlink":
                os.symlink(entry.target, path)
            elif entry.size >= _STREAMED_SIZE:
                writer.stream(path, reader.pieces(entry.size, repr(entry.path)), entry)
            else:
                writer.submit(path, reader.data(entry.size, repr(entry.path)), entry)
        reader.allow(None)
        extra = reader.next_member()
        if extra is not None:
            raise ArchiveError(archive, f"member {extra.name!r} is not listed in its receipt")


def _create(path: str, entry: Entry) -> int:
    """A new file for ``entry`` (never through a link), with the mode the receipt gives it."""
    return os.open(path, _OPEN_FLAGS, 0o755 if entry.executable else 0o644)


def _write_all(fd: int, data: Data) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _check_hash(actual: str, entry: Entry, archive: str) -> None:
    if actual != entry.sha256:
        raise ArchiveError(
            archive, f"sha256 mismatch for {entry.path!r}: expected {entry.sha256}, got {actual}"
        )


def _write_file(path: str, pieces: list[Data], entry: Entry, archive: str) -> None:
    """Check the file's data against the receipt, then write it."""
    digest = hashlib.sha256()
    for piece in pieces:
        digest.update(piece)
    _check_hash(digest.hexdigest(), entry, archive)
    fd = _create(path, entry)
    try:
        for piece in pieces:
            _write_all(fd, piece)
    finally:
        os.close(fd)


def _write_batch(batch: list[tuple[str, list[Data], Entry]], archive: str) -> None:
    for path, pieces, entry in batch:
        _write_file(path, pieces, entry, archive)


def _write_stream(path: str, pieces: Queue[Data | None], entry: Entry, archive: str) -> None:
    """Hash and write a large file piece by piece as ``pieces`` brings them (until None), and
    refuse it at the end if its hash does not match: the caller removes the folder then, so no
    unchecked data is kept. After a failure the queue is still emptied, so that the reader
    never waits on it."""
    piece: Data | None = b""
    try:
        fd = _create(path, entry)
        try:
            digest = hashlib.sha256()
            while (piece := pieces.get()) is not None:
                digest.update(piece)
                _write_all(fd, piece)
        finally:
            os.close(fd)
        _check_hash(digest.hexdigest(), entry, archive)
    finally:
        while piece is not None:
            piece = pieces.get()


class _Writer:
    """Hashes and writes files on threads, at most ``MAX_PENDING`` bytes in flight.

    Creating files dominates extraction on disk (an ``open`` costs far more than writing a
    small file), and ``open``, ``write`` and sha256 release the GIL, so threads overlap them
    while this thread decompresses and parses. Small files go in batches (one task per
    ``BATCH_BYTES`` or ``BATCH_FILES``) to keep the hand-offs few; each is hashed before it
    is written. Each counts a header block beyond its data, since its data may keep a whole
    decompressed chunk alive. A large file is streamed instead (``stream``): a thread hashes
    and writes each piece while the next is decompressed, so that no large file is left to
    write after the stream ends, and at most ``_STREAM_PIECES`` pieces wait for it. Folders
    are made in order by the caller, so a file's folder always exists when it is written.
    The first failure is raised, by ``submit``, ``stream`` or on leaving the ``with`` block,
    after the other writes stopped.
    """

    def __init__(self, archive: str) -> None:
        self.archive = archive
        self.pool = ThreadPoolExecutor(max_workers=WRITE_THREADS)
        self.pending: deque[tuple[Future[None], int]] = deque()
        self.pending_bytes = 0
        self.batch: list[tuple[str, list[Data], Entry]] = []
        self.batch_bytes = 0

    def submit(self, path: str, pieces: list[Data], entry: Entry) -> None:
        self.batch.append((path, pieces, entry))
        self.batch_bytes += entry.size + _BLOCK
        if self.batch_bytes >= BATCH_BYTES or len(self.batch) >= BATCH_FILES:
            self.flush()

    def stream(self, path: str, pieces: Iterable[Data], entry: Entry) -> None:
        self.flush()
        self._make_room(_STREAM_BYTES)
        queue: Queue[Data | None] = Queue(maxsize=_STREAM_PIECES)
        future = self.pool.submit(_write_stream, path, queue, entry, self.archive)
        self.pending.append((future, _STREAM_BYTES))
        self.pending_bytes += _STREAM_BYTES
        try:
            for piece in pieces:
                queue.put(piece)
        finally:
            queue.put(None)

    def flush(self) -> None:
        if not self.batch:
            return
        size = self.batch_bytes
        self._make_room(size)
        future = self.pool.submit(_write_batch, self.batch, self.archive)
        self.pending.append((future, size))
        self.pending_bytes += size
        self.batch = []
        self.batch_bytes = 0

    def _make_room(self, size: int) -> None:
        """Take the tasks done off the count of bytes in flight (raising their failures), and
        wait for as many more as needed to start one of ``size`` bytes under ``MAX_PENDING``."""
        while self.pending and (
            self.pending_bytes + size > MAX_PENDING or self.pending[0][0].done()
        ):
            future, done_size = self.pending.popleft()
            self.pending_bytes -= done_size
            future.result()

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
