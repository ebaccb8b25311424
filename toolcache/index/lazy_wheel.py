"""A remote wheel read through HTTP range requests, without downloading all of it.

A zip archive ends with its central directory, which lists every member and where its local
header starts. ``LazyWheel`` asks for the tail of the file once (``TAIL_BYTES``), which for
most wheels holds the end-of-central-directory record, the whole central directory and the
``.dist-info`` files that builders write last. ``zipfile`` then reads the archive through
``RangeFile``, a file object that serves the byte ranges fetched so far and fetches a missing
range when it is read. Before ``zipfile`` needs them, the central directory (when the tail did
not cover it) and a member's local header and data are fetched in one request each, so reading
a wheel's METADATA costs one request for most wheels and at most three.

Trust: bytes read this way cannot be checked against the wheel's sha256, which covers the whole
file. They are as trustworthy as a PEP 658 metadata file the index gives no hash for: fit for
resolving, never for installing (the environment builder downloads and verifies every wheel it
installs). The one exception is a tail that turns out to be the whole file (``whole``), which
the caller can verify like a download.

Anything that keeps the archive from being read this way raises ``LazyWheelUnavailable``; the
caller then downloads the whole wheel. Network failures (``IndexError_``) are not turned into
it: a full download would meet them too.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from typing import TYPE_CHECKING

from toolcache.index.client import ByteRange, IndexClient
from toolcache.index.urls import redact

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

# 64 KiB holds the central directory and the .dist-info files of a wheel of up to ~400
# members; mypy (1,577 members) needs ~200 KiB. On the PyPI mirror a 64 KiB range takes
# 2.6 ms and a 256 KiB one 3.4 ms, so a bigger first request would buy little.
TAIL_BYTES = 64 * 1024
# When the central directory must be fetched, this much before it at most comes along.
_MAX_READ_BEHIND = 1 << 20

_EOCD = struct.Struct("<4s4H2LH")
_EOCD_SIGNATURE = b"PK\x05\x06"
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")
_ZIP64_EOCD_SIGNATURE = b"PK\x06\x06"
# What zipfile raises on a malformed or unsupported archive.
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    struct.error,
    EOFError,
    OSError,
    ValueError,
    KeyError,
    NotImplementedError,
    RuntimeError,
)


class LazyWheelUnavailable(Exception):
    """The wheel cannot be read by ranges; ``reason`` says why. Download it instead."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = redact(url)
        self.reason = reason
        super().__init__(f"{self.url}: {reason}")


class RangeFile(io.RawIOBase):
    """A read-only, seekable remote file of known size built from fetched byte ranges.

    ``fetch`` makes sure a span is held (one request for whatever part of it is missing);
    ``readinto`` fetches the missing part of what it is asked for the same way. ``requests``
    counts the requests made, the first (the range given to the constructor) included.
    """

    def __init__(self, client: IndexClient, url: str, first: ByteRange) -> None:
        super().__init__()
        self.client = client
        self.url = url
        self.size = first.size
        self.requests = 1
        self._pos = 0
        self._spans: list[tuple[int, bytes]] = [(first.start, first.data)]

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self.size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if pos < 0:
            raise OSError(f"seek before the start of {self.url}")
        self._pos = pos
        return pos

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        start = min(self._pos, self.size)
        end = min(start + len(view), self.size)
        if end <= start:
            return 0
        data = self.fetch(start, end)
        view[: len(data)] = data
        self._pos = end
        return len(data)

    def fetch(self, start: int, end: int) -> bytes:
        """Bytes ``start`` to ``end`` (clipped to the size), fetching what is not held yet."""
        end = min(end, self.size)
        if end <= start:
            return b""
        missing = self._missing(start, end)
        if missing is not None:
            got = self.client.get_range(self.url, *missing)
            self.requests += 1
            if got is None or got.size != self.size or (got.start, got.end) != missing:
                raise LazyWheelUnavailable(self.url, f"no range {missing[0]}-{missing[1]}")
            self._spans.append((got.start, got.data))
            self._spans.sort(key=lambda span: span[0])
        return self._held(start, end)

    def _covering(self, pos: int) -> int:
        """The end of the held bytes that run on from ``pos`` (``pos`` when it is not held)."""
        reach = pos
        grown = True
        while grown:
            grown = False
            for span_start, data in self._spans:
                span_end = span_start + len(data)
                if span_start <= reach < span_end:
                    reach, grown = span_end, True
        return reach

    def _missing(self, start: int, end: int) -> tuple[int, int] | None:
        """The one span to fetch so that ``start``-``end`` is held; None when it is already.

        It runs from the first byte not held to the last (held bytes between are fetched
        again rather than spending a second request).
        """
        first = self._covering(start)
        if first >= end:
            return None
        last = end
        for span_start, data in sorted(self._spans, key=lambda span: -span[0]):
            if span_start < last <= span_start + len(data) and span_start > first:
                last = span_start
        return first, last

    def _held(self, start: int, end: int) -> bytes:
        out = bytearray()
        pos = start
        while pos < end:
            covering = [(s, d) for s, d in self._spans if s <= pos < s + len(d)]
            if not covering:
                raise LazyWheelUnavailable(self.url, f"bytes {start}-{end} are not held")
            span_start, data = max(covering, key=lambda span: span[0] + len(span[1]))
            stop = min(end, span_start + len(data))
            out += data[pos - span_start : stop - span_start]
            pos = stop
        return bytes(out)


