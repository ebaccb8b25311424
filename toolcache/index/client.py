"""HTTP for the index side: one pooled client, credentials by origin, retries, a disk cache.

``IndexClient`` is safe to use from many threads at once. Project pages are cached with
ordinary HTTP semantics (``max-age``, then a conditional request); metadata files and
distribution files are content-addressed by sha256 and never revalidated.

Byte ranges (``get_range``, ``get_tail``) go through the same credentials, retries and offline
rule as every other request; they are never cached here, since what they are used for is.

Every attempt at a request has a deadline for its complete answer, body included (see
``IndexClient``): httpx's own timeouts bound one read each, so a server that trickles a byte at
a time would otherwise hold a request forever.

Credentials never leave this module in a URL: they are split off every URL on the way in,
remembered per origin (scheme, host, port) and sent as a header; ``~/.netrc`` (or ``$NETRC``)
is consulted for an origin without URL credentials. Everything stored on disk or put in an
error uses URLs without userinfo.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import netrc
import os
import re
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from toolcache import atomic, paths
from toolcache.errors import HashMismatch, IndexError_
from toolcache.index import disk, urls

T = TypeVar("T")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
DEFAULT_RETRIES = 3
DEFAULT_BACKOFF = 0.2

TIMEOUT_ENV = "TOOLCACHE_HTTP_TIMEOUT"
DOWNLOAD_TIMEOUT_ENV = "TOOLCACHE_DOWNLOAD_TIMEOUT"
DEFAULT_TIMEOUT = 60.0
"""Seconds for the complete answer to one request: a page, a metadata file, a byte range."""
DEFAULT_DOWNLOAD_TIMEOUT = 600.0
"""Seconds for a download whose size the server does not give."""
SLOWEST_DOWNLOAD = 100_000
"""Bytes per second: a download of known size may take as long as this rate needs."""
CONNECT_TIMEOUT = 10.0
"""Seconds for the TCP connect, and again for the TLS handshake, within the deadline."""

_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+)\s*$", re.IGNORECASE)


class IndexUnreachable(IndexError_):
    """A URL could not be fetched after every retry."""

    def __init__(self, url: str, reason: str, attempts: int) -> None:
        self.url = urls.redact(url)
        self.reason = reason
        self.attempts = attempts
        noun = "attempt" if attempts == 1 else "attempts"
        super().__init__(f"could not reach {self.url}: {reason} (after {attempts} {noun})")


class IndexHTTPError(IndexError_):
    """The index answered with an error status that retrying does not fix."""

    def __init__(self, url: str, status: int, reason: str = "") -> None:
        self.url = urls.redact(url)
        self.status = status
        if status in (401, 403):
            message = (
                f"{self.url} needs credentials ({status}); put them in the index URL or ~/.netrc"
            )
        else:
            message = f"{self.url} answered HTTP {status}{' ' + reason if reason else ''}"
        super().__init__(message)


class IndexTimeout(IndexUnreachable):
    """An attempt had no complete answer within its deadline of ``seconds``, which the
    environment variable ``setting`` changes. Not retried (see ``IndexClient``)."""

    def __init__(self, url: str, seconds: float, setting: str, attempts: int) -> None:
        self.seconds = seconds
        self.setting = setting
        shown = f"{seconds:g}" if seconds < 10 else f"{seconds:.0f}"
        super().__init__(url, f"no complete answer within {shown} s ({setting})", attempts)


class InvalidIndexURL(IndexError_):
    """A URL that cannot be fetched at all (malformed, or not ``http``/``https``); not
    retried."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = urls.redact(url)
        self.reason = reason
        super().__init__(f"invalid URL {self.url}: {reason}")


class OfflineError(IndexError_):
    """Network access was needed but offline mode forbids it."""

    def __init__(self, url: str) -> None:
        self.url = urls.redact(url)
        super().__init__(f"network access needed for {self.url} but --offline was given")


@dataclass(frozen=True)
class Page:
    """A fetched (or cached) page. ``url`` is the final URL after redirects, without userinfo."""

    url: str
    content_type: str
    body: bytes
    from_cache: bool


def ssl_context() -> ssl.SSLContext:
    """``SSL_CERT_FILE``/``SSL_CERT_DIR`` when set, else the system trust store (truststore)."""
    cafile = os.environ.get("SSL_CERT_FILE") or None
    capath = os.environ.get("SSL_CERT_DIR") or None
    if cafile or capath:
        return ssl.create_default_context(cafile=cafile, capath=capath)
    import truststore

    context: ssl.SSLContext = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    return context


