"""One multi-target lock selects, for every target, exactly what uv resolves for that target alone.

Each corpus case that expects pins is locked by toolcache once for 3 Python versions x 3
platforms (the ``exclude-newer`` is the corpus cutoff). For every one of the 9 targets, what
``packaging.pylock`` selects from that lock is compared, as ``name==version`` pins, with
``uv pip compile`` run for that target on its own (``--python-version``/``--python-platform``).
Uses the live PyPI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest
import yaml
from packaging.pylock import Pylock, PylockSelectError
from packaging.utils import canonicalize_name

from benchmarks.corpus import DEFAULT_CASES, load_cases
from toolcache import manifest as manifest_mod
from toolcache.errors import ToolcacheError
from toolcache.lockfile.planning import LockMode, Planner
from toolcache.lockfile.targets import LockTarget, parse_python

if TYPE_CHECKING:
    from packaging.markers import Environment

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

PLATFORMS = ("x86_64-manylinux_2_28", "aarch64-apple-darwin", "x86_64-pc-windows-msvc")
#: The Python versions added to a case's own; the first two that differ from it are used.
OTHER_PYTHONS = ("3.13", "3.10", "3.12")
#: Environment variables that would send uv to another index (or give it extra files).
_INDEX_ENV = ("INDEX", "FIND_LINKS", "NO_BINARY", "ONLY_BINARY", "EXCLUDE_NEWER", "PRERELEASE")

Pins = dict[str, str]


def pythons_for(case_python: str) -> list[str]:
    """The case's own Python and two others, three distinct versions, oldest first."""
    others = [p for p in OTHER_PYTHONS if p != case_python][:2]
    return sorted({case_python, *others}, key=lambda p: parse_python(p)[1])


def _params() -> list[Any]:
    if not DEFAULT_CASES.is_file():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{DEFAULT_CASES} is missing"))]
    cutoff, cases = load_cases(DEFAULT_CASES)
    return [
        pytest.param({**case, "cutoff": cutoff}, id=case["id"])
        for case in cases
        if "pins" in case["expect"]
    ]


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One toolcache cache for the module: index pages and metadata are fetched once."""
    return tmp_path_factory.mktemp("toolcache-cache")


@pytest.fixture(scope="module")
def uv_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """uv's environment, with one uv cache shared by the module."""
    return uv_environment(tmp_path_factory.mktemp("uv-cache"))


def uv_environment(cache_dir: Path) -> dict[str, str]:
    """This process's environment without index settings, uv's cache in ``cache_dir``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not (k.startswith(("UV_", "PIP_")) and any(part in k for part in _INDEX_ENV))
    }
    env["UV_CACHE_DIR"] = str(cache_dir)
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["UV_NO_CONFIG"] = "1"  # no uv.toml or [tool.uv] from the user or a parent folder
    return env


def uv_pins(
    requirements: list[str],
    python: str,
    platform: str,
    cutoff: str,
    env: dict[str, str],
    cwd: Path,
) -> Pins | str:
    """What ``uv pip compile`` resolves for one Python and platform, or its error message."""
    proc = subprocess.run(
        [
            "uv", "pip", "compile", "-",
            "--python-version", python,
            "--python-platform", platform,
            "--exclude-newer", cutoff,
            "--no-header", "--no-annotate", "--quiet",
            "--index-url", "https://pypi.org/simple",
        ],
        input="\n".join(requirements) + "\n", capture_output=True, text=True, env=env, cwd=cwd,
        check=False, timeout=300,
    )  # fmt: skip
    if proc.returncode != 0:
        return f"uv failed ({proc.returncode}): {proc.stderr.strip()}"
    return parse_pins(proc.stdout)


def parse_pins(text: str) -> Pins:
    """``name==version`` lines (comments and blank lines ignored), names canonicalized;
    ValueError for any other line."""
    pins: Pins = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        if not sep:
            raise ValueError(f"not a name==version line: {raw!r}")
        pins[canonicalize_name(name.split("[", 1)[0].strip())] = version.strip()
    return pins


def lock_case(case: dict[str, Any], folder: Path, cache_root: Path) -> tuple[Path, list[str]]:
    """Lock the case's requirements for 3 Pythons x ``PLATFORMS``; the lock and the Pythons."""
    pythons = pythons_for(str(case["python"]))
    first, *rest = case["requirements"]
    tool: dict[str, Any] = {"from": first}
    if rest:
        tool["with"] = rest
    manifest_path = folder / "tools.yaml"
    manifest_path.write_text(
        yaml.safe_dump(
            {
                "exclude-newer": case["cutoff"],
                "environments": {"python": pythons, "platforms": list(PLATFORMS)},
                "tools": {"case": tool},
            },
            sort_keys=False,
        ),
        encoding="utf-8",
    )
    mf = manifest_mod.load(manifest_path)
    # AUTO with no lock yet resolves like UPGRADE, but reuses the index pages earlier cases
    # fetched into the module's cache.
    Planner(mf, cache_root=cache_root, mode=LockMode.AUTO).lock_tool(mf.tools["case"])
    return manifest_path.parent / "tools.lock" / "pylock.case.toml", pythons


