"""The platforms workflow: the suite and the action on Linux, macOS 14 and 15, and Windows
(expected to fail until it lands). actionlint checks it with the others in test_workflows."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integrations import ROOT, load
from tests.integrations.test_workflows import passes, status_check

WORKFLOW = ROOT / ".github" / "workflows" / "platforms.yml"
JOBS = ("tests", "action-cold", "action-warm")


def _legs(job: dict[str, Any]) -> dict[str, bool]:
    """Each runner of the job's matrix and whether it is expected to fail."""
    matrix = job["strategy"]["matrix"]
    legs = dict.fromkeys(matrix["os"], False)
    for extra in matrix.get("include", []):
        legs[extra["os"]] = extra["expected-to-fail"]
    assert job["continue-on-error"] == "${{ matrix.expected-to-fail }}"
    assert job["runs-on"] == "${{ matrix.os }}"
    return legs


@pytest.mark.parametrize("name", JOBS)
def test_every_job_runs_on_linux_and_both_macs_and_tries_windows(name: str) -> None:
    job = load(WORKFLOW)["jobs"][name]
    assert _legs(job) == {
        "ubuntu-latest": False,
        "macos-14": False,
        "macos-15": False,
        "windows-latest": True,
    }
    assert job["strategy"]["fail-fast"] is False


def test_the_suite_runs_and_the_action_builds_then_restores() -> None:
    jobs = load(WORKFLOW)["jobs"]
    assert "python -m pytest" in [step.get("run") for step in jobs["tests"]["steps"]]
    cold, warm = jobs["action-cold"], jobs["action-warm"]
    assert warm["needs"] == "action-cold"
    suffixes = set()
    for job in (cold, warm):
        (uses,) = [s for s in job["steps"] if s.get("uses") == "./"]
        assert uses["with"]["manifest"] == "examples/tools.yaml"
        suffixes.add(uses["with"]["key-suffix"])
    # One key per run and per runner: macOS 14 and 15 would otherwise share a prefix.
    (suffix,) = suffixes
    assert "matrix.os" in suffix and "github.run_id" in suffix

    assert passes(status_check(cold), {"lint": "built", "types": "built"})
    assert not passes(status_check(cold), {"lint": "built", "types": "restored"})
    warm_check = status_check(warm)
    assert passes(warm_check, {"lint": "restored"}, cache_hit="true")
    assert not passes(warm_check, {"lint": "restored", "types": "built"}, cache_hit="true")
    assert not passes(warm_check, {"lint": "restored"}, cache_hit="false")