def retries_from_env() -> int:
    value = os.environ.get("TOOLCACHE_HTTP_RETRIES", "")
    try:
        return max(0, int(value))
    except ValueError:
        return DEFAULT_RETRIES


def _seconds_from_env(name: str) -> float | None:
    """A positive, finite number of seconds from ``$name``; None when unset or not one (as
    ``retries_from_env`` ignores a value it cannot read)."""
    try:
        seconds = float(os.environ.get(name, ""))
    except ValueError:
        return None
    return seconds if 0 < seconds < math.inf else None


def timeout_from_env() -> float:
    """``TOOLCACHE_HTTP_TIMEOUT``: seconds for one request's complete answer (default 60)."""
    return _seconds_from_env(TIMEOUT_ENV) or DEFAULT_TIMEOUT


def download_timeout_from_env() -> float | None:
    """``TOOLCACHE_DOWNLOAD_TIMEOUT``: seconds for one download; None scales with its size."""
    return _seconds_from_env(DOWNLOAD_TIMEOUT_ENV)


def _check_fetchable(url: str) -> None:
    """Raise ``InvalidIndexURL`` unless ``url`` is an ``http``/``https`` URL with a host."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError as exc:
        raise InvalidIndexURL(url, str(exc)) from None
    scheme = parts.scheme.lower()
    if not scheme:
        raise InvalidIndexURL(url, "not an http:// or https:// URL")
    if scheme not in ("http", "https"):
        raise InvalidIndexURL(url, f"{scheme}: is not supported (use http:// or https://)")
    if not parts.hostname:
        raise InvalidIndexURL(url, "no host")


def _certificate_problem(exc: BaseException) -> str | None:
    """Why the server's TLS certificate was refused, when that is what ``exc`` comes from."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return str(cause.verify_message or cause.reason or "certificate verify failed")
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def _describe(exc: httpx.TransportError) -> str:
    text = str(exc).strip()
    kinds: dict[type[httpx.TransportError], str] = {
        httpx.ConnectTimeout: "connection timed out",
        httpx.ReadTimeout: "read timed out",
        httpx.WriteTimeout: "write timed out",
        httpx.PoolTimeout: "timed out waiting for a connection",
    }
    kind = kinds.get(type(exc))
    if kind:
        return kind
    return text.splitlines()[-1] if text else type(exc).__name__


@dataclass(frozen=True)
class ByteRange:
    """Bytes ``start`` to ``end`` (exclusive) of a remote file that is ``size`` bytes long."""

    start: int
    data: bytes
    size: int

    @property
    def end(self) -> int:
        return self.start + len(self.data)


def _parse_content_range(value: str) -> tuple[int, int, int] | None:
    """``bytes a-b/size`` as ``(a, b + 1, size)``; None for anything else (``*`` sizes too)."""
    match = _CONTENT_RANGE.match(value)
    if match is None:
        return None
    first, last, size = (int(g) for g in match.groups())
    if first > last or last >= size:
        return None
    return first, last + 1, size


def verify_bytes(what: str, data: bytes, sha256: str | None) -> None:
    """Raise ``HashMismatch`` (naming ``what``) unless ``data`` has ``sha256``; None passes."""
    if sha256 is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise HashMismatch(what, sha256, actual)


# -- deadlines -------------------------------------------------------------------------------

_DEADLINE_TIMEOUTS = (httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout)

_ATTEMPT = "toolcache.attempt"
"""The request extension that carries an ``_Attempt`` through httpx, redirects included."""


@dataclass(frozen=True)
class _Limit:
    """A deadline in seconds from the start of an attempt, and the variable that sets it."""

    seconds: float
    setting: str


class _DeadlinePassed(Exception):
    """Raised inside httpx when an attempt's deadline has passed; ``_fetch`` reports it."""


