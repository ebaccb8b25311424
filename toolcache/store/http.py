"""An HTTP cache in the layout of Bazel's HTTP remote cache: plain GET, HEAD and PUT.

- ``<base>/cas/<sha256>``: an archive, named by the sha256 of its bytes;
- ``<base>/ac/<key>``: a small JSON pointer from an environment (``ArchiveKey.digest``) to the
  archive's sha256 and size.

nginx with WebDAV (``dav_methods PUT; create_full_put_path on;``), bazel-remote (with
``--disable_http_ac_validation``: our ``/ac/`` entries are JSON, not ``ActionResult``\\ s) and
similar servers work unchanged. The archive is uploaded before its pointer, so a reader that
finds a pointer finds its archive (unless the server evicted it, which reads as a miss); an
upload that fails part-way leaves no pointer, and the next export uploads again. An archive
already on the server (HEAD answers 200 with its size) is not uploaded twice. Downloads are
checked against the pointer's sha256 and size as they are read. Credentials may be given in
the URL (``https://user:token@host/``); they are sent as basic auth and never shown.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from toolcache.errors import HashMismatch
from toolcache.index import disk, urls
from toolcache.store import ArchiveKey, Download, Store, StoreError

POINTER_FORMAT = 1
MAX_POINTER_SIZE = 64 << 10
_CHUNK = 1 << 20
_HEX = frozenset("0123456789abcdef")


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
    def from_json(cls, data: bytes, key: ArchiveKey) -> Pointer | None:
        """The pointer, or None when it is malformed or for another environment."""
        try:
            document: Any = json.loads(data)
            sha = document["sha256"]
            size = document["size"]
            valid = (
                document["format"] == POINTER_FORMAT
                and document["interpreter-hash"] == key.interpreter_hash
                and document["resolution-hash"] == key.resolution_hash
                and isinstance(sha, str)
                and len(sha) == 64
                and set(sha) <= _HEX
                and isinstance(size, int)
                and size > 0
            )
        except (ValueError, TypeError, KeyError):
            return None
        return cls(sha, size, str(document.get("name", ""))) if valid else None


def _describe(exc: httpx.HTTPError) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class _HttpDownload:
    """The body of ``/cas/<sha256>``, hashed and counted as it is read."""

    def __init__(self, response: httpx.Response, pointer: Pointer, where: str) -> None:
        self._chunks = response.iter_bytes(_CHUNK)
        self._buffer = b""
        self._pointer = pointer
        self._digest = hashlib.sha256()
        self._count = 0
        self._where = where

    @property
    def stream(self) -> _HttpDownload:
        return self

    @property
    def where(self) -> str:
        return self._where

    def read(self, size: int = -1, /) -> bytes:
        if not self._buffer:
            try:
                self._buffer = next(self._chunks, b"")
            except httpx.HTTPError as exc:
                raise StoreError(self._where, f"download failed ({_describe(exc)})") from None
            self._count += len(self._buffer)
            self._digest.update(self._buffer)
            if self._count > self._pointer.size:
                raise StoreError(self._where, f"it is larger than {self._pointer.size} bytes")
        if size < 0 or size >= len(self._buffer):
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def verify(self) -> None:
        self._buffer = b""
        while self.read(_CHUNK):
            pass
        actual = self._digest.hexdigest()
        if self._count != self._pointer.size or actual != self._pointer.sha256:
            raise HashMismatch(self._where, self._pointer.sha256, actual)


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            yield chunk


class HttpStore(Store):
    def __init__(self, url: str, *, read_only: bool = False, timeout: float = 60.0) -> None:
        clean, credentials = urls.split_credentials(url)
        self.base = clean.rstrip("/")
        self.read_only = read_only
        self._auth = httpx.BasicAuth(*credentials) if credentials else None
        self._timeout = timeout
        self._http: httpx.Client | None = None

    @property
    def description(self) -> str:
        return self.base

    def _client(self) -> httpx.Client:
        if self._http is None:
            from toolcache.index.client import ssl_context

            self._http = httpx.Client(
                verify=ssl_context(),
                trust_env=True,
                timeout=httpx.Timeout(self._timeout, connect=min(self._timeout, 10.0)),
                headers={"User-Agent": "toolcache"},
                auth=self._auth,
            )
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def _url(self, kind: str, name: str) -> str:
        return f"{self.base}/{kind}/{name}"

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._client().request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise StoreError(
                self.description, f"{method} {url} failed ({_describe(exc)})"
            ) from None

    def _unexpected(self, method: str, url: str, response: httpx.Response) -> StoreError:
        return StoreError(
            self.description,
            f"{method} {url} answered {response.status_code} {response.reason_phrase}",
        )

    def pointer(self, key: ArchiveKey) -> Pointer | None:
        """The ``/ac/`` pointer of ``key``; None when absent or unusable."""
        url = self._url("ac", key.digest)
        body = b""
        try:
            with self._client().stream("GET", url) as response:
                if response.status_code == 404:
                    return None
                if response.status_code != 200:
                    raise self._unexpected("GET", url, response)
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_POINTER_SIZE:
                        return None
        except httpx.HTTPError as exc:
            raise StoreError(self.description, f"GET {url} failed ({_describe(exc)})") from None
        return Pointer.from_json(body, key)

    def _has_blob(self, sha256: str, size: int) -> bool:
        url = self._url("cas", sha256)
        response = self._request("HEAD", url)
        if response.status_code == 404:
            return False
        if response.status_code != 200:
            raise self._unexpected("HEAD", url, response)
        length = response.headers.get("Content-Length")
        return length is None or length == str(size)

    def contains(self, key: ArchiveKey) -> bool:
        found = self.pointer(key)
        return found is not None and self._has_blob(found.sha256, found.size)

    @contextlib.contextmanager
    def open(self, key: ArchiveKey) -> Iterator[Download | None]:
        found = self.pointer(key)
        if found is None:
            yield None
            return
        url = self._url("cas", found.sha256)
        try:
            with self._client().stream("GET", url) as response:
                if response.status_code == 404:
                    yield None
                    return
                if response.status_code != 200:
                    raise self._unexpected("GET", url, response)
                yield _HttpDownload(response, found, url)
        except httpx.HTTPError as exc:
            raise StoreError(self.description, f"GET {url} failed ({_describe(exc)})") from None

    def put(self, key: ArchiveKey, archive: Path) -> None:
        if self.read_only:
            raise StoreError(self.description, "it is read-only")
        sha256, size = disk.sha256_file(archive), archive.stat().st_size
        if not self._has_blob(sha256, size):
            url = self._url("cas", sha256)
            response = self._request(
                "PUT",
                url,
                content=_file_chunks(archive),
                headers={"Content-Length": str(size), "Content-Type": "application/zstd"},
            )
            if response.status_code not in (200, 201, 204):
                raise self._unexpected("PUT", url, response)
        url = self._url("ac", key.digest)
        body = Pointer(sha256, size, key.name).to_json(key)
        response = self._request(
            "PUT", url, content=body, headers={"Content-Type": "application/json"}
        )
        if response.status_code not in (200, 201, 204):
            raise self._unexpected("PUT", url, response)
