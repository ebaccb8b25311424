"""The shared corpus of real tool requirement sets resolves to exactly the expected pins.

Uses the live PyPI (the corpus pins a cutoff with ``exclude-newer``, so the answers do not
drift) and the corpus's own scoring script.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.corpus import DEFAULT_CASES, run

pytestmark = [pytest.mark.network, pytest.mark.slow]


@pytest.mark.skipif(not DEFAULT_CASES.is_file(), reason="the shared corpus is not beside the repo")
def test_corpus_resolves_to_expected_pins(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run(DEFAULT_CASES, out, tmp_path / "cache")
    check = DEFAULT_CASES.parent / "check.py"
    proc = subprocess.run(
        [sys.executable, str(check), str(out)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.strip().splitlines()[-1] == "12 passed, 0 failed"
