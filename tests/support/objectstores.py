"""Real object-store servers on 127.0.0.1 for the store tests, each started as a process:

- ``MotoS3``: moto's S3 server (``python -m moto.server``, from ``moto[server]``), standing in
  for AWS S3, MinIO, R2 or Ceph. With ``check_credentials`` it verifies request signatures
  against IAM (``INITIAL_NO_AUTH_ACTION_COUNT``), so that unknown keys are refused as AWS
  refuses them; it then allows one unsigned request, the one that creates the bucket.
- ``Azurite``: Microsoft's Azure Storage emulator (npm ``azurite``: ``AZURITE``, ``PATH`` or
  ``.ci/node_modules/.bin`` locate ``azurite-blob``), in memory, standing in for Azure Blob
  Storage. Its well-known development account checks every request's shared-key signature.
- ``CuttingProxy``: a TCP proxy that closes a connection once the client has sent more than
  ``limit`` bytes without an answer in between: an upload cut mid-way, while the small
  requests around it go through.

Each test gets its own bucket or container (``new_bucket``) and the environment variables
that point obstore at it (``environment``).
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import hashlib
import hmac
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import TypeVar

import httpx

START_TIMEOUT = 30.0
REPO = Path(__file__).resolve().parents[2]

#: Azurite's documented development account (public, the same in every installation).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(port: int, process: subprocess.Popen[bytes], name: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"{name} did not start on port {port}") from None
            time.sleep(0.05)


_S = TypeVar("_S", bound="_Server")


class _Server:
    name = "server"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def extra_env(self) -> dict[str, str]:
        return {}

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        log = self.root / f"{self.name}.log"
        with log.open("wb") as out:
            self._process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.extra_env()},
                cwd=self.root,
            )
        _wait_for(self.port, self._process, self.name, log)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def __enter__(self: _S) -> _S:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def moto_available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("moto", "flask", "obstore"))


class MotoS3(_Server):
    name = "moto"

    def __init__(self, root: Path, *, check_credentials: bool = False) -> None:
        super().__init__(root)
        self.check_credentials = check_credentials

    def command(self) -> list[str]:
        return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]

    def extra_env(self) -> dict[str, str]:
        return {"INITIAL_NO_AUTH_ACTION_COUNT": "1"} if self.check_credentials else {}

    def new_bucket(self) -> str:
        """A new empty bucket (unsigned: moto does not check signatures by default)."""
        bucket = f"toolcache-{uuid.uuid4().hex[:12]}"
        response = httpx.put(f"{self.endpoint}/{bucket}", timeout=30)
        response.raise_for_status()
        return bucket

    def environment(self, endpoint: str | None = None) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": "AKIATOOLCACHETEST",
            "AWS_SECRET_ACCESS_KEY": "toolcache-test-secret-key",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": endpoint or self.endpoint,
        }


def find_azurite() -> Path | None:
    explicit = os.environ.get("AZURITE")
    found = explicit or shutil.which("azurite-blob")
    if found:
        return Path(found)
    local = REPO / ".ci" / "node_modules" / ".bin" / "azurite-blob"
    return local if local.exists() else None


class Azurite(_Server):
    name = "azurite"

    def __init__(self, root: Path, binary: Path) -> None:
        super().__init__(root)
        self.binary = binary

    def command(self) -> list[str]:
        return [
            str(self.binary),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(self.port),
            "--inMemoryPersistence",
            "--skipApiVersionCheck",
            "--disableTelemetry",
            "--silent",
            "--loose",
        ]

    @property
    def account_url(self) -> str:
        return f"{self.endpoint}/{AZURITE_ACCOUNT}"

    def new_bucket(self) -> str:
        """A new container, created with a shared-key signed request (Azure's REST API)."""
        container = f"toolcache-{uuid.uuid4().hex[:12]}"
        date = email.utils.formatdate(usegmt=True)
        headers = {"x-ms-date": date, "x-ms-version": "2021-08-06", "Content-Length": "0"}
        canonical = "".join(f"{k}:{v}\n" for k, v in sorted(headers.items()) if k[:5] == "x-ms-")
        resource = f"/{AZURITE_ACCOUNT}/{AZURITE_ACCOUNT}/{container}\nrestype:container"
        to_sign = "PUT\n" + "\n" * 11 + canonical + resource
        key = base64.b64decode(AZURITE_KEY)
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).digest()
        headers["Authorization"] = (
            f"SharedKey {AZURITE_ACCOUNT}:{base64.b64encode(signature).decode()}"
        )
        url = f"{self.account_url}/{container}?restype=container"
        httpx.put(url, headers=headers, timeout=30).raise_for_status()
        return container

    def environment(self) -> dict[str, str]:
        return {
            "AZURE_STORAGE_ACCOUNT_NAME": AZURITE_ACCOUNT,
            "AZURE_STORAGE_ACCOUNT_KEY": AZURITE_KEY,
            "AZURE_STORAGE_ENDPOINT": self.account_url,
        }


class CuttingProxy:
    """127.0.0.1:<port> forwarded to ``upstream``; a connection is closed once its client has
    sent more than ``limit`` bytes with no answer in between. ``cuts`` counts the closings."""

    def __init__(self, upstream: int, limit: int) -> None:
        self.upstream = upstream
        self.limit = limit
        self.cuts = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> CuttingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()
        self._thread.join(timeout=10)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream))
            with self._lock:
                self._sockets += [client, server]
            burst = [0]
            for source, target, upstream in ((client, server, True), (server, client, False)):
                threading.Thread(
                    target=self._pump, args=(source, target, upstream, burst), daemon=True
                ).start()

    def _pump(
        self, source: socket.socket, target: socket.socket, upstream: bool, burst: list[int]
    ) -> None:
        try:
            while data := source.recv(65536):
                if upstream:
                    burst[0] += len(data)
                    if burst[0] > self.limit:
                        self.cuts += 1
                        break
                else:
                    burst[0] = 0
                target.sendall(data)
        except OSError:
            pass
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
