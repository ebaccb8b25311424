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

``LocalIndex`` holds what was published and routes each request; ``pages`` renders the
simple-API pages and negotiates their type; ``server`` is the HTTP side (byte ranges, ETags,
the threading server).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import shutil
import threading
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Literal
from urllib.parse import quote, unquote, urlsplit

from packaging.utils import (
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from tests.support.index.pages import (
    DEFAULT_UPLOAD_TIME,
    HTML_TYPE,
    HTML_V1_TYPE,
    JSON_TYPE,
    IndexFile,
    metadata_requires_python,
    negotiate,
    project_page,
    root_page,
    upload_time_text,
    wheel_metadata,
)
from tests.support.index.server import Response, Server, etag, etag_matches, ranged, redirect

__all__ = [
    "DEFAULT_UPLOAD_TIME",
    "HTML_TYPE",
    "HTML_V1_TYPE",
    "JSON_TYPE",
    "LocalIndex",
    "RequestRecord",
    "negotiate",
]

_SIMPLE_CACHE_CONTROL = "max-age=0, must-revalidate"
_FILE_CACHE_CONTROL = "max-age=31536000, immutable"


@dataclass(frozen=True)
class RequestRecord:
    """One request as the server saw it. ``path`` includes any query; header names are lower."""

    method: str
    path: str
    headers: dict[str, str]


@dataclass
class _Failure:
    prefix: str
    status: int
    remaining: int


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
        self._files: dict[str, IndexFile] = {}
        self._failures: list[_Failure] = []
        self._lock = threading.Lock()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("already started")
        self._server = Server(self._respond, self.errors)
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
            metadata: bytes | None = wheel_metadata(path, canonicalize_name(raw_name))
        else:
            raw_name, version = parse_sdist_filename(filename)
            metadata = None
        if requires_python is None and metadata is not None:
            requires_python = metadata_requires_python(metadata)
        data = path.read_bytes()
        target = self.files_dir / filename
        if path.resolve() != target.resolve():
            shutil.copyfile(path, target)
        entry = IndexFile(
            filename=filename,
            project=canonicalize_name(raw_name),
            version=version,
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            upload_time=upload_time_text(upload_time),
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

    # -- routing ---------------------------------------------------------------------------

    def _snapshot(self) -> list[IndexFile]:
        with self._lock:
            return sorted(self._files.values(), key=lambda f: (f.project, f.version, f.filename))

    def _projects(self) -> list[NormalizedName]:
        return sorted({f.project for f in self._snapshot()})

    def _respond(
        self, method: str, raw_path: str, headers: dict[str, str]
    ) -> Response | Literal["drop"]:
        """The response to one request (``"drop"`` closes the connection unanswered)."""
        self._record(RequestRecord(method, raw_path, headers))
        if not self._authorized(headers.get("authorization")):
            return Response(
                HTTPStatus.UNAUTHORIZED,
                b"401 unauthorized\n",
                {"WWW-Authenticate": 'Basic realm="toolcache-tests"'},
            )
        failure = self._take_failure(raw_path)
        if failure == 0:
            return "drop"
        if failure is not None:
            return Response(failure, f"{failure} injected failure\n".encode())
        if method not in ("GET", "HEAD"):
            return Response(HTTPStatus.METHOD_NOT_ALLOWED, b"405\n", {"Allow": "GET, HEAD"})
        path = unquote(urlsplit(raw_path).path)
        if path.startswith("/files/") and path.count("/") == 2:
            response = self._file_response(path.removeprefix("/files/"))
            if self.ranges and method == "GET" and "range" in headers:
                response = ranged(response, headers["range"])
        elif path == "/simple" or path.startswith("/simple/"):
            response = self._simple_response(path, headers.get("accept"))
        else:
            response = Response(HTTPStatus.NOT_FOUND, b"404 not found\n")
        tag = etag(response.body)
        response.headers.setdefault("ETag", tag)
        if response.status == HTTPStatus.OK and etag_matches(headers.get("if-none-match", ""), tag):
            keep = ("ETag", "Cache-Control", "Vary", "Content-Type")
            return Response(
                HTTPStatus.NOT_MODIFIED,
                b"",
                {k: v for k, v in response.headers.items() if k in keep},
            )
        return response

    def _file_response(self, name: str) -> Response:
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
            return Response(HTTPStatus.NOT_FOUND, b"404 not found\n")
        file_headers = {"Content-Type": content_type, "Cache-Control": _FILE_CACHE_CONTROL}
        if self.ranges:
            file_headers["Accept-Ranges"] = "bytes"
        return Response(HTTPStatus.OK, body, file_headers)

    def _simple_response(self, path: str, accept: str | None) -> Response:
        parts = path.split("/")[2:]  # "/simple/foo/" -> ["foo", ""]
        if path == "/simple":
            return redirect("/simple/")
        if parts == [""]:
            project = None
        elif len(parts) <= 2 and parts[0] and (len(parts) == 1 or parts[1] == ""):
            project = parts[0]
            normalized = canonicalize_name(project)
            if project != normalized or len(parts) == 1:
                return redirect(f"/simple/{quote(normalized)}/")
        else:
            return Response(HTTPStatus.NOT_FOUND, b"404 not found\n")
        content_type = HTML_TYPE if self.html_only else negotiate(accept)
        if content_type is None:
            return Response(HTTPStatus.NOT_ACCEPTABLE, b"406 not acceptable\n", {"Vary": "Accept"})
        if project is None:
            body: bytes | None = root_page(self._projects(), content_type)
        else:
            name = canonicalize_name(project)
            files = [f for f in self._snapshot() if f.project == name]
            body = project_page(name, files, content_type) if files else None
        if body is None:
            return Response(HTTPStatus.NOT_FOUND, b"404 not found\n", {"Vary": "Accept"})
        header_type = content_type + ("; charset=utf-8" if content_type == HTML_TYPE else "")
        return Response(
            HTTPStatus.OK,
            body,
            {
                "Content-Type": header_type,
                "Cache-Control": _SIMPLE_CACHE_CONTROL,
                "Vary": "Accept",
            },
        )
