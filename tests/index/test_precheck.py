"""``Evaluator.precheck`` and the ``keep`` hook of the page parsers: a cheap first look that
must never turn away a file the full evaluation would take."""

from __future__ import annotations

import itertools
import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from packaging.tags import Tag
from packaging.utils import canonicalize_name

from tests.conftest import Dists
from tests.index.test_finder import finder_for, page_requests
from tests.support.index import LocalIndex
from toolcache.index.evaluate import (
    NO_SUPPORTED_TAG,
    Evaluator,
    Rejected,
    TagParts,
)
from toolcache.index.simple import RawFile, parse_html, parse_json, parse_upload_time
from toolcache.platforms import target_for
from toolcache.target import Target

TARGET = Target(
    markers={"python_full_version": "3.11.7", "python_version": "3.11"},
    tags=(
        Tag("cp311", "cp311", "manylinux_2_17_x86_64"),
        Tag("cp311", "abi3", "manylinux_2_17_x86_64"),
        Tag("cp311", "none", "manylinux_2_17_x86_64"),
        Tag("py3", "none", "any"),
    ),
)
PKG = canonicalize_name("pkg")
CUTOFF = datetime(2024, 6, 1, 12, 0, 0, 500000, tzinfo=timezone.utc)

FILENAMES = [
    "pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.whl",
    "pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "pkg-1.0-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
    "pkg-1.0-cp311-cp311-win_amd64.whl",
    "pkg-1.0-cp312-cp312-manylinux_2_17_x86_64.whl",
    "pkg-1.0-cp310.cp311-abi3-manylinux_2_17_x86_64.whl",
    "pkg-1.0-CP311-ABI3-MANYLINUX_2_17_X86_64.whl",
    "pkg-1.0-1build-cp311-cp311-manylinux_2_17_x86_64.whl",
    "pkg-1.0-1build-cp39-cp39-win32.whl",
    "pkg-1.0-py2.py3-none-any.whl",
    "pkg-1.0-py2-none-any.whl",
    "pkg-1.0-py3-none-any.WHL",
    "pkg-1.0-py3-none-any.Whl",
    "PKG-1.0-py3-none-any.whl",
    "other-1.0-py3-none-any.whl",
    "other-1.0-cp39-cp39-win32.whl",
    "pkg-1.0-none-any.whl",
    "pkg-py3-none-any.whl",
    "pkg-1.0-a-b-c-py3-none-any.whl",
    "pkg-1.0-py3..-none-any.whl",
    "pkg-1.0-py3-none-.whl",
    "pkg-notaversion!-py3-none-any.whl",
    ".whl",
    "pkg-1.0.tar.gz",
    "pkg-1.0.zip",
    "pkg-1.0.egg",
]
UPLOAD_TIMES: list[str | None] = [
    None,
    "2024-01-01T00:00:00Z",
    "2024-06-01T12:00:00Z",
    "2024-06-01T12:00:00.4Z",
    "2024-06-01T12:00:00.500000Z",
    "2024-06-01T12:00:00.6Z",
    "2024-06-01T12:00:01Z",
    "2024-06-01T12:00:01.000001+00:00",
    "2024-06-01T13:00:00+01:00",  # 12:00 UTC: not plain UTC, so only the full check decides
    "2024-06-01 12:30:00Z",
    "2030-01-01T00:00:00z",
    "2030-01-01",
    "garbage",
]


