"""The workflows in ``.github/workflows`` and ``examples/``: actionlint, and what e2e checks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from packaging.specifiers import SpecifierSet

from tests.integrations import EXAMPLE_WORKFLOW, ROOT, WORKFLOWS, load

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]


def test_the_workflows_exist() -> None:
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "e2e.yml"}
    assert EXAMPLE_WORKFLOW.is_file()


@pytest.mark.parametrize(
    "path", [*WORKFLOWS, EXAMPLE_WORKFLOW], ids=lambda p: str(p.relative_to(ROOT))
)
def test_actionlint(path: Path) -> None:
    """actionlint (from PyPI, see the test extra) finds nothing; it reads ``uses: ./`` against
    action.yml's inputs, and runs shellcheck on ``run:`` scripts when shellcheck is there."""
    actionlint = shutil.which("actionlint")
    if actionlint is None:
        pytest.skip("actionlint is not installed (pip install -e '.[test]')")
    proc = subprocess.run(
        [actionlint, "-no-color", str(path.relative_to(ROOT))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_rejects_a_broken_workflow(tmp_path: Path) -> None:
    """The checker above is a real one: it fails a workflow with an undefined step output."""
    actionlint = shutil.which("actionlint")
    if actionlint is None:
        pytest.skip("actionlint is not installed (pip install -e '.[test]')")
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ steps.nope.outputs.key }}\n"
    )
    proc = subprocess.run(
        [actionlint, "-no-color", str(bad)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert "nope" in proc.stdout


def test_ci_tests_every_supported_python() -> None:
    ci = load(ROOT / ".github" / "workflows" / "ci.yml")
    versions = ci["jobs"]["tests"]["strategy"]["matrix"]["python"]
    assert versions == ["3.10", "3.11", "3.12", "3.13"]
    # The oldest one tested is the oldest one pyproject.toml allows.
    requires_python = SpecifierSet(
        tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
            "requires-python"
        ]
    )
    assert all(v in requires_python for v in versions), requires_python
    major, minor = map(int, versions[0].split("."))
    assert f"{major}.{minor - 1}" not in requires_python, requires_python
    commands = " ".join(step.get("run", "") for job in ci["jobs"].values() for step in job["steps"])
    for needed in ("pytest", "ruff check", "ruff format --check", "mypy"):
        assert needed in commands, needed


def status_check(job: dict[str, Any]) -> str:
    """The script of the job's one step that reads the action's ``statuses`` output."""
    (step,) = [s for s in job["steps"] if "STATUSES" in s.get("env", {})]
    script = step["run"]
    assert isinstance(script, str)
    return script


def passes(script: str, statuses: dict[str, str], cache_hit: str = "false") -> bool:
    """Whether the step's script succeeds, run by bash as the runner would, given these outputs."""
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "STATUSES": json.dumps(statuses),
        "CACHE_HIT": cache_hit,
    }
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode == 0


def test_e2e_first_job_builds_and_the_second_restores_every_tool() -> None:
    e2e = load(ROOT / ".github" / "workflows" / "e2e.yml")
    build, restore = e2e["jobs"]["build"], e2e["jobs"]["restore"]
    assert restore["needs"] == "build"
    for job in (build, restore):
        (uses,) = [s for s in job["steps"] if s.get("uses") == "./"]
        assert uses["with"]["manifest"] == "examples/tools.yaml"
    suffixes = {
        s["with"]["key-suffix"]
        for job in (build, restore)
        for s in job["steps"]
        if "with" in s and "key-suffix" in s["with"]
    }
    assert len(suffixes) == 1 and "github.run_id" in suffixes.pop()

    built = status_check(build)
    assert passes(built, {"lint": "built", "types": "built"})
    assert not passes(built, {"lint": "built", "types": "restored"})
    assert not passes(built, {})

    restored = status_check(restore)
    assert passes(restored, {"lint": "restored", "types": "restored"}, cache_hit="true")
    assert not passes(restored, {"lint": "restored", "types": "built"}, cache_hit="true")
    assert not passes(restored, {"lint": "restored", "types": "restored"}, cache_hit="false")
    assert not passes(restored, {"lint": "hit"}, cache_hit="true")
    assert not passes(restored, {}, cache_hit="true")
