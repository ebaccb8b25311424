"""Locking one tool for many targets: markers, reuse of answers, files per target, selection.

A real index on 127.0.0.1 with wheels built by the tests; selection with ``packaging.pylock``.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import Marker
from packaging.pylock import Pylock

from tests.conftest import Dists
from tests.support.index import LocalIndex
from toolcache import manifest as manifest_mod
from toolcache.errors import ResolutionError
from toolcache.lockfile import targets as lock_targets
from toolcache.lockfile.markers import marker_for
from toolcache.lockfile.planning import LockMode, Planner
from toolcache.lockfile.targets import LockTarget

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

DEFAULT = lock_targets.for_tool(None, None)


def test_default_targets_are_every_supported_python_on_five_platforms() -> None:
    assert len(DEFAULT) == 25
    assert {t.platform for t in DEFAULT} == set(lock_targets.DEFAULT_PLATFORMS)
    assert [t.name for t in lock_targets.for_tool("3.12", None)] == [
        "cpython-3.12-aarch64-apple-darwin",
        "cpython-3.12-aarch64-manylinux_2_28",
        "cpython-3.12-x86_64-apple-darwin",
        "cpython-3.12-x86_64-manylinux_2_28",
        "cpython-3.12-x86_64-pc-windows-msvc",
    ]
    assert {t.python for t in lock_targets.for_tool(">=3.13", None)} == {(3, 13), (3, 14)}
    assert {t.implementation for t in lock_targets.for_tool("pypy3.11", None)} == {"pypy"}


def test_target_names_round_trip_and_platform_spellings_are_one() -> None:
    for target in DEFAULT:
        assert lock_targets.parse(target.name) == target
    assert lock_targets.canonical_platform("linux") == "x86_64-manylinux_2_28"
    assert lock_targets.canonical_platform("x86_64-unknown-linux-gnu") == "x86_64-manylinux_2_28"
    assert lock_targets.canonical_platform("x86_64-manylinux2014") == "x86_64-manylinux_2_17"


def _holds(marker: str | None, target: LockTarget) -> bool:
    return marker is None or Marker(marker).evaluate(dict(target.target.markers))


def test_marker_holds_exactly_on_the_targets_that_use_a_release() -> None:
    rng = random.Random(751)
    subsets = [rng.sample(DEFAULT, rng.randint(1, len(DEFAULT))) for _ in range(150)]
    for used in subsets:
        marker = marker_for(used, DEFAULT)
        for target in DEFAULT:
            assert _holds(marker, target) == (target in used), (marker, target.name)


def test_markers_are_short_where_the_split_is_simple() -> None:
    windows = [t for t in DEFAULT if "windows" in t.platform]
    old = [t for t in DEFAULT if t.python < (3, 11)]
    linux_arm_new = [
        t for t in DEFAULT if t.platform.startswith("aarch64-many") and t.python >= (3, 12)
    ]
    assert marker_for(DEFAULT, DEFAULT) is None
    assert marker_for(windows, DEFAULT) == "sys_platform == 'win32'"
    assert marker_for(old, DEFAULT) == "python_version < '3.11'"
    assert marker_for(linux_arm_new, DEFAULT) == (
        "platform_machine == 'aarch64' and python_version >= '3.12'"
    )


def _index(index: LocalIndex, dists: Dists) -> None:
    index.add(
        dists.wheel(
            "tooly",
            "1.0",
            requires=[
                "helper",
                "backport>=1; python_version < '3.11'",
                "colorish; sys_platform == 'win32'",
            ],
        )
    )
    index.add(dists.wheel("helper", "1.0", requires_python=">=3.8"))
    index.add(dists.wheel("helper", "2.0", requires_python=">=3.12"))
    index.add(dists.wheel("backport", "1.0"))
    index.add(dists.wheel("colorish", "0.3"))


def _lock(
    tmp_path: Path, index_url: str, body: str = "", *, tool: str = "x", **planner: Any
) -> tuple[dict[str, Any], list[str], Path]:
    project = tmp_path / "project"
    project.mkdir(parents=True, exist_ok=True)
    path = project / "tools.yaml"
    path.write_text(
        f"index-url: {index_url}\npython: {sys.executable}\n{body}tools:\n  {tool}: tooly\n",
        encoding="utf-8",
    )
    loaded = manifest_mod.load(path)
    said: list[str] = []
    locked = Planner(
        loaded, cache_root=tmp_path / "cache", progress=said.append, **planner
    ).lock_tool(loaded.tools[tool])
    return tomllib.loads(locked.lock.path.read_text(encoding="utf-8")), said, locked.lock.path


def _selected(document: dict[str, Any], target: LockTarget) -> set[str]:
    pylock = Pylock.from_dict(document)
    return {
        f"{p.name}=={p.version}"
        for p, _ in pylock.select(environment=dict(target.target.markers), tags=target.target.tags)  # type: ignore[arg-type]
    }


def test_25_targets_resolve_once_per_distinct_answer(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    _index(local_index, dists)
    # Planned for a described CPython 3.12 on Linux: no target is added for this interpreter.
    document, said, _ = _lock(tmp_path, local_index.url, python_version="3.12", platform="linux")
    resolved = [line for line in said if line.startswith("resolving for ")]
    # Windows or not, times 3.10 / 3.11 / 3.12 and newer: six different answers at most.
    assert 1 < len(resolved) <= 6, resolved
    assert len(document["environments"]) == 25
    Pylock.from_dict(document).validate()

    markers = {(p["name"], p["version"]): p.get("marker") for p in document["packages"]}
    assert markers == {
        ("backport", "1.0"): "python_version < '3.11'",
        ("colorish", "0.3"): "sys_platform == 'win32'",
        ("helper", "1.0"): "python_version < '3.12'",
        ("helper", "2.0"): "python_version >= '3.12'",
        ("tooly", "1.0"): None,
    }
    (tooly,) = [p for p in document["packages"] if p["name"] == "tooly"]
    # Each dependency names one entry: with a version where the lock lists it twice.
    assert tooly["dependencies"] == [
        {"name": "backport"},
        {"name": "colorish"},
        {"name": "helper", "version": "1.0"},
        {"name": "helper", "version": "2.0"},
    ]
    by_name = {t.name: t for t in DEFAULT}
    assert _selected(document, by_name["cpython-3.10-x86_64-pc-windows-msvc"]) == {
        "tooly==1.0", "helper==1.0", "backport==1.0", "colorish==0.3",
    }  # fmt: skip
    assert _selected(document, by_name["cpython-3.13-aarch64-apple-darwin"]) == {
        "tooly==1.0", "helper==2.0",
    }  # fmt: skip


def test_a_lock_is_the_same_whatever_order_the_targets_are_listed_in(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    _index(local_index, dists)
    forward = "environments:\n  python: ['3.10', '3.12']\n  platforms: [windows, linux]\n"
    backward = "environments:\n  python: ['3.12', '3.10']\n  platforms: [linux, windows]\n"
    _, _, path = _lock(tmp_path / "a", local_index.url, forward)
    _, _, other = _lock(tmp_path / "b", local_index.url, backward)
    first = path.read_text(encoding="utf-8").replace(str(tmp_path / "a"), "")
    assert first == other.read_text(encoding="utf-8").replace(str(tmp_path / "b"), "")


def test_each_target_gets_its_own_wheels_and_an_sdist_only_where_needed(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    local_index.add(dists.wheel("tooly", "1.0", requires=["native"]))
    local_index.add(dists.wheel("native", "1.0", tag="cp312-cp312-manylinux_2_17_x86_64"))
    local_index.add(dists.wheel("native", "1.0", tag="cp312-cp312-win_amd64"))
    local_index.add(dists.wheel("native", "1.0", tag="cp312-cp312-macosx_14_0_arm64"))
    local_index.add(dists.sdist("native", "1.0"))
    body = (
        "environments:\n  python: ['3.12']\n"
        "  platforms: [x86_64-manylinux_2_28, x86_64-pc-windows-msvc, aarch64-apple-darwin]\n"
    )
    document, _, _ = _lock(tmp_path, local_index.url, body)
    (native,) = [p for p in document["packages"] if p["name"] == "native"]
    assert [w["name"] for w in native["wheels"]] == [
        "native-1.0-cp312-cp312-manylinux_2_17_x86_64.whl",
        "native-1.0-cp312-cp312-win_amd64.whl",
    ]
    # macOS 13 (uv's default deployment target) cannot use the macOS 14 wheel: the sdist.
    assert native["sdist"]["name"] == "native-1.0.tar.gz"
    assert all(len(w["hashes"]["sha256"]) == 64 for w in native["wheels"])


def test_a_default_target_that_cannot_resolve_is_left_out_and_a_named_one_fails(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    local_index.add(dists.wheel("tooly", "1.0", requires=["native"]))
    local_index.add(dists.wheel("native", "1.0", tag="cp312-cp312-manylinux_2_17_x86_64"))
    body = "environments:\n  python: ['3.12']\n  platforms: [linux, windows]\n"
    with pytest.raises(ResolutionError, match=r"for cpython-3\.12-x86_64-pc-windows-msvc: "):
        _lock(tmp_path / "named", local_index.url, body)

    # Without environments: every target but CPython 3.12 on Linux x86_64 is left out, said
    # once each (planned for that target, so that no interpreter's own target is added).
    document, said, _ = _lock(
        tmp_path / "default", local_index.url, python_version="3.12", platform="linux"
    )
    left_out = [line for line in said if "cannot be locked for" in line]
    assert len(left_out) == 24
    assert document["environments"] == [
        "implementation_name == 'cpython' and python_version == '3.12' and "
        "sys_platform == 'linux' and platform_machine == 'x86_64'"
    ]


def test_a_fresh_lock_is_used_offline_without_resolving(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    _index(local_index, dists)
    _, _, path = _lock(tmp_path, local_index.url)
    before = path.read_bytes()
    requests = len(local_index.requests)
    loaded = manifest_mod.load(path.parent.parent / "tools.yaml")
    planner = Planner(loaded, cache_root=tmp_path / "cache", mode=LockMode.LOCKED, offline=True)
    locked = planner.lock_tool(loaded.tools["x"])
    assert locked.status == "fresh"
    assert len(local_index.requests) == requests
    assert path.read_bytes() == before


def test_a_marker_inside_a_minor_version_is_locked_as_for_its_first_patch_and_said(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    local_index.add(
        dists.wheel("tooly", "1.0", requires=["backport; python_full_version < '3.11.4'"])
    )
    local_index.add(dists.wheel("backport", "1.0"))
    body = "environments:\n  python: ['3.11', '3.12']\n  platforms: [linux]\n"
    document, said, _ = _lock(
        tmp_path, local_index.url, body, python_version="3.12", platform="linux"
    )
    markers = {p["name"]: p.get("marker") for p in document["packages"]}
    assert markers == {"backport": "python_version < '3.12'", "tooly": None}
    warnings = [line for line in said if "holds on some" in line]
    assert warnings == [
        "warning: 'python_full_version < \"3.11.4\"' holds on some 3.11 releases only: "
        "locked as for 3.11.0"
    ]


def test_a_tool_whose_requirement_applies_nowhere_is_an_error_not_an_empty_environment(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    _index(local_index, dists)
    project = tmp_path / "project"
    project.mkdir()
    path = project / "tools.yaml"
    path.write_text(
        f"index-url: {local_index.url}\ntools:\n  x:\n    from: \"tooly; python_version < '3'\"\n",
        encoding="utf-8",
    )
    loaded = manifest_mod.load(path)
    planner = Planner(loaded, cache_root=tmp_path / "cache")
    with pytest.raises(ResolutionError, match=r"applies to none of its targets"):
        planner.lock_tool(loaded.tools["x"])
    assert not (project / "tools.lock" / "pylock.x.toml").exists()

    # Named targets must all be able to run the tool.
    path.write_text(
        f"index-url: {local_index.url}\n"
        "environments:\n  python: ['3.10', '3.12']\n  platforms: [linux]\n"
        "tools:\n  x:\n    from: \"tooly; python_version >= '3.11'\"\n",
        encoding="utf-8",
    )
    loaded = manifest_mod.load(path)
    with pytest.raises(ResolutionError, match=r"for cpython-3\.10-x86_64-manylinux_2_28: "):
        Planner(loaded, cache_root=tmp_path / "cache").lock_tool(loaded.tools["x"])