def selected_pins(lock: Pylock, target: LockTarget) -> Pins | str:
    """What ``packaging.pylock`` selects from ``lock`` for ``target``, or why it cannot."""
    try:
        return {
            canonicalize_name(package.name): str(package.version)
            for package, _file in lock.select(
                environment=cast("Environment", dict(target.target.markers)),
                tags=target.target.tags,
            )
        }
    except PylockSelectError as exc:
        return f"packaging.pylock cannot select: {exc}"


def pin_diff(
    old: Pins | str, new: Pins | str, old_name: str = "uv", new_name: str = "toolcache"
) -> list[str]:
    """Lines saying how ``new`` differs from ``old`` (empty when equal); a str is an error."""
    if isinstance(old, str) or isinstance(new, str):
        return [] if old == new else [f"{old_name}: {old}", f"{new_name}: {new}"]
    lines = []
    for name in sorted(old.keys() | new.keys()):
        was, now = old.get(name), new.get(name)
        if was == now:
            continue
        if now is None:
            lines.append(f"- {name}=={was} ({old_name} only)")
        elif was is None:
            lines.append(f"+ {name}=={now} ({new_name} only)")
        else:
            lines.append(f"~ {name}: {old_name} {was}, {new_name} {now}")
    return lines


def _targets(pythons: list[str]) -> Iterator[LockTarget]:
    for python in pythons:
        implementation, version = parse_python(python)
        for platform in PLATFORMS:
            yield LockTarget(implementation, version, platform)


def test_parse_pins_and_diff() -> None:
    pins = parse_pins("# comment\n\nTypes_PyYAML==6.0.1\nblack[jupyter]==25.1  # via x\n")
    assert pins == {"types-pyyaml": "6.0.1", "black": "25.1"}
    assert pin_diff(pins, pins) == []
    assert pin_diff({"a": "1", "b": "2"}, {"b": "3", "c": "4"}) == [
        "- a==1 (uv only)",
        "~ b: uv 2, toolcache 3",
        "+ c==4 (toolcache only)",
    ]
    with pytest.raises(ValueError, match="not a name==version"):
        parse_pins("black>=24\n")
    assert pythons_for("3.9") == ["3.9", "3.10", "3.13"]
    assert pythons_for("3.12") == ["3.10", "3.12", "3.13"]
    assert pythons_for("3.13") == ["3.10", "3.12", "3.13"]


@pytest.mark.network
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("uv") is None, reason="uv is not on PATH")
@pytest.mark.parametrize("case", _params())
def test_selection_matches_uv_per_target(
    case: dict[str, Any], tmp_path: Path, cache_root: Path, uv_env: dict[str, str]
) -> None:
    try:
        lock_path, pythons = lock_case(case, tmp_path, cache_root)
    except ToolcacheError as exc:
        pytest.fail(f"toolcache could not lock {case['id']}: {exc}")
    lock = Pylock.from_dict(tomllib.loads(lock_path.read_text(encoding="utf-8")))
    targets = list(_targets(pythons))
    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        uv_answers = list(
            pool.map(
                lambda t: uv_pins(
                    case["requirements"],
                    t.python_text,
                    t.platform,
                    case["cutoff"],
                    uv_env,
                    tmp_path,
                ),
                targets,
            )
        )
    problems = []
    for target, uv in zip(targets, uv_answers, strict=True):
        lines = pin_diff(uv, selected_pins(lock, target))
        if lines:
            problems.append(f"{target.name}:\n" + "\n".join(f"    {line}" for line in lines))
    assert not problems, (
        f"{case['id']} ({' '.join(case['requirements'])}): toolcache's lock {lock_path} selects "
        f"other pins than `uv pip compile` on {len(problems)} of {len(targets)} targets\n"
        + "\n".join(problems)
    )
