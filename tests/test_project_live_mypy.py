"""Real mypy from the live PyPI sees the project's dependencies only through ``with-groups``
and ``with-project``, and its sources through ``env: {MYPYPATH: src}``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.network, pytest.mark.slow]

PYPROJECT = """\
[project]
name = "pkg"
version = "0.1"
dependencies = ["attrs==24.2.0"]

[dependency-groups]
base = ["packaging==24.1"]
typing = [{include-group = "base"}]
"""

SOURCE = """\
import attrs
from packaging.version import Version


@attrs.define
class Pinned:
    name: str
    version: Version


def newest(pins: list[Pinned]) -> Pinned:
    return max(pins, key=lambda p: p.version)
"""

MANIFEST = """\
python: {python}
exclude-newer: 2026-01-01
tools:
  types:
    from: mypy==1.13.0
    with-groups: [typing]
    with-project: true
    env: {{MYPYPATH: src}}
  bare:
    from: mypy==1.13.0
    env: {{MYPYPATH: src}}
"""


def test_mypy_passes_only_with_the_project_dependencies(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "__init__.py").write_text(SOURCE, encoding="utf-8")
    manifest = tmp_path / "tools.yaml"
    manifest.write_text(MANIFEST.format(python=sys.executable), encoding="utf-8")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "toolcache", "run", "-m", str(manifest), *args],
            cwd=tmp_path, capture_output=True, text=True, check=False,
        )  # fmt: skip

    ok = run("types", "--", "--strict", "--no-incremental", "-p", "pkg")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Success: no issues found" in ok.stdout
    bare = run("bare", "--", "--strict", "--no-incremental", "-p", "pkg")
    assert bare.returncode == 1, bare.stdout + bare.stderr
    assert 'Cannot find implementation or library stub for module named "attrs"' in bare.stdout