@pytest.fixture
def cache_root(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def _outcome(evaluator: Evaluator, raw: RawFile) -> str | None:
    try:
        evaluator.evaluate(raw)
    except Rejected as exc:
        return exc.reason
    return None


@pytest.mark.parametrize(
    "exclude_newer",
    [
        None,
        CUTOFF,
        CUTOFF.astimezone(timezone(timedelta(hours=2))),
        CUTOFF.replace(tzinfo=None),
        CUTOFF.replace(microsecond=0),
    ],
)
def test_precheck_rejects_only_what_evaluate_rejects(exclude_newer: datetime | None) -> None:
    evaluator = Evaluator(PKG, TARGET, exclude_newer)
    prechecked = 0
    for filename, upload_time in itertools.product(FILENAMES, UPLOAD_TIMES):
        raw = RawFile(
            filename=filename,
            url=f"https://h/{filename}",
            index="https://h/simple",
            upload_time=parse_upload_time(upload_time) if upload_time is not None else None,
        )
        reason = evaluator.precheck(filename, upload_time)
        if reason is not None:
            prechecked += 1
            assert _outcome(evaluator, raw) is not None, (filename, upload_time, reason)
    assert prechecked > 0


def test_precheck_reasons() -> None:
    evaluator = Evaluator(PKG, TARGET, CUTOFF)
    ok_time = "2024-01-01T00:00:00Z"
    assert evaluator.precheck("pkg-1.0-cp311-cp311-win_amd64.whl", ok_time) == NO_SUPPORTED_TAG
    assert evaluator.precheck("pkg-1.0-cp312-abi3-any.whl", ok_time) == NO_SUPPORTED_TAG
    assert evaluator.precheck("pkg-1.0-py3-none-win32.whl", ok_time) == NO_SUPPORTED_TAG
    # Each part occurs in some tag of the target, though no tag has all three: evaluate decides.
    assert evaluator.precheck("pkg-1.0-py3-cp311-any.whl", ok_time) is None
    assert evaluator.precheck("pkg-1.0-py2.py3-none-any.whl", ok_time) is None
    assert evaluator.precheck("pkg-1.0.tar.gz", "2024-06-01T12:00:01Z") == (
        "uploaded 2024-06-01T12:00:01Z, after exclude-newer"
    )
    # The same second as the cutoff, or a form other than plain UTC: the full check decides.
    assert evaluator.precheck("pkg-1.0.tar.gz", "2024-06-01T12:00:00.9Z") is None
    assert evaluator.precheck("pkg-1.0.tar.gz", "2024-06-01T14:00:00+02:00") is None
    assert Evaluator(PKG, TARGET).precheck("pkg-1.0.tar.gz", "2099-01-01T00:00:00Z") is None


def test_tag_parts_of_a_real_target() -> None:
    target = target_for("3.11", "x86_64-manylinux_2_28")
    parts = TagParts.of(target)
    pydantic_core = Evaluator(canonicalize_name("pydantic-core"), target)
    assert {"cp311", "py3", "cp39"} <= parts.interpreters
    assert {"cp311", "abi3", "none"} <= parts.abis
    assert {"manylinux_2_28_x86_64", "manylinux2014_x86_64", "any"} <= parts.platforms
    for filename in [
        "pydantic_core-2.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "pydantic_core-2.0-cp39-abi3-manylinux_2_28_x86_64.whl",
        "pydantic_core-2.0-py3-none-any.whl",
    ]:
        assert parts.may_match(filename)
        parsed = pydantic_core.check_filename(RawFile(filename, "u", "i"))
        assert target.tag_rank(parsed.tags) is not None
    for filename in [
        "pydantic_core-2.0-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
        "pydantic_core-2.0-cp311-cp311-musllinux_1_1_x86_64.whl",
        "pydantic_core-2.0-cp311-cp311-manylinux_2_31_x86_64.whl",
        "pydantic_core-2.0-cp312-cp312-manylinux_2_17_x86_64.whl",
        "pydantic_core-2.0-pp310-pypy310_pp73-manylinux_2_17_x86_64.whl",
        "pydantic_core-2.0-cp311-cp311-macosx_11_0_arm64.whl",
    ]:
        assert not parts.may_match(filename), filename


def test_json_keep_sees_filename_and_upload_time_first() -> None:
    doc = {
        "meta": {"api-version": "1.1"},
        "name": "pkg",
        "files": [
            {
                "filename": "pkg-1.0-cp39-cp39-win32.whl",
                "url": "../../files/pkg-1.0-cp39-cp39-win32.whl",
                "hashes": {"sha256": "a" * 64},
                "upload-time": "2024-01-01T00:00:00Z",
            },
            {
                "filename": "pkg-1.0.tar.gz",
                "url": "../../files/pkg-1.0.tar.gz",
                "hashes": {},
                "upload-time": 12,
            },
        ],
    }
    seen: list[tuple[str, str | None]] = []

    def keep(filename: str, upload_time: str | None) -> bool:
        seen.append((filename, upload_time))
        return filename.endswith(".tar.gz")

    body = json.dumps(doc).encode()
    (only,) = parse_json(body, "https://idx.example/simple/pkg/", "idx", keep=keep)
    assert only.url == "https://idx.example/files/pkg-1.0.tar.gz"
    assert only.upload_time is None
    assert seen == [
        ("pkg-1.0-cp39-cp39-win32.whl", "2024-01-01T00:00:00Z"),
        ("pkg-1.0.tar.gz", None),
    ]
    assert len(parse_json(body, "https://idx.example/simple/pkg/", "idx")) == 2


def test_html_keep() -> None:
    body = b'<a href="pkg-1.0-cp39-cp39-win32.whl">x</a><a href="pkg-1.0.tar.gz">y</a>'
    kept = parse_html(
        body,
        "https://idx.example/simple/pkg/",
        "idx",
        keep=lambda f, t: t is None and f.endswith(".gz"),
    )
    assert [f.filename for f in kept] == ["pkg-1.0.tar.gz"]


def test_find_reports_prechecked_files_as_rejected(
    local_index: LocalIndex, dists: Dists, cache_root: Path
) -> None:
    local_index.add(dists.wheel("pkg", "1.0"), upload_time="2023-01-01T00:00:00Z")
    local_index.add(
        dists.wheel("pkg", "1.0", tag="cp39-cp39-win_amd64"), upload_time="2023-01-01T00:00:00Z"
    )
    local_index.add(dists.wheel("pkg", "2.0"), upload_time="2025-01-01T00:00:00Z")
    local_index.add(dists.sdist("pkg", "2.0"), upload_time="2025-01-01T00:00:00.000001Z")
    cutoff = datetime(2024, 1, 1, tzinfo=timezone.utc)
    with finder_for(local_index.url, cache_root, exclude_newer=cutoff) as finder:
        result = finder.find_result(canonicalize_name("pkg"))
    assert [f.filename for f in result.files] == ["pkg-1.0-py3-none-any.whl"]
    assert sorted(result.rejections) == [
        ("pkg-1.0-cp39-cp39-win_amd64.whl", NO_SUPPORTED_TAG),
        ("pkg-2.0-py3-none-any.whl", "uploaded 2025-01-01T00:00:00Z, after exclude-newer"),
        ("pkg-2.0.tar.gz", "uploaded 2025-01-01T00:00:00.000001Z, after exclude-newer"),
    ]


def test_prefetch_follows_the_dependencies_of_the_newest_release(
    local_index: LocalIndex, dists: Dists, cache_root: Path
) -> None:
    local_index.add(
        dists.wheel(
            "top",
            "1.0",
            requires=["Middle_Dep>=1", "never; sys_platform == 'no-such-os'", "opt; extra == 'x'"],
            extras={"x": ["opt"]},
        )
    )
    local_index.add(dists.wheel("middle-dep", "1.0", requires=["leaf"]))
    local_index.add(dists.wheel("leaf", "1.0", requires=["middle-dep"]))  # a cycle ends
    for project in ["never", "opt"]:
        local_index.add(dists.wheel(project, "1.0"))
    with finder_for(local_index.url, cache_root) as finder:
        finder.prefetch([canonicalize_name("top")])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not page_requests(local_index, "leaf"):
            time.sleep(0.02)
        assert page_requests(local_index, "leaf"), "leaf was not prefetched"
        (leaf,) = finder.find(canonicalize_name("leaf"))
        assert finder.metadata(leaf).name == "leaf"
    for project in ["top", "middle-dep", "leaf"]:
        assert len(page_requests(local_index, project)) == 1, project
    assert page_requests(local_index, "never") == []
    assert page_requests(local_index, "opt") == []