class _Attempt:
    """One try at one URL and the deadline for its complete answer.

    httpx times each step (connecting, each read) on its own, so the attempt keeps the steps
    inside its deadline: a request starts with timeouts that end by it (connecting, which is
    timed once for TCP and once more for TLS, gets at most half the time left); the ``trace``
    extension cuts them to the time left as each later step begins (httpcore reads them then),
    so a head that never comes fails at the deadline; once a head is in (``guard``, a response
    hook, so redirects too), the body is checked between network reads and a ``_Watchdog``
    shuts the connection at the deadline, so a body that trickles or stalls cannot outlive it.
    Only a connection opened after waiting for a free one in the pool can overrun the deadline,
    by at most twice ``CONNECT_TIMEOUT``.

    ``limit`` bounds the attempt until a successful response head is in; ``on_head`` may then
    set the limit for the whole attempt from that head (a download's size).
    """

    def __init__(self, limit: _Limit, on_head: Callable[[httpx.Response], _Limit] | None) -> None:
        self.started = time.monotonic()
        self.limit = limit
        self._on_head = on_head

    def remaining(self) -> float:
        return self.started + self.limit.seconds - time.monotonic()

    def overdue(self) -> bool:
        return self.remaining() <= 0

    def exceeded(self, url: str, number: int) -> IndexTimeout:
        """The error for this attempt, number ``number`` at ``url``, passing its deadline."""
        return IndexTimeout(url, self.limit.seconds, self.limit.setting, number)

    def timeouts(self) -> dict[str, float]:
        """httpx/httpcore ``timeout`` extension values that end by the deadline."""
        left = max(self.remaining(), 0.001)  # 0 would make a socket non-blocking
        connect = min(CONNECT_TIMEOUT, left / 2)
        return {"connect": connect, "read": left, "write": left, "pool": left}

    def trace(self, event: str, info: Mapping[str, Any]) -> None:
        """httpcore's ``trace`` extension: before each step, cut its timeout to the time left."""
        extensions = getattr(info.get("request"), "extensions", None)
        if event.endswith(".started") and isinstance(extensions, dict):
            extensions["timeout"] = self.timeouts()

    def guard(self, response: httpx.Response) -> None:
        """Hold ``response``'s body to the deadline (a response hook, so redirects too)."""
        if self._on_head is not None and response.is_success:
            self.limit = self._on_head(response)
        if self.overdue():
            raise _DeadlinePassed
        stream = response.stream
        if isinstance(stream, httpx.SyncByteStream):
            response.stream = _GuardedStream(stream, self, _Watchdog(response, self.remaining()))


class _Watchdog:
    """Shuts a response's socket down after ``seconds`` unless stopped first, which wakes a read
    blocked on it; that read then fails and ``_fetch`` sees the deadline has passed.

    Stopped when the response is closed, which happens before its connection can go back to
    the pool, so it never touches a connection another request is using. Without a socket to
    shut (httpcore did not expose one), it does nothing and the deadline is still checked
    between reads.
    """

    def __init__(self, response: httpx.Response, seconds: float) -> None:
        stream = response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        self._socket = sock if isinstance(sock, socket.socket) else None
        self._lock = threading.Lock()
        self._stopped = False
        self._timer: threading.Timer | None = None
        if self._socket is not None:
            self._timer = threading.Timer(max(seconds, 0.0), self._fire)
            self._timer.daemon = True
            self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            if self._stopped or self._socket is None:
                return
            # The plain socket's shutdown: an SSLSocket's own would also drop its TLS state,
            # which the reading thread is still using.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(self._socket, socket.SHUT_RDWR)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
        if self._timer is not None:
            self._timer.cancel()


class _GuardedStream(httpx.SyncByteStream):
    """A response body that stops with ``_DeadlinePassed`` once the deadline has passed."""

    def __init__(self, inner: httpx.SyncByteStream, attempt: _Attempt, watchdog: _Watchdog) -> None:
        self._inner = inner
        self._attempt = attempt
        self._watchdog = watchdog

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            if self._attempt.overdue():
                raise _DeadlinePassed
            yield chunk

    def close(self) -> None:
        self._watchdog.stop()
        self._inner.close()


def _on_response(response: httpx.Response) -> None:
    attempt = response.request.extensions.get(_ATTEMPT)
    if isinstance(attempt, _Attempt):
        attempt.guard(response)


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length", "").strip()
    return int(value) if value.isdigit() else None


