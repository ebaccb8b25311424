"""Deadlines and what is retried, against servers on 127.0.0.1 that misbehave on purpose.

``Scripted`` is a threading HTTP/1.1 server whose every GET is answered by a script: trickling a
body a byte at a time, going quiet, or answering a status. It counts requests (and, for TLS,
connections) so a test can tell how many attempts the client made, and when each request
arrived: a deadline is timed from there, since the client's first request also builds its TLS
context, which takes a while on a loaded machine.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from toolcache.index.client import (
    IndexClient,
    IndexHTTPError,
    IndexTimeout,
    IndexUnreachable,
    InvalidIndexURL,
)
from toolcache.index.simple import SIMPLE_ACCEPT

BODY = b"0123456789" * 2  # 20 bytes: 10 s at one byte every 0.5 s, long past any deadline here
EMPTY_PAGE = b'{"meta": {"api-version": "1.1"}, "name": "pkg", "files": []}'
JSON_TYPE = "application/vnd.pypi.simple.v1+json"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Scripted

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.requests.append(self.path)
            self.server.arrivals.append(time.monotonic())
            number = len(self.server.requests)
        self.server.script(self, number)

    def log_message(self, format: str, *args: Any) -> None:
        pass


Script = Callable[[_Handler, int], None]
"""``(handler, number of this request, from 1)``: write the answer."""


class Scripted(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[str] = []
        self.arrivals: list[float] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def serve() -> Iterator[Callable[[Script], Scripted]]:
    """Start a ``Scripted`` server for a script; all are stopped when the test ends."""
    started: list[tuple[Scripted, threading.Thread]] = []

    def start(script: Script) -> Scripted:
        server = Scripted(script)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        started.append((server, thread))
        return server

    yield start
    for server, thread in started:
        server.stopping.set()  # wakes every script waiting between bytes
        server.shutdown()
        thread.join()
        server.server_close()


def head(handler: _Handler, status: int, body_length: int, content_type: str = "") -> None:
    handler.send_response(status)
    handler.send_header("Content-Length", str(body_length))
    if content_type:
        handler.send_header("Content-Type", content_type)
    handler.end_headers()


def trickle(handler: _Handler, data: bytes, every: float) -> None:
    """Write ``data`` one byte at a time, ``every`` seconds apart, until it is all sent, the
    client has gone or the server stops."""
    for i in range(len(data)):
        if handler.server.stopping.wait(every):
            return
        try:
            handler.wfile.write(data[i : i + 1])
        except OSError:
            return


def trickling(content_type: str = JSON_TYPE) -> Script:
    def script(handler: _Handler, number: int) -> None:
        head(handler, 200, len(BODY), content_type)
        trickle(handler, BODY, 0.5)

    return script


def answer(*statuses: int) -> Script:
    """Answer request n with ``statuses[n - 1]`` (the last one from then on), an empty page."""

    def script(handler: _Handler, number: int) -> None:
        status = statuses[min(number, len(statuses)) - 1]
        body = EMPTY_PAGE if status == 200 else b""
        head(handler, status, len(body), JSON_TYPE)
        handler.wfile.write(body)

    return script


def one_line(error: BaseException) -> str:
    message = str(error)
    assert "\n" not in message
    return message


# -- deadlines ------------------------------------------------------------------------------


def test_a_trickling_page_is_cut_off_at_the_deadline(
    serve: Callable[[Script], Scripted], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOOLCACHE_HTTP_TIMEOUT", "2")
    server = serve(trickling())
    url = f"{server.origin}/simple/pkg/"
    secret_url = url.replace("http://", "http://alice:s3cret@")
    with IndexClient(tmp_path / "cache", retries=3, backoff=0.01) as client:
        with pytest.raises(IndexTimeout) as info:
            client.get_page(secret_url, SIMPLE_ACCEPT)
        elapsed = time.monotonic() - server.arrivals[0]
    assert 1.8 < elapsed < 3.0
    assert one_line(info.value) == (
        f"could not reach {url}: no complete answer within 2 s (TOOLCACHE_HTTP_TIMEOUT)"
        " (after 1 attempt)"
    )
    assert "s3cret" not in str(info.value)
    assert len(server.requests) == 1  # a deadline passed is not retried


def test_a_page_that_never_answers_fails_at_the_deadline(
    serve: Callable[[Script], Scripted], tmp_path: Path
) -> None:
    def silent(handler: _Handler, number: int) -> None:
        handler.server.stopping.wait(30)

    server = serve(silent)
    with IndexClient(tmp_path / "cache", timeout=1, retries=3, backoff=0.01) as client:
        with pytest.raises(IndexTimeout) as info:
            client.get_page(f"{server.origin}/simple/pkg/", SIMPLE_ACCEPT)
        elapsed = time.monotonic() - server.arrivals[0]
    assert 0.8 < elapsed < 1.8
    assert "no complete answer within 1 s (TOOLCACHE_HTTP_TIMEOUT)" in one_line(info.value)
    assert len(server.requests) == 1


def test_a_body_that_stalls_near_the_deadline_is_cut_off_on_time(
    serve: Callable[[Script], Scripted], tmp_path: Path
) -> None:
    """Three quick bytes, then silence: the read blocked past the deadline is woken at it, not
    when a read timeout set earlier (from the time left then) runs out."""

    def script(handler: _Handler, number: int) -> None:
        head(handler, 200, len(BODY), JSON_TYPE)
        trickle(handler, BODY[:3], 0.5)
        handler.server.stopping.wait(30)

    server = serve(script)
    with IndexClient(tmp_path / "cache", timeout=2, retries=0) as client:
        with pytest.raises(IndexTimeout):
            client.get_blob(f"{server.origin}/files/pkg.metadata", None)
        elapsed = time.monotonic() - server.arrivals[0]
    assert 1.8 < elapsed < 2.5


def test_redirects_share_one_deadline(serve: Callable[[Script], Scripted], tmp_path: Path) -> None:
    """A redirect after 1.5 s to a page that never answers: the second request gets what is
    left of the 2 s, not 2 s of its own."""

    def script(handler: _Handler, number: int) -> None:
        if handler.path == "/simple/pkg/":
            handler.server.stopping.wait(1.5)
            handler.send_response(302)
            handler.send_header("Location", "/elsewhere/pkg/")
            handler.send_header("Content-Length", "0")
            handler.end_headers()
        else:
            handler.server.stopping.wait(30)

    server = serve(script)
    with IndexClient(tmp_path / "cache", timeout=2, retries=0) as client:
        with pytest.raises(IndexTimeout):
            client.get_page(f"{server.origin}/simple/pkg/", SIMPLE_ACCEPT)
        elapsed = time.monotonic() - server.arrivals[0]
    assert 1.8 < elapsed < 2.5
    assert server.requests == ["/simple/pkg/", "/elsewhere/pkg/"]


def test_a_trickling_download_is_cut_off_at_its_deadline(
    serve: Callable[[Script], Scripted], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOOLCACHE_DOWNLOAD_TIMEOUT", "2")
    server = serve(trickling(content_type="application/octet-stream"))
    url = f"{server.origin}/files/pkg-1.0-py3-none-any.whl"
    dest = tmp_path / "files"
    with IndexClient(tmp_path / "cache", retries=2, backoff=0.01) as client:
        with pytest.raises(IndexTimeout) as info:
            client.download(url, None, dest)
        elapsed = time.monotonic() - server.arrivals[0]
    assert 1.8 < elapsed < 3.0
    assert one_line(info.value) == (
        f"could not reach {url}: no complete answer within 2 s (TOOLCACHE_DOWNLOAD_TIMEOUT)"
        " (after 1 attempt)"
    )
    assert len(server.requests) == 1
    assert [p for p in dest.rglob("*") if p.is_file()] == []  # nothing half-written is left


def test_a_download_deadline_scales_with_its_size(
    serve: Callable[[Script], Scripted], tmp_path: Path
) -> None:
    """150 kB may take 1.5 s at the slowest rate allowed (100 kB/s), not the 0.5 s a page
    gets: a trickle is cut off at 1.5 s, and the same size sent over 0.9 s arrives."""
    size = 150_000

    def script(handler: _Handler, number: int) -> None:
        head(handler, 200, size, "application/octet-stream")
        if number == 1:
            trickle(handler, b"x" * 20, 0.5)
            return
        for _ in range(6):  # 25 kB every 0.15 s
            if handler.server.stopping.wait(0.15):
                return
            handler.wfile.write(b"x" * (size // 6))

    server = serve(script)
    with IndexClient(tmp_path / "cache", timeout=0.5, retries=0) as client:
        with pytest.raises(IndexTimeout) as info:
            client.download(f"{server.origin}/files/a.whl", None, tmp_path / "files")
        elapsed = time.monotonic() - server.arrivals[0]
        assert 1.4 < elapsed < 2.1
        assert "no complete answer within 1.5 s (TOOLCACHE_DOWNLOAD_TIMEOUT)" in str(info.value)

        path = client.download(f"{server.origin}/files/b.whl", None, tmp_path / "files")
        elapsed = time.monotonic() - server.arrivals[1]
    assert path.stat().st_size == size
    assert elapsed > 0.5


# -- what is retried ------------------------------------------------------------------------


@pytest.mark.parametrize("index_url", ["not a url", "ftp://127.0.0.1/simple", "http:///simple"])
def test_a_url_that_cannot_be_fetched_fails_at_once(index_url: str, tmp_path: Path) -> None:
    with IndexClient(tmp_path / "cache", retries=3, backoff=0.5) as client:
        started = time.monotonic()
        with pytest.raises(InvalidIndexURL) as info:
            client.get_page(f"{index_url}/pkg/", SIMPLE_ACCEPT)
        elapsed = time.monotonic() - started
    assert elapsed < 0.4  # the first retry alone would wait 0.5 s
    assert one_line(info.value).startswith(f"invalid URL {index_url}/pkg/: ")


def test_a_redirect_to_an_unsupported_scheme_is_not_retried(
    serve: Callable[[Script], Scripted], tmp_path: Path
) -> None:
    def script(handler: _Handler, number: int) -> None:
        handler.send_response(302)
        handler.send_header("Location", "ftp://127.0.0.1/simple/pkg/")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    server = serve(script)
    with (
        IndexClient(tmp_path / "cache", retries=3, backoff=0.01) as client,
        pytest.raises(InvalidIndexURL) as info,
    ):
        client.get_page(f"{server.origin}/simple/pkg/", SIMPLE_ACCEPT)
    assert one_line(info.value).startswith(f"invalid URL {server.origin}/simple/pkg/: ")
    assert len(server.requests) == 1


def test_a_404_is_not_retried(serve: Callable[[Script], Scripted], tmp_path: Path) -> None:
    server = serve(answer(404))
    with IndexClient(tmp_path / "cache", retries=3, backoff=0.01) as client:
        assert client.get_page(f"{server.origin}/simple/pkg/", SIMPLE_ACCEPT) is None
        with pytest.raises(IndexHTTPError) as info:
            client.get_blob(f"{server.origin}/files/pkg.metadata", None)
    assert one_line(info.value) == f"{server.origin}/files/pkg.metadata answered HTTP 404 Not Found"
    assert len(server.requests) == 2  # one each


@pytest.mark.parametrize("status", [429, 503])
def test_429_and_503_are_retried(
    status: int, serve: Callable[[Script], Scripted], tmp_path: Path
) -> None:
    server = serve(answer(status, 200))
    with IndexClient(tmp_path / "cache", retries=1, backoff=0.01) as client:
        page = client.get_page(f"{server.origin}/simple/pkg/", SIMPLE_ACCEPT)
    assert page is not None and page.body == EMPTY_PAGE
    assert len(server.requests) == 2


# -- TLS ------------------------------------------------------------------------------------


def _self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key, as ``(cert.pem, key.pem)``."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class _TLSServer(ThreadingHTTPServer):
    """Counts TCP connections, then does the TLS handshake (which the client will refuse)."""

    daemon_threads = True

    def __init__(self, context: ssl.SSLContext) -> None:
        self.context = context
        self.connections = 0
        super().__init__(("127.0.0.1", 0), _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = self.socket.accept()
        self.connections += 1
        sock.settimeout(5)
        try:
            return self.context.wrap_socket(sock, server_side=True), address
        except OSError:
            sock.close()
            raise


def test_an_untrusted_certificate_is_not_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = _self_signed(tmp_path, "server")
    other_ca, _ = _self_signed(tmp_path, "other")
    monkeypatch.setenv("SSL_CERT_FILE", str(other_ca))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = _TLSServer(context)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    url = f"https://127.0.0.1:{server.server_address[1]}/simple/pkg/"
    try:
        with (
            IndexClient(tmp_path / "cache", retries=3, backoff=0.01) as client,
            pytest.raises(IndexUnreachable) as info,
        ):
            client.get_page(url, SIMPLE_ACCEPT)
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
    message = one_line(info.value)
    assert message.startswith(f"could not reach {url}: TLS certificate not trusted (")
    assert message.endswith("(after 1 attempt)")
    assert server.connections == 1
