from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.nginx import Nginx, find_nginx
from tests.support.objectstores import Azurite, MotoS3, find_azurite, moto_available


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Nginx]:
    """A started nginx with WebDAV PUT (see ``tests.support.nginx``); skips without one."""
    binary = find_nginx()
    if binary is None:
        pytest.skip("nginx with the DAV module is not installed (apt-get install nginx)")
    with Nginx(tmp_path / "nginx", binary) as server:
        yield server


_CLOUD_PREFIXES = ("AWS_", "AZURE_", "AZURITE_", "GOOGLE_", "GCS_", "GCP_")


@pytest.fixture(autouse=True)
def _no_cloud_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """No store test sees the machine's cloud credentials or settings."""
    for name in list(os.environ):
        if name.startswith(_CLOUD_PREFIXES):
            monkeypatch.delenv(name)


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Object stores give up after one quick retry (a cut upload, a closed port)."""
    from datetime import timedelta

    from toolcache.store import object as object_store

    monkeypatch.setattr(object_store, "MAX_RETRIES", 1)
    monkeypatch.setattr(object_store, "RETRY_DEADLINE", timedelta(seconds=5))
    monkeypatch.setattr(object_store, "FIRST_BACKOFF", timedelta(milliseconds=10))
    monkeypatch.setattr(object_store, "CONNECT_TIMEOUT", timedelta(seconds=2))


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoS3]:
    if not moto_available():
        pytest.skip("moto's S3 server is not installed (pip install 'moto[server]' obstore)")
    server = MotoS3(tmp_path_factory.mktemp("moto"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def azurite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    binary = find_azurite()
    if binary is None:
        pytest.skip("Azurite is not installed (npm install --prefix .ci azurite, or AZURITE=)")
    server = Azurite(tmp_path_factory.mktemp("azurite"), binary)
    server.start()
    yield server
    server.stop()


@dataclass(frozen=True)
class Bucket:
    """A new bucket (or container) on a started server, and the ``--store`` URL of a prefix
    in it; the environment points obstore at the server."""

    scheme: str
    name: str
    server: MotoS3 | Azurite

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.name}/fleet"


@pytest.fixture
def s3(moto_server: MotoS3, monkeypatch: pytest.MonkeyPatch, fast_retries: None) -> Bucket:
    for name, value in moto_server.environment().items():
        monkeypatch.setenv(name, value)
    return Bucket("s3", moto_server.new_bucket(), moto_server)


@pytest.fixture
def azure(azurite_server: Azurite, monkeypatch: pytest.MonkeyPatch, fast_retries: None) -> Bucket:
    for name, value in azurite_server.environment().items():
        monkeypatch.setenv(name, value)
    return Bucket("az", azurite_server.new_bucket(), azurite_server)
