"""The HTTP side of the test index: a response value, single byte ranges and ETags as RFC 9110
has them, and a threading HTTP/1.1 server on 127.0.0.1 that hands every request to a
``Responder`` and writes back what it returns."""

from __future__ import annotations

import contextlib
import hashlib
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

_CONNECTION_ERRORS = (ConnectionError, TimeoutError)


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


Responder = Callable[[str, str, dict[str, str]], Response | Literal["drop"]]
"""``(method, raw path, lower-cased headers)`` to a response; ``"drop"`` closes the
connection unanswered."""


def etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest() + '"'


def etag_matches(if_none_match: str, tag: str) -> bool:
    tags = [t.strip() for t in if_none_match.split(",")]
    return any(t == "*" or t.removeprefix("W/") == tag for t in tags)


def _byte_range(header: str, size: int) -> tuple[int, int] | Literal["ignore"] | None:
    """``(first, stop)`` for a single-range ``Range`` header; None when unsatisfiable;
    ``"ignore"`` for what a server may ignore (other units, several or malformed ranges)."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return "ignore"
    first_text, dash, last_text = spec.strip().partition("-")
    if not dash or not (first_text + last_text).isdigit():
        return "ignore"
    if not first_text:  # suffix: the last n bytes
        length = int(last_text)
        return (max(0, size - length), size) if length > 0 and size > 0 else None
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if last < first:
        return "ignore"
    if first >= size:
        return None
    return first, min(last, size - 1) + 1


def ranged(response: Response, header: str) -> Response:
    """The part of a 200 file response that ``header`` asks for (206), as RFC 9110 says."""
    if response.status != HTTPStatus.OK:
        return response
    size = len(response.body)
    wanted = _byte_range(header, size)
    if wanted == "ignore":
        return response
    headers = {**response.headers, "ETag": etag(response.body)}
    if wanted is None:
        headers["Content-Range"] = f"bytes */{size}"
        return Response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, b"", headers)
    first, stop = wanted
    headers["Content-Range"] = f"bytes {first}-{stop - 1}/{size}"
    return Response(HTTPStatus.PARTIAL_CONTENT, response.body[first:stop], headers)


def redirect(location: str) -> Response:
    return Response(HTTPStatus.MOVED_PERMANENTLY, b"", {"Location": location})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "toolcache-test-index"
    sys_version = ""
    timeout = 30
    server: Server

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        headers: dict[str, str] = {}
        for raw_key, value in self.headers.items():
            key = raw_key.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        response = self.server.respond(self.command, self.path, headers)
        if response == "drop":
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if "content-length" in headers or "transfer-encoding" in headers:
            self.close_connection = True  # never read request bodies; do not reuse the socket
        self.send_response(response.status)
        for key, value in response.headers.items():
            self.send_header(key, value)
        if response.status != HTTPStatus.NOT_MODIFIED:
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD" and response.status != HTTPStatus.NOT_MODIFIED:
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Server(ThreadingHTTPServer):
    # Daemon threads never hold up interpreter exit; block_on_close still makes server_close()
    # join them, after close_connections() has woken any parked on a keep-alive socket.
    daemon_threads = True
    block_on_close = True

    def __init__(self, respond: Responder, errors: list[BaseException]) -> None:
        """Listen on a free port of 127.0.0.1; ``errors`` collects what handling a request
        raised, client disconnects excepted."""
        self.respond = respond
        self.errors = errors
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake handlers parked on idle keep-alive connections so they finish."""
        with self._connections_lock:
            live = list(self._connections)
        for conn in live:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if exc is not None and not isinstance(exc, _CONNECTION_ERRORS):
            self.errors.append(exc)
