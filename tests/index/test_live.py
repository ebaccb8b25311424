"""One light check against the live PyPI."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.tags import sys_tags
from packaging.utils import canonicalize_name
from packaging.version import Version

from toolcache.index.finder import IndexFinder
from toolcache.index.models import IndexSettings
from toolcache.target import Target

SIX_WHEEL = "six-1.16.0-py2.py3-none-any.whl"
SIX_SHA256 = "8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254"


@pytest.mark.network
def test_six_on_pypi(tmp_path: Path) -> None:
    markers = {k: str(v) for k, v in default_environment().items()}
    target = Target(markers=markers, tags=tuple(sys_tags()))
    with IndexFinder(IndexSettings(), target, tmp_path / "cache") as finder:
        files = finder.find(canonicalize_name("six"))
        (six,) = [f for f in files if f.version == Version("1.16.0")]
        assert six.filename == SIX_WHEEL
        assert six.sha256 == SIX_SHA256
        assert six.url.startswith("https://")
        meta = finder.metadata(six)
    assert meta.name == "six"
    assert meta.requires_dist == ()
