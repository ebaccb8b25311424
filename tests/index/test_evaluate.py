from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from packaging.tags import Tag
from packaging.utils import canonicalize_name
from packaging.version import Version

from toolcache.index.evaluate import Evaluator, Rejected, best_per_version
from toolcache.index.simple import RawFile
from toolcache.target import Target

TARGET = Target(
    markers={"python_full_version": "3.11.7", "python_version": "3.11"},
    tags=(
        Tag("cp311", "cp311", "linux_x86_64"),
        Tag("cp311", "abi3", "linux_x86_64"),
        Tag("py3", "none", "any"),
    ),
)
PKG = canonicalize_name("pkg")


def raw(filename: str, **kw: Any) -> RawFile:
    return RawFile(filename=filename, url=f"https://h/{filename}", index="https://h/simple", **kw)


def test_filename_rules() -> None:
    ev = Evaluator(PKG, TARGET)
    for bad in [
        "pkg-1.0.egg",
        "pkg-1.0.exe",
        "pkg-1.0.tar.bz2",
        "other-1.0.tar.gz",
        "pkg-notaversion!.tar.gz",
        "pkg.whl",
    ]:
        with pytest.raises(Rejected):
            ev.evaluate(raw(bad))
    assert ev.evaluate(raw("PKG-1.0.zip")).kind == "sdist"


def test_tags_requires_python_and_upload_time() -> None:
    ev = Evaluator(PKG, TARGET, datetime(2024, 6, 1, tzinfo=timezone.utc))
    jan = datetime(2024, 1, 1, tzinfo=timezone.utc)
    with pytest.raises(Rejected, match="wheel tag"):
        ev.evaluate(raw("pkg-1.0-cp39-cp39-win_amd64.whl", upload_time=jan))
    with pytest.raises(Rejected, match="requires Python"):
        ev.evaluate(raw("pkg-1.0.tar.gz", upload_time=jan, requires_python=">=3.12"))
    with pytest.raises(Rejected, match="no upload time"):
        ev.evaluate(raw("pkg-1.0.tar.gz"))
    with pytest.raises(Rejected, match="after exclude-newer"):
        ev.evaluate(raw("pkg-1.0.tar.gz", upload_time=datetime(2025, 1, 1, tzinfo=timezone.utc)))
    # An invalid specifier is ignored, not trusted and not fatal.
    kept = ev.evaluate(raw("pkg-1.0.tar.gz", upload_time=jan, requires_python=">=3.6.*"))
    assert kept.requires_python is None
    yanked = ev.evaluate(raw("pkg-1.0.tar.gz", upload_time=jan, yanked="oops"))
    assert yanked.yanked == "oops"


def test_best_per_version() -> None:
    ev = Evaluator(PKG, TARGET)
    files, rejected = ev.evaluate_all(
        raw(n)
        for n in [
            "pkg-1.0-py3-none-any.whl",
            "pkg-1.0-cp311-abi3-linux_x86_64.whl",
            "pkg-1.0-cp311-cp311-linux_x86_64.whl",
            "pkg-1.0.tar.gz",
            "pkg-2.0.zip",
            "pkg-2.0.tar.gz",
            "pkg-3.0-cp39-cp39-win_amd64.whl",
            "pkg-0.5-py2.py3-none-any.whl",
            "pkg-0.5-py3-none-any.whl",
        ]
    )
    assert [r.filename for r in rejected] == ["pkg-3.0-cp39-cp39-win_amd64.whl"]
    best = best_per_version(files)
    assert [(str(f.version), f.filename, f.tag_rank) for f in best] == [
        ("2.0", "pkg-2.0.tar.gz", None),
        ("1.0", "pkg-1.0-cp311-cp311-linux_x86_64.whl", 0),
        ("0.5", "pkg-0.5-py2.py3-none-any.whl", 2),
    ]
    assert best[0].version == Version("2")
