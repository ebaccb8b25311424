"""A real nginx with WebDAV PUT on 127.0.0.1, serving one folder under three prefixes:

- ``/good/``: GET, HEAD and PUT (``create_full_put_path``), as a cache server would be set up;
- ``/flaky/``: the same files, but request bodies over 1 KiB are refused while the upload is
  under way (413 and the connection closed), as a server that fails mid-upload;
- ``/readonly/``: the same files, GET and HEAD only.

Every request is logged (method, path, status) and readable with ``requests()``. ``NGINX`` or
``PATH`` (and ``/usr/sbin``) locate the binary; ``find_nginx()`` returns None when there is
none, or when it lacks the DAV module.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT = 20.0

_CONFIG = """\
worker_processes 1;
daemon off;
master_process on;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
{user}
events {{ worker_connections 64; }}
http {{
    log_format toolcache '$request_method $uri $status';
    access_log {root}/access.log toolcache;
    client_body_temp_path {root}/tmp/body;
    proxy_temp_path {root}/tmp/proxy;
    fastcgi_temp_path {root}/tmp/fastcgi;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
    client_max_body_size 0;
    server {{
        listen 127.0.0.1:{port};
        location /good/ {{
            alias {data}/;
            dav_methods PUT;
            create_full_put_path on;
            dav_access user:rw group:r all:r;
        }}
        location /flaky/ {{
            alias {data}/;
            dav_methods PUT;
            create_full_put_path on;
            client_max_body_size 1k;
        }}
        location /readonly/ {{
            alias {data}/;
            limit_except GET HEAD {{ deny all; }}
        }}
    }}
}}
"""


def find_nginx() -> Path | None:
    """An nginx binary with the DAV module, or None."""
    explicit = os.environ.get("NGINX")
    path = explicit or shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if not path:
        return None
    try:
        proc = subprocess.run([path, "-V"], capture_output=True, text=True, check=False)
    except OSError:
        return None
    return Path(path) if "http_dav_module" in proc.stderr + proc.stdout else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    status: int


class Nginx:
    def __init__(self, root: Path, binary: Path) -> None:
        self.root = root
        self.binary = binary
        self.data = root / "data"
        self.port = 0
        self._marks = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.origin}/good/"

    @property
    def flaky_url(self) -> str:
        return f"{self.origin}/flaky/"

    @property
    def readonly_url(self) -> str:
        return f"{self.origin}/readonly/"

    def start(self) -> None:
        for sub in ("data", "tmp", "logs"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        config = self.root / "nginx.conf"
        user = "user root root;" if os.geteuid() == 0 else ""
        config.write_text(
            _CONFIG.format(root=self.root, data=self.data, port=self.port, user=user),
            encoding="utf-8",
        )
        with (self.root / "stderr.log").open("wb") as stderr:
            self._process = subprocess.Popen(
                [str(self.binary), "-p", str(self.root), "-c", str(config), "-e", "stderr"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"nginx did not start: {self.log()}") from None
                time.sleep(0.02)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=START_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def __enter__(self) -> Nginx:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log(self) -> str:
        parts = []
        for name in ("stderr.log", "error.log"):
            path = self.root / name
            if path.exists():
                parts.append(path.read_text(errors="replace"))
        return "\n".join(parts)

    def requests(self) -> list[Request]:
        """Every request answered so far, in order.

        nginx logs a request just after answering it; one worker handles requests in turn, so
        once a marker request shows up in the log, every earlier one is there too.
        """
        self._marks += 1
        marker = f"/__mark__/{self._marks}"
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            sock.sendall(f"GET {marker} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
            while sock.recv(65536):
                pass
        path = self.root / "access.log"
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            found = []
            text = path.read_text() if path.exists() else ""
            for line in text.splitlines():
                method, uri, status = line.split(" ")
                found.append(Request(method, uri, int(status)))
            if any(r.path == marker for r in found):
                return [r for r in found if not r.path.startswith("/__mark__/")]
            if time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not log {marker}")
            time.sleep(0.01)

    def files(self, kind: str) -> list[Path]:
        """The stored files under ``cas`` or ``ac``."""
        folder = self.data / kind
        return sorted(folder.iterdir()) if folder.is_dir() else []
