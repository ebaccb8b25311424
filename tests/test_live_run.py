"""A pinned real tool from the live PyPI through ``toolcache run``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.network, pytest.mark.slow]


def test_ruff_from_pypi(tmp_path: Path) -> None:
    manifest = tmp_path / "tools.yaml"
    manifest.write_text(
        f"python: {sys.executable}\nexclude-newer: 2026-11-01\n"
        "tools:\n  lint:\n    from: ruff==0.17.3\n    run: ruff check --no-cache\n"
    )
    (tmp_path / "good.py").write_text("x = 1\n")
    (tmp_path / "bad.py").write_text("import os\n")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "toolcache", "run", "-m", str(manifest), *args],
            cwd=tmp_path, capture_output=True, text=True, check=False,
        )  # fmt: skip

    ok = run("lint", "good.py")
    assert ok.returncode == 0, ok.stderr
    assert "All checks passed!" in ok.stdout
    bad = run("lint", "bad.py")
    assert bad.returncode == 1
    assert "F401" in bad.stdout
    lock = (tmp_path / "tools.lock" / "pylock.lint.toml").read_text()
    assert 'name = "ruff"\nversion = "0.17.3"' in lock
