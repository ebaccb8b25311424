"""An HTTP cache in the layout of Bazel's HTTP remote cache: plain GET, HEAD and PUT.

- ``<base>/cas/<sha256>``: an archive, named by the sha256 of its bytes;
- ``<base>/ac/<key>``: a pointer from an environment (``ArchiveKey.digest``) to the archive's
  sha256 and size, spelled as a Bazel ``ActionResult`` whose one output file is the archive
  (see ``toolcache.store.pointer``).

nginx with WebDAV (``dav_methods PUT; create_full_put_path on;``), bazel-remote (no flags: it
checks that ``/ac/`` entries are ``ActionResult``\\ s, and these are) and similar servers
work unchanged. The archive is uploaded before its pointer, so a reader that finds a pointer
finds its archive (unless the server evicted it, which reads as a miss; bazel-remote then
drops the pointer too); an upload that fails part-way leaves no pointer, and the next export
uploads again. An archive already on the server (HEAD answers 200 with its size) is not
uploaded twice. The protocol has no conditional PUT: two exports of one environment at once
both write its pointer, and since an environment packs to the same bytes, to the same
archive. Downloads are checked against the pointer's sha256 and size as they are read. The
protocol cannot list what a server holds (``archives`` is not supported): such caches evict
by their own size limit. Credentials may be given in the URL (``https://user:token@host/``);
they are sent as basic auth and never shown.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from toolcache.index import disk, urls
from toolcache.store import ArchiveKey, Download, Store, StoredArchive, StoreError
from toolcache.store.pointer import MAX_POINTER_SIZE, CheckedDownload, Pointer

_CHUNK = 1 << 20


def _describe(exc: httpx.HTTPError) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _body(response: httpx.Response, where: str) -> Iterator[bytes]:
    try:
        yield from response.iter_bytes(_CHUNK)
    except httpx.HTTPError as exc:
        raise StoreError(where, f"download failed ({_describe(exc)})") from None


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
        self._lock = threading.Lock()

    @property
    def description(self) -> str:
        return self.base

    def _client(self) -> httpx.Client:
        with self._lock:  # restore opens archives on several threads: one client for all
            if self._http is None:
                self._http = self._new_client()
            return self._http

    def _new_client(self) -> httpx.Client:
        from toolcache.index.client import ssl_context

        return httpx.Client(
            verify=ssl_context(),
            trust_env=True,
            timeout=httpx.Timeout(self._timeout, connect=min(self._timeout, 10.0)),
            headers={"User-Agent": "toolcache"},
            auth=self._auth,
        )

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
        return Pointer.from_action_result(body, key)

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
                yield CheckedDownload(_body(response, url), found, url)
        except httpx.HTTPError as exc:
            raise StoreError(self.description, f"GET {url} failed ({_describe(exc)})") from None

    def archives(self) -> Iterator[StoredArchive]:
        raise StoreError(
            self.description,
            "an HTTP cache cannot be listed (the Bazel protocol has no listing);"
            " it evicts archives by its own size limit",
        )

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
        body = Pointer(sha256, size, key.name).to_action_result(key)
        response = self._request(
            "PUT", url, content=body, headers={"Content-Type": "application/octet-stream"}
        )
        if response.status_code not in (200, 201, 204):
            raise self._unexpected("PUT", url, response)