class IndexClient:
    """One pooled HTTP/1.1 client for every index, find-links page and file.

    ``offline`` forbids the network: anything not in the cache raises ``OfflineError``.
    ``refresh`` ignores page freshness and revalidates every page (``--upgrade``).

    Deadlines: every attempt at a request must have its complete answer, body included,
    within ``timeout`` seconds of starting (``TOOLCACHE_HTTP_TIMEOUT``, default 60) for a page,
    a metadata file or a byte range. A download gets ``download_timeout`` seconds
    (``TOOLCACHE_DOWNLOAD_TIMEOUT``) when that is set; else ``max(timeout, size / 100 kB/s)``
    when its response head gives the size, and 10 minutes when not; the head itself is due
    within ``timeout`` (or the shorter ``download_timeout``). Passing a deadline raises
    ``IndexTimeout``, which names the URL and the variable to raise, and is not retried: a
    server too slow for one deadline is seldom quick for the next, and retrying would multiply
    the wait the deadline is there to bound.

    Retries: connection failures (refused, reset, dropped, a connect timeout), 429 and 5xx
    answers are retried ``retries`` times (``TOOLCACHE_HTTP_RETRIES``, default 3), waiting
    ``backoff`` seconds, then twice that, four times that and so on. Nothing else is: a
    malformed or non-HTTP URL (``InvalidIndexURL``), a refused TLS certificate, any other 4xx,
    and a read that times out, since reads are timed to end at the deadline. One URL thus
    takes at most (``retries`` + 1) deadlines plus the backoff.
    """

    def __init__(
        self,
        cache_root: Path,
        *,
        offline: bool = False,
        refresh: bool = False,
        retries: int | None = None,
        backoff: float = DEFAULT_BACKOFF,
        timeout: float | None = None,
        download_timeout: float | None = None,
    ) -> None:
        self.cache_root = cache_root
        self.offline = offline
        self.refresh = refresh
        self.retries = retries_from_env() if retries is None else max(0, retries)
        self.backoff = backoff
        self.timeout = timeout_from_env() if timeout is None else timeout
        self.download_timeout = (
            download_timeout_from_env() if download_timeout is None else download_timeout
        )
        self._http: httpx.Client | None = None
        self._lock = threading.Lock()
        self._credentials: dict[urls.Origin, urls.Credentials] = {}
        self._netrc: netrc.netrc | None = None
        self._netrc_loaded = False

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            if self._http is not None:
                self._http.close()
                self._http = None

    def __enter__(self) -> IndexClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _client(self) -> httpx.Client:
        with self._lock:
            if self._http is None:
                self._http = httpx.Client(
                    verify=ssl_context(),
                    trust_env=True,
                    http1=True,
                    http2=False,
                    timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0)),
                    limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
                    headers={"User-Agent": "toolcache"},
                    event_hooks={"response": [_on_response]},
                )
            return self._http

    # -- credentials -------------------------------------------------------------------------

    def register(self, url: str) -> str:
        """Remember the credentials in ``url`` for its origin; return ``url`` without them."""
        clean, creds = urls.split_credentials(url)
        if creds is not None:
            with self._lock:
                self._credentials[urls.origin(clean)] = creds
        return clean

    def _netrc_for(self, host: str) -> urls.Credentials | None:
        with self._lock:
            if not self._netrc_loaded:
                self._netrc_loaded = True
                location = os.environ.get("NETRC") or str(Path("~/.netrc").expanduser())
                with contextlib.suppress(OSError, netrc.NetrcParseError):
                    if Path(location).is_file():
                        self._netrc = netrc.netrc(location)
            parsed = self._netrc
        if parsed is None or not host:
            return None
        found = parsed.authenticators(host)
        if not found:
            return None
        login, _, password = found
        return login or "", password or ""

    def _auth(self, url: str) -> httpx.Auth | None:
        key = urls.origin(url)
        with self._lock:
            creds = self._credentials.get(key)
        if creds is None:
            creds = self._netrc_for(key[1])
        return httpx.BasicAuth(*creds) if creds is not None else None

    # -- requests ----------------------------------------------------------------------------

    def _fetch(
        self,
        url: str,
        headers: Mapping[str, str],
        consume: Callable[[httpx.Response], T],
        *,
        limit: _Limit | None = None,
        on_head: Callable[[httpx.Response], _Limit] | None = None,
    ) -> T:
        """GET ``url`` (without userinfo), retrying transient failures; ``consume`` reads it.

        ``consume`` sees every response whose status is not retried; a transport error raised
        while it reads the body is retried as well. Each attempt has the deadline ``limit``
        (``timeout`` by default), which ``on_head`` may reset from a successful head; see
        ``IndexClient`` for what is retried.
        """
        if self.offline:
            raise OfflineError(url)
        _check_fetchable(url)
        client = self._client()
        limit = limit or _Limit(self.timeout, TIMEOUT_ENV)
        attempts = self.retries + 1
        reason = ""
        for number in range(1, attempts + 1):
            attempt = _Attempt(limit, on_head)
            try:
                auth = self._auth(url)
                with client.stream(
                    "GET",
                    url,
                    headers=dict(headers),
                    auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
                    follow_redirects=True,
                    timeout=httpx.Timeout(**attempt.timeouts()),
                    extensions={_ATTEMPT: attempt, "trace": attempt.trace},
                ) as response:
                    if response.status_code not in RETRY_STATUSES:
                        return consume(response)
                    reason = f"HTTP {response.status_code}"
            except _DeadlinePassed:
                raise attempt.exceeded(url, number) from None
            except httpx.UnsupportedProtocol as exc:  # a redirect to ftp:, say
                raise InvalidIndexURL(url, _describe(exc)) from None
            except httpx.TransportError as exc:
                # Read, write and pool timeouts are set to end at the deadline (see _Attempt),
                # so they are the deadline, even when the clock reads a hair short of it.
                if attempt.overdue() or isinstance(exc, _DEADLINE_TIMEOUTS):
                    raise attempt.exceeded(url, number) from None
                problem = _certificate_problem(exc)
                if problem is not None:
                    raise IndexUnreachable(
                        url,
                        f"TLS certificate not trusted ({problem}); "
                        "SSL_CERT_FILE can name the CA bundle to trust",
                        number,
                    ) from None
                if isinstance(exc, httpx.LocalProtocolError):  # our request, not the network
                    raise IndexUnreachable(url, _describe(exc), number) from None
                reason = _describe(exc)
            except httpx.InvalidURL as exc:
                raise InvalidIndexURL(url, str(exc)) from None
            if number < attempts:
                time.sleep(self.backoff * 2 ** (number - 1))
        raise IndexUnreachable(url, reason, attempts)

    @staticmethod
    def _check_status(response: httpx.Response, url: str) -> None:
        if response.status_code >= 400:
            raise IndexHTTPError(url, response.status_code, response.reason_phrase)

    # -- pages -------------------------------------------------------------------------------

    def _page_path(self, url: str, accept: str) -> Path:
        key = hashlib.sha256(f"{url}\n{accept}".encode()).hexdigest()
        return paths.http_cache_dir(self.cache_root) / "pages" / key[:2] / f"{key}.page"

    def get_page(self, url: str, accept: str) -> Page | None:
        """A page (simple API or find-links HTML); None when it does not exist (404/410).

        ``file:`` URLs are read from disk (a directory serves its ``index.html``).
        """
        url = self.register(url)
        if urls.is_file_url(url):
            return self._get_file_page(url)
        cache_path = self._page_path(url, accept)
        cached: disk.CachedPage | None = None
        with contextlib.suppress(OSError):
            cached = disk.CachedPage.load(cache_path.read_bytes())
        now = time.time()
        if cached is not None and (self.offline or (not self.refresh and cached.is_fresh(now))):
            return self._page_result(cached, from_cache=True)

        headers = {"Accept": accept}
        if cached is not None and cached.status == 200:
            if cached.etag:
                headers["If-None-Match"] = cached.etag
            if cached.last_modified:
                headers["If-Modified-Since"] = cached.last_modified

        def consume(response: httpx.Response) -> tuple[disk.CachedPage, bool, bool]:
            max_age = disk.max_age(response.headers)
            if response.status_code == 304 and cached is not None:
                if max_age is not None:
                    cached.max_age = max_age
                cached.fetched = time.time()
                return cached, True, True
            if response.status_code in (404, 410):
                body = b""
            else:
                self._check_status(response, url)
                body = response.read()
            entry = disk.CachedPage(
                status=200 if response.status_code < 300 else response.status_code,
                url=urls.split_credentials(str(response.url))[0],
                content_type=response.headers.get("content-type", ""),
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
                max_age=max_age or 0.0,
                fetched=time.time(),
                body=body,
            )
            return entry, False, max_age is not None

        entry, revalidated, store = self._fetch(url, headers, consume)
        if store:
            with contextlib.suppress(OSError):
                atomic.write_bytes(cache_path, entry.dump())
        return self._page_result(entry, from_cache=revalidated)

    @staticmethod
    def _page_result(entry: disk.CachedPage, *, from_cache: bool) -> Page | None:
        if entry.status in (404, 410):
            return None
        return Page(entry.url, entry.content_type, entry.body, from_cache)

    @staticmethod
    def _get_file_page(url: str) -> Page | None:
        path = urls.file_url_to_path(url)
        if path.is_dir():
            path = path / "index.html"
            url = urls.ensure_trailing_slash(url)
        try:
            body = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise IndexError_(f"cannot read {path}: {exc.strerror}") from None
        content_type = "application/vnd.pypi.simple.v1+json" if path.suffix == ".json" else ""
        return Page(url, content_type or "text/html", body, from_cache=False)

    # -- content-addressed -------------------------------------------------------------------

    def _blob_path(self, key: str) -> Path:
        return paths.http_cache_dir(self.cache_root) / "blobs" / key[:2] / key

    def _keyed_blob_path(self, cache_key: str) -> Path:
        return self._blob_path(hashlib.sha256(cache_key.encode()).hexdigest())

    def read_blob(self, cache_key: str) -> bytes | None:
        """What ``write_blob`` (or ``get_blob`` without a hash) stored under ``cache_key``."""
        try:
            return self._keyed_blob_path(cache_key).read_bytes()
        except OSError:
            return None

    def write_blob(self, cache_key: str, data: bytes) -> None:
        """Keep ``data`` forever under ``cache_key``; a key must name immutable content."""
        with contextlib.suppress(OSError):
            atomic.write_bytes(self._keyed_blob_path(cache_key), data)

    def get_blob(self, url: str, sha256: str | None, *, cache_key: str | None = None) -> bytes:
        """A small immutable file (a PEP 658 metadata file), verified against ``sha256`` if given.

        Cached forever under ``sha256`` (or ``cache_key`` when the index gave no hash).
        """
        url = self.register(url)
        what = urls.filename_from_url(url)
        path: Path | None = None
        if sha256 is not None:
            path = self._blob_path(sha256)
        elif cache_key is not None:
            path = self._keyed_blob_path(cache_key)
        if path is not None:
            with contextlib.suppress(OSError):
                return path.read_bytes()
        if urls.is_file_url(url):
            try:
                data = urls.file_url_to_path(url).read_bytes()
            except OSError as exc:
                raise IndexError_(f"cannot read {url}: {exc.strerror}") from None
        else:

            def consume(response: httpx.Response) -> bytes:
                self._check_status(response, url)
                return response.read()

            data = self._fetch(url, {}, consume)
        verify_bytes(what, data, sha256)
        if path is not None:
            with contextlib.suppress(OSError):
                atomic.write_bytes(path, data)
        return data

    def download(
        self,
        url: str,
        sha256: str | None,
        dest_dir: Path | None = None,
        *,
        filename: str | None = None,
        on_bytes: Callable[[int], None] | None = None,
    ) -> Path:
        """The file at ``url``, verified, at ``<dest_dir>/<sha256[:2]>/<sha256>/<filename>``.

        ``dest_dir`` defaults to the files cache. A file already there is reused without any
        request. Without a promised ``sha256`` the file is stored under the hash it turns out
        to have. A mismatch raises ``HashMismatch`` and leaves nothing behind. Local (``file:``)
        files are verified and returned in place. ``on_bytes`` is given the length of each
        chunk as it arrives, in the calling thread, and never when nothing is transferred; when
        a download is retried it is first given minus what the failed attempt counted. Its
        deadline scales with the size the response gives (see ``IndexClient``).
        """
        url = self.register(url)
        filename = filename or urls.filename_from_url(url)
        root = dest_dir if dest_dir is not None else paths.wheel_cache_dir(self.cache_root)
        stored = self.stored(sha256, filename, root)
        if stored is not None:
            return stored
        if urls.is_file_url(url):
            local = urls.file_url_to_path(url)
            if not local.is_file():
                raise IndexError_(f"{local} does not exist")
            if sha256 is not None:
                actual = disk.sha256_file(local)
                if actual != sha256:
                    raise HashMismatch(filename, sha256, actual)
            return local
        root.mkdir(parents=True, exist_ok=True)
        counted = 0

        def consume(response: httpx.Response) -> Path:
            nonlocal counted
            if on_bytes is not None and counted:
                on_bytes(-counted)  # an earlier attempt's bytes, read again from the start
                counted = 0
            self._check_status(response, url)
            with disk.temp_beside(root) as (tmp_path, f):
                digest = hashlib.sha256()
                for chunk in response.iter_bytes(disk.CHUNK):
                    digest.update(chunk)
                    f.write(chunk)
                    if on_bytes is not None:
                        counted += len(chunk)
                        on_bytes(len(chunk))
                f.close()
                actual = digest.hexdigest()
                if sha256 is not None and actual != sha256:
                    raise HashMismatch(filename, sha256, actual)
                final = root / actual[:2] / actual / filename
                final.parent.mkdir(parents=True, exist_ok=True)
                tmp_path.replace(final)
            return final

        return self._fetch(
            url, {}, consume, limit=self._download_head_limit(), on_head=self._download_limit
        )

    def _download_head_limit(self) -> _Limit:
        """The deadline for a download's response head: ``timeout``, or less when the whole
        download must take less."""
        if self.download_timeout is not None and self.download_timeout < self.timeout:
            return _Limit(self.download_timeout, DOWNLOAD_TIMEOUT_ENV)
        return _Limit(self.timeout, TIMEOUT_ENV)

    def _download_limit(self, response: httpx.Response) -> _Limit:
        """The deadline for a whole download, from its response head."""
        if self.download_timeout is not None:
            return _Limit(self.download_timeout, DOWNLOAD_TIMEOUT_ENV)
        size = _content_length(response)
        if size is None:
            return _Limit(DEFAULT_DOWNLOAD_TIMEOUT, DOWNLOAD_TIMEOUT_ENV)
        return _Limit(max(self.timeout, size / SLOWEST_DOWNLOAD), DOWNLOAD_TIMEOUT_ENV)

    def stored(
        self, sha256: str | None, filename: str, dest_dir: Path | None = None
    ) -> Path | None:
        """The file ``download`` keeps for ``sha256`` if it is already there, without I/O else."""
        if sha256 is None:
            return None
        root = dest_dir if dest_dir is not None else paths.wheel_cache_dir(self.cache_root)
        target = root / sha256[:2] / sha256 / filename
        return target if target.is_file() else None

    # -- byte ranges -------------------------------------------------------------------------

    def get_range(self, url: str, start: int, end: int) -> ByteRange | None:
        """Bytes ``start`` to ``end`` (exclusive; clipped to the file's size) of ``url``.

        None whenever the server does not answer with exactly that range: any status but 206
        (a 200 means it ignores ``Range``; its body is not read), a missing or different
        ``Content-Range``, an unknown size, a body of the wrong length, or a content coding.
        Transport failures are retried like any request; offline mode raises ``OfflineError``.
        ``file:`` URLs are never read by range (None).
        """
        if start < 0 or end <= start:
            raise ValueError(f"empty or negative range {start}-{end}")
        return self._get_bytes(url, f"bytes={start}-{end - 1}", start=start, end=end)

    def get_tail(self, url: str, length: int) -> ByteRange | None:
        """The last ``length`` bytes of ``url`` (the whole file when it is shorter), as
        ``get_range`` would give them."""
        if length <= 0:
            raise ValueError(f"tail length must be positive, not {length}")
        return self._get_bytes(url, f"bytes=-{length}", start=None, end=length)

    def _get_bytes(self, url: str, spec: str, *, start: int | None, end: int) -> ByteRange | None:
        url = self.register(url)
        if urls.is_file_url(url):
            return None
        # A coded body's ranges would be ranges of the coding, not of the file.
        headers = {"Range": spec, "Accept-Encoding": "identity"}

        def consume(response: httpx.Response) -> ByteRange | None:
            if response.status_code != 206:
                return None
            coding = response.headers.get("content-encoding", "identity").strip().lower()
            parsed = _parse_content_range(response.headers.get("content-range", ""))
            if coding != "identity" or parsed is None:
                return None
            first, stop, size = parsed
            # A suffix (start None) asks for the last `end` bytes.
            wanted = (max(0, size - end), size) if start is None else (start, min(end, size))
            if (first, stop) != wanted:
                return None
            data = response.read()
            if len(data) != stop - first:
                return None
            return ByteRange(first, data, size)

        return self._fetch(url, headers, consume)