def _central_directory(tail: ByteRange) -> tuple[int, int] | None:
    """(offset, size) of the central directory as the tail's EOCD (or ZIP64 EOCD) gives it;
    None when the tail does not say (``zipfile`` then finds it the slow way, or fails)."""
    data = tail.data
    at = data.rfind(_EOCD_SIGNATURE, max(0, len(data) - _EOCD.size - 0xFFFF))
    if at < 0 or at + _EOCD.size > len(data):
        return None
    *_, cd_size, cd_offset, _comment = _EOCD.unpack_from(data, at)
    if cd_size != 0xFFFFFFFF and cd_offset != 0xFFFFFFFF:
        return cd_offset, cd_size
    locator = at - _ZIP64_LOCATOR.size
    if locator < 0:
        return None
    signature, _, eocd64, _ = _ZIP64_LOCATOR.unpack_from(data, locator)
    at64 = eocd64 - tail.start
    if signature != _ZIP64_LOCATOR_SIGNATURE or not 0 <= at64 <= len(data) - _ZIP64_EOCD.size:
        return None
    fields = _ZIP64_EOCD.unpack_from(data, at64)
    if fields[0] != _ZIP64_EOCD_SIGNATURE:
        return None
    return fields[9], fields[8]


class LazyWheel:
    """The zip archive at ``url``, read by ranges. ``size`` is the size the index promised.

    Opening costs the tail request, plus one for the central directory when the tail does not
    hold it; that request also takes as many bytes again before the directory, where the
    ``.dist-info`` files of most wheels sit. ``whole`` is the file when the tail was all of it.
    """

    def __init__(
        self, client: IndexClient, url: str, *, size: int | None = None, tail: int = TAIL_BYTES
    ) -> None:
        self.url = url
        first = client.get_tail(url, tail)
        if first is None:
            raise LazyWheelUnavailable(url, "the server does not serve byte ranges")
        if size is not None and first.size != size:
            raise LazyWheelUnavailable(url, f"{first.size} bytes, the index said {size}")
        self.file = RangeFile(client, url, first)
        self.whole = first.data if first.start == 0 else None
        directory = _central_directory(first)
        if directory is not None:
            offset, length = directory
            # Only a directory that ends inside the tail, as it does when nothing is appended.
            if offset < first.start <= offset + length <= first.size:
                self.file.fetch(max(0, offset - min(length, _MAX_READ_BEHIND)), first.start)
        try:
            self.zip = zipfile.ZipFile(self.file)
            self._offsets = sorted({i.header_offset for i in self.zip.infolist()})
        except _ZIP_ERRORS as exc:
            raise LazyWheelUnavailable(url, f"not a readable zip ({exc})") from None

    @property
    def requests(self) -> int:
        return self.file.requests

    def namelist(self) -> list[str]:
        return self.zip.namelist()

    def read(self, name: str) -> bytes:
        """A member's content (inflated, CRC-checked), fetching its local header and data in
        one request unless they are held already."""
        try:
            info = self.zip.getinfo(name)
            later = [o for o in self._offsets if o > info.header_offset]
            stop = later[0] if later else self.zip.start_dir
            if stop <= info.header_offset:
                raise zipfile.BadZipFile(f"{name} lies past the central directory")
            self.file.fetch(info.header_offset, stop)
            return self.zip.read(info)
        except _ZIP_ERRORS as exc:
            raise LazyWheelUnavailable(self.url, f"cannot read {name} ({exc})") from None
