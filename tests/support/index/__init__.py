"""A real package index on 127.0.0.1, served by ``http.server`` from a daemon thread.

It speaks the simple repository API the way PyPI does: PEP 691 JSON or PEP 503 HTML by
content negotiation, PEP 658/714 metadata files, PEP 592 yanking, PEP 700 ``upload-time`` and
``size``, redirects from non-normalized project URLs, ETags with ``If-None-Match``, single
byte ranges of files (``Range: bytes=a-b``, ``a-``, ``-n``; 206 with ``Content-Range``, 416
when unsatisfiable), and Basic auth when credentials are configured. Pages are built per
request from what was ``add``ed.

Routes: ``/simple/``, ``/simple/<project>/``, ``/files/<filename>`` and
``/files/<filename>.metadata`` (GET and HEAD). File links are relative
(``../../files/<filename>``) so clients must join URLs properly.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import json
import secrets
import shutil
import socket
import sys
import threading
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Literal
from urllib.parse import quote, unquote, urlsplit

from packaging.utils import (
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

__all__ = [
    "DEFAULT_UPLOAD_TIME",
    "HTML_TYPE",
    "HTML_V1_TYPE",
    "JSON_TYPE",
    "LocalIndex",
    "RequestRecord",
    "negotiate",
]

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_V1_TYPE = "application/vnd.pypi.simple.v1+html"
HTML_TYPE = "text/html"
DEFAULT_UPLOAD_TIME = "2024-01-01T00:00:00Z"
API_VERSION = "1.1"

# Server preference among equally acceptable types; PyPI also prefers plain HTML on a tie.
_OFFERS = (HTML_TYPE, HTML_V1_TYPE, JSON_TYPE)
_ALIASES = {
    "application/vnd.pypi.simple.latest+json": JSON_TYPE,
    "application/vnd.pypi.simple.latest+html": HTML_V1_TYPE,
}
_SIMPLE_CACHE_CONTROL = "max-age=0, must-revalidate"
_FILE_CACHE_CONTROL = "max-age=31536000, immutable"
_CONNECTION_ERRORS = (ConnectionError, TimeoutError)


@dataclass(frozen=True)
class RequestRecord:
    """One request as the server saw it. ``path`` includes any query; header names are lower."""

    method: str
    path: str
    headers: dict[str, str]


@dataclass(frozen=True)
class _File:
    filename: str
    project: NormalizedName
    version: Version
    sha256: str
    size: int
    upload_time: str | None
    yanked: bool | str
    requires_python: str | None
    metadata: bytes | None

    @property
    def metadata_sha256(self) -> str | None:
        return None if self.metadata is None else hashlib.sha256(self.metadata).hexdigest()


@dataclass
class _Failure:
    prefix: str
    status: int
    remaining: int


@dataclass
class _Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def _upload_time(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _wheel_metadata(path: Path, project: NormalizedName) -> bytes:
    """The METADATA of the one ``.dist-info`` named after ``project`` (a wheel may carry
    others, vendored)."""
    with zipfile.ZipFile(path) as archive:
        names = [
            n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")
        ]
        ours = [
            n
            for n in names
            if canonicalize_name(n.removesuffix(".dist-info/METADATA").rpartition("-")[0])
            == project
        ]
        names = ours if len(ours) == 1 else names
        if len(names) != 1:
            raise ValueError(f"{path.name}: expected one .dist-info/METADATA, found {names}")
        return archive.read(names[0])


def _metadata_requires_python(metadata: bytes) -> str | None:
    for line in metadata.decode("utf-8").splitlines():
        if not line.strip():
            break
        key, _, value = line.partition(":")
        if key.strip().lower() == "requires-python":
            return value.strip()
    return None


def _parse_accept(header: str) -> list[tuple[str, float]]:
    ranges: list[tuple[str, float]] = []
    for item in header.split(","):
        media, *params = (p.strip() for p in item.split(";"))
        if not media:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        media = media.lower()
        ranges.append((_ALIASES.get(media, media), q))
    return ranges


def negotiate(accept: str | None) -> str | None:
    """The simple-API content type to serve for an ``Accept`` header; None means 406.

    Each offer takes the q of its most specific matching range (``type/sub`` over ``type/*``
    over ``*/*``); the highest q wins, ties go to the server's order (HTML first, like PyPI).
    No header means ``text/html``.
    """
    if accept is None or not accept.strip():
        return HTML_TYPE
    ranges = _parse_accept(accept)
    best: tuple[float, int] | None = None
    chosen: str | None = None
    for rank, offer in enumerate(_OFFERS):
        main = offer.split("/")[0]
        q: float | None = None
        specificity = -1
        for media, media_q in ranges:
            level = {offer: 2, f"{main}/*": 1, "*/*": 0}.get(media, -1)
            if level > specificity:
                specificity, q = level, media_q
        if q is None or q <= 0:
            continue
        if best is None or (q, -rank) > best:
            best, chosen = (q, -rank), offer
    return chosen


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest() + '"'


def _etag_matches(if_none_match: str, etag: str) -> bool:
    tags = [t.strip() for t in if_none_match.split(",")]
    return any(t == "*" or t.removeprefix("W/") == etag for t in tags)


class LocalIndex:
    """A simple-API index rooted in ``root`` (files are copied to ``root/files``).

    ``url`` is ``http://127.0.0.1:PORT/simple`` once started. With ``username`` and
    ``password`` every request needs Basic auth (401 otherwise); ``url_with_credentials``
    carries them. ``requests`` records every request; ``fail`` injects errors; setting
    ``html_only`` ignores ``Accept`` and always serves PEP 503 HTML. ``errors`` collects any
    exception raised while handling a request (client disconnects excepted). With ``ranges``
    False the server ignores ``Range`` and always answers 200 with the whole file, as some do.
    """

    def __init__(
        self,
        root: Path,
        *,
        username: str | None = None,
        password: str | None = None,
        ranges: bool = True,
    ) -> None:
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        self.root = root
        self.files_dir = root / "files"
        self.files_dir.mkdir(parents=True, exist_ok=True)
        self.username = username
        self.password = password
        self.html_only = False
        self.ranges = ranges
        self.requests: list[RequestRecord] = []
        self.errors: list[BaseException] = []
        self._files: dict[str, _File] = {}
        self._failures: list[_Failure] = []
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("already started")
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"LocalIndex:{self.port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()
        thread.join()
        server.close_connections()
        server.server_close()
        self._server = self._thread = None

    def __enter__(self) -> LocalIndex:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the index is not started")
        return int(self._server.server_address[1])

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.origin}/simple"

    @property
    def url_with_credentials(self) -> str:
        if self.username is None or self.password is None:
            return self.url
        user = quote(self.username, safe="")
        password = quote(self.password, safe="")
        return f"http://{user}:{password}@127.0.0.1:{self.port}/simple"

    # -- content ---------------------------------------------------------------------------

    def add(
        self,
        path: Path,
        *,
        upload_time: datetime | str | None = DEFAULT_UPLOAD_TIME,
        yanked: bool | str = False,
        requires_python: str | None = None,
        metadata_file: bool = True,
    ) -> None:
        """Publish a wheel or sdist (copied into ``root/files``); re-adding a name replaces it.

        ``requires_python`` None takes the wheel's own ``Requires-Python`` (as PyPI does);
        ``""`` advertises none. ``metadata_file`` serves the wheel's METADATA as
        ``<file>.metadata`` (PEP 658); never for sdists. ``upload_time`` None omits it.
        """
        filename = path.name
        if filename.endswith(".whl"):
            raw_name, version, _, _ = parse_wheel_filename(filename)
            metadata: bytes | None = _wheel_metadata(path, canonicalize_name(raw_name))
        else:
            raw_name, version = parse_sdist_filename(filename)
            metadata = None
        if requires_python is None and metadata is not None:
            requires_python = _metadata_requires_python(metadata)
        data = path.read_bytes()
        target = self.files_dir / filename
        if path.resolve() != target.resolve():
            shutil.copyfile(path, target)
        entry = _File(
            filename=filename,
            project=canonicalize_name(raw_name),
            version=version,
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            upload_time=_upload_time(upload_time),
            yanked=yanked,
            requires_python=requires_python or None,
            metadata=metadata if metadata_file else None,
        )
        with self._lock:
            self._files[filename] = entry

    def fail(self, path_prefix: str, status: int, times: int) -> None:
        """Answer the next ``times`` requests whose path starts with ``path_prefix`` with
        ``status``; status 0 drops the connection without a response. Requests refused for
        want of credentials do not count."""
        with self._lock:
            self._failures.append(_Failure(path_prefix, status, times))

    def sha256(self, filename: str) -> str:
        with self._lock:
            return self._files[filename].sha256

    def _take_failure(self, path: str) -> int | None:
        with self._lock:
            for failure in self._failures:
                if failure.remaining > 0 and path.startswith(failure.prefix):
                    failure.remaining -= 1
                    return failure.status
        return None

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self.requests.append(record)

    def _authorized(self, header: str | None) -> bool:
        if self.username is None or self.password is None:
            return True
        if header is None:
            return False
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except ValueError:
            return False
        expected = f"{self.username}:{self.password}"
        return secrets.compare_digest(decoded.encode(), expected.encode())

    # -- pages -----------------------------------------------------------------------------

    def _snapshot(self) -> list[_File]:
        with self._lock:
            return sorted(self._files.values(), key=lambda f: (f.project, f.version, f.filename))

    def _projects(self) -> list[NormalizedName]:
        return sorted({f.project for f in self._snapshot()})

    def _root_page(self, content_type: str) -> bytes:
        projects = self._projects()
        if content_type == JSON_TYPE:
            doc: dict[str, Any] = {
                "meta": {"api-version": API_VERSION},
                "projects": [{"name": p} for p in projects],
            }
            return json.dumps(doc, indent=1).encode()
        anchors = "".join(
            f'    <a href="{quote(p)}/">{html.escape(p)}</a><br/>\n' for p in projects
        )
        return _html_document("Simple index", anchors)

    def _project_page(self, project: NormalizedName, content_type: str) -> bytes | None:
        files = [f for f in self._snapshot() if f.project == project]
        if not files:
            return None
        if content_type == JSON_TYPE:
            doc: dict[str, Any] = {
                "meta": {"api-version": API_VERSION},
                "name": project,
                "versions": [str(v) for v in sorted({f.version for f in files})],
                "files": [_json_file(f) for f in files],
            }
            return json.dumps(doc, indent=1).encode()
        anchors = "".join(_html_anchor(f) for f in files)
        return _html_document(f"Links for {project}", anchors)

    def _respond(
        self, method: str, raw_path: str, headers: dict[str, str]
    ) -> _Response | Literal["drop"]:
        """The response to one request (``"drop"`` closes the connection unanswered)."""
        self._record(RequestRecord(method, raw_path, headers))
        if not self._authorized(headers.get("authorization")):
            return _Response(
                HTTPStatus.UNAUTHORIZED,
                b"401 unauthorized\n",
                {"WWW-Authenticate": 'Basic realm="toolcache-tests"'},
            )
        failure = self._take_failure(raw_path)
        if failure == 0:
            return "drop"
        if failure is not None:
            return _Response(failure, f"{failure} injected failure\n".encode())
        if method not in ("GET", "HEAD"):
            return _Response(HTTPStatus.METHOD_NOT_ALLOWED, b"405\n", {"Allow": "GET, HEAD"})
        path = unquote(urlsplit(raw_path).path)
        if path.startswith("/files/") and path.count("/") == 2:
            response = self._file_response(path.removeprefix("/files/"))
            if self.ranges and method == "GET" and "range" in headers:
                response = _ranged(response, headers["range"])
        elif path == "/simple" or path.startswith("/simple/"):
            response = self._simple_response(path, headers.get("accept"))
        else:
            response = _Response(HTTPStatus.NOT_FOUND, b"404 not found\n")
        etag = _etag(response.body)
        response.headers.setdefault("ETag", etag)
        if response.status == HTTPStatus.OK and _etag_matches(
            headers.get("if-none-match", ""), etag
        ):
            keep = ("ETag", "Cache-Control", "Vary", "Content-Type")
            return _Response(
                HTTPStatus.NOT_MODIFIED,
                b"",
                {k: v for k, v in response.headers.items() if k in keep},
            )
        return response

    def _file_response(self, name: str) -> _Response:
        with self._lock:
            entry = self._files.get(name)
            meta_entry = self._files.get(name.removesuffix(".metadata"))
        if entry is not None:
            body = (self.files_dir / name).read_bytes()
            content_type = "application/zip" if name.endswith(".whl") else "application/gzip"
        elif name.endswith(".metadata") and meta_entry and meta_entry.metadata is not None:
            body = meta_entry.metadata
            content_type = "text/plain; charset=utf-8"
        else:
            return _Response(HTTPStatus.NOT_FOUND, b"404 not found\n")
        file_headers = {"Content-Type": content_type, "Cache-Control": _FILE_CACHE_CONTROL}
        if self.ranges:
            file_headers["Accept-Ranges"] = "bytes"
        return _Response(HTTPStatus.OK, body, file_headers)

    def _simple_response(self, path: str, accept: str | None) -> _Response:
        parts = path.split("/")[2:]  # "/simple/foo/" -> ["foo", ""]
        if path == "/simple":
            return _redirect("/simple/")
        if parts == [""]:
            project = None
        elif len(parts) <= 2 and parts[0] and (len(parts) == 1 or parts[1] == ""):
            project = parts[0]
            normalized = canonicalize_name(project)
            if project != normalized or len(parts) == 1:
                return _redirect(f"/simple/{quote(normalized)}/")
        else:
            return _Response(HTTPStatus.NOT_FOUND, b"404 not found\n")
        content_type = HTML_TYPE if self.html_only else negotiate(accept)
        if content_type is None:
            return _Response(HTTPStatus.NOT_ACCEPTABLE, b"406 not acceptable\n", {"Vary": "Accept"})
        if project is None:
            body: bytes | None = self._root_page(content_type)
        else:
            body = self._project_page(canonicalize_name(project), content_type)
        if body is None:
            return _Response(HTTPStatus.NOT_FOUND, b"404 not found\n", {"Vary": "Accept"})
        header_type = content_type + ("; charset=utf-8" if content_type == HTML_TYPE else "")
        return _Response(
            HTTPStatus.OK,
            body,
            {
                "Content-Type": header_type,
                "Cache-Control": _SIMPLE_CACHE_CONTROL,
                "Vary": "Accept",
            },
        )


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


def _ranged(response: _Response, header: str) -> _Response:
    """The part of a 200 file response that ``header`` asks for (206), as RFC 9110 says."""
    if response.status != HTTPStatus.OK:
        return response
    size = len(response.body)
    wanted = _byte_range(header, size)
    if wanted == "ignore":
        return response
    headers = {**response.headers, "ETag": _etag(response.body)}
    if wanted is None:
        headers["Content-Range"] = f"bytes */{size}"
        return _Response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, b"", headers)
    first, stop = wanted
    headers["Content-Range"] = f"bytes {first}-{stop - 1}/{size}"
    return _Response(HTTPStatus.PARTIAL_CONTENT, response.body[first:stop], headers)


def _redirect(location: str) -> _Response:
    return _Response(HTTPStatus.MOVED_PERMANENTLY, b"", {"Location": location})


def _file_href(entry: _File) -> str:
    return f"../../files/{quote(entry.filename)}"


def _json_file(entry: _File) -> dict[str, Any]:
    core: dict[str, str] | bool = (
        False if entry.metadata_sha256 is None else {"sha256": entry.metadata_sha256}
    )
    doc: dict[str, Any] = {
        "filename": entry.filename,
        "url": _file_href(entry),
        "hashes": {"sha256": entry.sha256},
        "size": entry.size,
        "yanked": True if entry.yanked == "" else entry.yanked,
        "core-metadata": core,
        "dist-info-metadata": core,
    }
    if entry.requires_python is not None:
        doc["requires-python"] = entry.requires_python
    if entry.upload_time is not None:
        doc["upload-time"] = entry.upload_time
    return doc


def _html_anchor(entry: _File) -> str:
    attrs = [f'href="{_file_href(entry)}#sha256={entry.sha256}"']
    if entry.requires_python is not None:
        attrs.append(f'data-requires-python="{html.escape(entry.requires_python)}"')
    if entry.yanked is not False:
        reason = "" if entry.yanked is True else str(entry.yanked)
        attrs.append(f'data-yanked="{html.escape(reason)}"')
    if entry.metadata_sha256 is not None:
        attrs.append(f'data-core-metadata="sha256={entry.metadata_sha256}"')
        attrs.append(f'data-dist-info-metadata="sha256={entry.metadata_sha256}"')
    return f"    <a {' '.join(attrs)}>{html.escape(entry.filename)}</a><br/>\n"


def _html_document(title: str, body: str) -> bytes:
    return (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        f'    <meta name="pypi:repository-version" content="{API_VERSION}">\n'
        f"    <title>{html.escape(title)}</title>\n  </head>\n  <body>\n"
        f"    <h1>{html.escape(title)}</h1>\n{body}  </body>\n</html>\n"
    ).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "toolcache-test-index"
    sys_version = ""
    timeout = 30
    server: _Server

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
        response = self.server.index._respond(self.command, self.path, headers)
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


class _Server(ThreadingHTTPServer):
    # Daemon threads never hold up interpreter exit; block_on_close still makes server_close()
    # join them, after close_connections() has woken any parked on a keep-alive socket.
    daemon_threads = True
    block_on_close = True

    def __init__(self, index: LocalIndex) -> None:
        self.index = index
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
            self.index.errors.append(exc)
