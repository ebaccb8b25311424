"""``plan --explain``: why each environment and the key changed since the last plan."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.conftest import Dists
from tests.support.index import LocalIndex
from tests.test_cli import toolcache
from tests.test_plan import _pyenv_python
from tests.test_run import fill


def project(folder: Path, index: LocalIndex, lint_with: str = "") -> Path:
    """Two tools from the index ``tests.test_run.fill`` makes (lintme needing helper)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tools.yaml"
    path.write_text(
        f"index-url: {index.url}\npython: {sys.executable}\ntools:\n"
        "  fmt:\n    from: lintme\n"
        f"  lint:\n    from: lintme\n{lint_with}",
        encoding="utf-8",
    )
    return path


def test_explain_names_the_package_and_the_manifest_line_that_moved(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    fill(local_index, dists)  # helper 2.0
    path = project(tmp_path / "p", local_index)
    first = toolcache("plan", "-m", str(path), cwd=path.parent)
    assert first.returncode == 0, first.stderr

    local_index.add(dists.wheel("helper", "2.1"))
    project(tmp_path / "p", local_index, lint_with="    with: ['helper>=2.1']\n")
    explained = toolcache("plan", "-m", str(path), "--explain", cwd=path.parent)
    assert explained.returncode == 0, explained.stderr
    text = explained.stdout
    assert "fmt: unchanged" in text
    assert "lint: environment " in text
    assert "packages: helper 2.0 -> 2.1" in text
    assert "input requirements: + helper>=2.1 (tools.yaml:6)" in text  # the tool's entry
    assert "key: toolcache-v1-" in text and " -> toolcache-v1-" in text


def test_explain_without_an_earlier_plan_says_how_to_give_one(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    fill(local_index, dists)  # helper 2.0
    path = project(tmp_path / "p", local_index)
    done = toolcache("plan", "-m", str(path), "--explain", cwd=path.parent)
    assert done.returncode == 1
    assert "no earlier plan" in done.stderr and "--against" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.skipif(_pyenv_python("12") is None, reason="needs pyenv's 3.12")
def test_explain_against_another_runner_s_plan_names_the_interpreter_field(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    """The previous CI run's ``plan --format json`` (here: made with another Python) given
    with --against: the explanation names the interpreter fields that differ."""
    fill(local_index, dists)  # helper 2.0
    path = project(tmp_path / "p", local_index)
    other = _pyenv_python("12")
    assert other is not None
    earlier = toolcache("plan", "-m", str(path), "--python", str(other), "--format", "json",
                        cwd=path.parent)  # fmt: skip
    assert earlier.returncode == 0, earlier.stderr
    saved = tmp_path / "previous-plan.json"
    saved.write_text(earlier.stdout, encoding="utf-8")
    explained = toolcache("plan", "-m", str(path), "--explain", "--against", str(saved),
                          cwd=path.parent)  # fmt: skip
    assert explained.returncode == 0, explained.stderr
    assert "interpreter python_full_version: 3.12." in explained.stdout
    assert "python: CPython 3.12" in explained.stdout
