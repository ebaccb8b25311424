from __future__ import annotations

from pathlib import Path

import pytest

from tests.archive.crafted import Setup, make_setup
from tests.support.index import LocalIndex


@pytest.fixture
def setup(tmp_path: Path, local_index: LocalIndex, monkeypatch: pytest.MonkeyPatch) -> Setup:
    """A good archive of ``lintme``'s environment, and runner B to restore crafted ones."""
    return make_setup(tmp_path, local_index, monkeypatch)
