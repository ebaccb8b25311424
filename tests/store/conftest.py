from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.nginx import Nginx, find_nginx


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Nginx]:
    """A started nginx with WebDAV PUT (see ``tests.support.nginx``); skips without one."""
    binary = find_nginx()
    if binary is None:
        pytest.skip("nginx with the DAV module is not installed (apt-get install nginx)")
    with Nginx(tmp_path / "nginx", binary) as server:
        yield server
