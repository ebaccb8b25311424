"""What a remote store keeps beside an archive: a pointer from an environment to the sha256
and size of its archive, and the download that checks them as the archive is read.

A pointer has two spellings:

- JSON (``to_json``), in object stores (``toolcache.store.object``): readable with any
  bucket browser;
- a Bazel ``ActionResult`` protobuf (``to_action_result``), in HTTP caches
  (``toolcache.store.http``), so that bazel-remote and other Bazel caches that check their
  ``/ac/`` entries accept it with no special flag. It has one output file: its path names the
  environment (``toolcache-archive/1/<interpreter-hash>/<resolution-hash>.tar.zst``) and its
  digest is the archive's, so such a cache also drops the entry when it evicts the archive.
  The message is encoded and read here by hand (four fields of two messages); fields a
  server adds (bazel-remote adds ``execution_metadata``) are skipped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from toolcache.archive.contents import is_sha256
from toolcache.errors import HashMismatch
from toolcache.store import KEY_FORMAT, ArchiveKey, StoreError

POINTER_FORMAT = 1
MAX_POINTER_SIZE = 64 << 10

# Field numbers of build.bazel.remote.execution.v2 (remote_execution.proto).
_ACTION_RESULT_OUTPUT_FILES = 2
_OUTPUT_FILE_PATH = 1
_OUTPUT_FILE_DIGEST = 2
_DIGEST_HASH = 1
_DIGEST_SIZE = 2
_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5


def output_path(key: ArchiveKey) -> str:
    """The path of the archive in a pointer's ``ActionResult``: names the environment."""
    return f"{KEY_FORMAT}/{key.interpreter_hash}/{key.resolution_hash}.tar.zst"


@dataclass(frozen=True)
class Pointer:
    sha256: str
    size: int
    name: str

    def to_json(self, key: ArchiveKey) -> bytes:
        document = {
            "format": POINTER_FORMAT,
            "sha256": self.sha256,
            "size": self.size,
            "name": self.name,
            "interpreter-hash": key.interpreter_hash,
            "resolution-hash": key.resolution_hash,
        }
        return json.dumps(document, sort_keys=True).encode()

    @classmethod
    def parse_json(cls, data: bytes) -> tuple[ArchiveKey, Pointer] | None:
        """The environment and the pointer, or None when ``data`` is not a pointer."""
        try:
            document: Any = json.loads(data)
            sha = document["sha256"]
            size = document["size"]
            interpreter = document["interpreter-hash"]
            resolution = document["resolution-hash"]
            valid = (
                document["format"] == POINTER_FORMAT
                and isinstance(interpreter, str)
                and isinstance(resolution, str)
                and is_sha256(sha)
                and isinstance(size, int)
                and size > 0
            )
        except (ValueError, TypeError, KeyError):
            return None
        if not valid:
            return None
        key = ArchiveKey(interpreter, resolution)
        return key, cls(sha, size, str(document.get("name", "")))

    @classmethod
    def from_json(cls, data: bytes, key: ArchiveKey) -> Pointer | None:
        """The pointer, or None when it is malformed or for another environment."""
        parsed = cls.parse_json(data)
        return parsed[1] if parsed is not None and parsed[0] == key else None

    def to_action_result(self, key: ArchiveKey) -> bytes:
        digest = _field(_DIGEST_HASH, self.sha256.encode()) + _tag(_DIGEST_SIZE, _VARINT)
        digest += _varint(self.size)
        output = _field(_OUTPUT_FILE_PATH, output_path(key).encode())
        output += _field(_OUTPUT_FILE_DIGEST, digest)
        return _field(_ACTION_RESULT_OUTPUT_FILES, output)

    @classmethod
    def from_action_result(cls, data: bytes, key: ArchiveKey) -> Pointer | None:
        """The pointer, or None when ``data`` is not an ``ActionResult`` whose one output
        file is ``key``'s archive."""
        try:
            outputs = [v for n, v in _fields(data) if n == _ACTION_RESULT_OUTPUT_FILES]
            if len(outputs) != 1 or not isinstance(outputs[0], bytes):
                return None
            output = dict(_fields(outputs[0]))
            path, digest = output.get(_OUTPUT_FILE_PATH), output.get(_OUTPUT_FILE_DIGEST)
            if not isinstance(path, bytes) or not isinstance(digest, bytes):
                return None
            fields = dict(_fields(digest))
        except ValueError:
            return None
        sha, size = fields.get(_DIGEST_HASH), fields.get(_DIGEST_SIZE)
        if path.decode(errors="replace") != output_path(key) or not isinstance(sha, bytes):
            return None
        text = sha.decode(errors="replace")
        if not is_sha256(text) or not isinstance(size, int) or size <= 0:
            return None
        return cls(text, size, key.name)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _tag(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _field(number: int, value: bytes) -> bytes:
    return _tag(number, _LEN) + _varint(len(value)) + value


def _read_varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at, shift = at + 1, shift + 7
        if not byte & 0x80:
            return value, at


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) of each field of a protobuf message: an int for a varint, the
    bytes of anything else. ``ValueError`` when the message is malformed."""
    at = 0
    while at < len(data):
        tag, at = _read_varint(data, at)
        number, wire = tag >> 3, tag & 7
        if wire == _VARINT:
            value, at = _read_varint(data, at)
            yield number, value
            continue
        if wire == _LEN:
            length, at = _read_varint(data, at)
        elif wire in (_I64, _I32):
            length = 8 if wire == _I64 else 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        if at + length > len(data):
            raise ValueError("truncated field")
        yield number, data[at : at + length]
        at += length


class CheckedDownload:
    """An archive's bytes from ``chunks``, hashed and counted as they are read; ``verify``
    reads what is left and raises unless they are the pointer's sha256 and size.

    ``chunks`` raises ``StoreError`` for what the transport does wrong."""

    def __init__(self, chunks: Iterator[bytes], pointer: Pointer, where: str) -> None:
        self._chunks = chunks
        self._buffer = b""
        self._at = 0  # in the buffer: a chunk is sliced, never copied whole at each read
        self._pointer = pointer
        self._digest = hashlib.sha256()
        self._count = 0
        self._where = where

    @property
    def stream(self) -> CheckedDownload:
        return self

    @property
    def where(self) -> str:
        return self._where

    def read(self, size: int = -1, /) -> bytes:
        if self._at >= len(self._buffer):
            self._buffer, self._at = next(self._chunks, b""), 0
            self._count += len(self._buffer)
            self._digest.update(self._buffer)
            if self._count > self._pointer.size:
                raise StoreError(self._where, f"it is larger than {self._pointer.size} bytes")
        if self._at == 0 and (size < 0 or size >= len(self._buffer)):
            data = self._buffer  # the whole chunk, not copied
        else:
            end = len(self._buffer) if size < 0 else self._at + size
            data = self._buffer[self._at : end]
        self._at += len(data)
        return data

    def verify(self) -> None:
        self._buffer, self._at = b"", 0
        while self.read(1 << 20):
            pass
        actual = self._digest.hexdigest()
        if self._count != self._pointer.size or actual != self._pointer.sha256:
            raise HashMismatch(self._where, self._pointer.sha256, actual)
