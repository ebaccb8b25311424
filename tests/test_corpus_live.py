"""The shared corpus of real tool requirement sets resolves to exactly the expected pins.

Uses the live PyPI and the corpus's own scoring script. The corpus pins a cutoff with
``exclude-newer``, yet its frozen answers can still drift: a release yanked or deleted after
the cutoff, a late file for an old release. So a case that ``check.py`` fails is asked again
of ``uv pip compile`` (the corpus's reference resolver) for the same target and cutoff: when uv
and toolcache give the same pins and both differ from the frozen ones, the index moved, not
toolcache, and the test is skipped with the diff. Anything else is a failure.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Literal

import pytest

from benchmarks.corpus import DEFAULT_CASES, load_cases, run
from tests.lockfile.test_uv_agrees import Pins, parse_pins, pin_diff, uv_environment, uv_pins

#: How many cases the corpus holds; check.py's last line must count all of them.
CORPUS_SIZE = 12

Outcome = Literal["pass", "drift", "fail"]


def decide(frozen: Pins, toolcache: Pins | None, uv: Pins | None) -> Outcome:
    """``pass`` when toolcache gives the frozen pins; ``drift`` when it differs from them but
    agrees with uv (the index changed since the answers were frozen); else ``fail``. ``None``
    stands for an error (or no answer) instead of pins."""
    if toolcache == frozen:
        return "pass"
    if toolcache is not None and toolcache == uv:
        return "drift"
    return "fail"


_SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed$")


def failed_cases(check_output: str) -> list[str]:
    """The ids ``check.py`` printed ``FAIL`` for; its last line must count them all."""
    lines = check_output.strip().splitlines()
    failed = [line.split(" ", 1)[1] for line in lines if line.startswith("FAIL ")]
    passed = sum(line.startswith("PASS ") for line in lines)
    summary = _SUMMARY.match(lines[-1]) if lines else None
    assert summary is not None, f"check.py printed no summary:\n{check_output}"
    assert (int(summary[1]), int(summary[2])) == (passed, len(failed)), check_output
    assert passed + len(failed) == CORPUS_SIZE, f"expected {CORPUS_SIZE} cases:\n{check_output}"
    return failed


def toolcache_pins(out: Path, case_id: str) -> Pins | None:
    """toolcache's pins for a case from OUT/<id>.txt; None for an error or unreadable output."""
    path = out / f"{case_id}.txt"
    if not path.is_file() or (out / f"{case_id}.error").exists():
        return None
    try:
        return parse_pins(path.read_text(encoding="utf-8"))
    except ValueError:  # a line that is not name==version: check.py says which
        return None


def frozen_pins(case: dict[str, Any]) -> Pins:
    return parse_pins("\n".join(f"{k}=={v}" for k, v in case["expect"]["pins"].items()))


def test_decide() -> None:
    # A fabricated check.py run: one case drifted, one is wrong, one passed.
    check_output = (
        "FAIL drifted\n    ~ b: expected 1.0, got 1.1\n"
        "FAIL wrong\n    - c==2.0\n"
        + "PASS fine\n" * (CORPUS_SIZE - 2)
        + f"{CORPUS_SIZE - 2} passed, 2 failed\n"
    )
    assert failed_cases(check_output) == ["drifted", "wrong"]
    frozen = {"a": "1", "b": "1.0"}
    live = {"a": "1", "b": "1.1"}
    assert decide(frozen, frozen, frozen) == "pass"
    assert decide(frozen, frozen, live) == "pass"  # toolcache still gives the frozen answer
    assert decide(frozen, live, live) == "drift"
    assert decide(frozen, live, frozen) == "fail"  # uv still gives the frozen answer
    assert decide(frozen, live, {"a": "1", "b": "1.2"}) == "fail"  # all three differ
    assert decide(frozen, None, live) == "fail"  # toolcache failed
    assert decide(frozen, live, None) == "fail"  # uv failed
    assert pin_diff(frozen, live, "frozen", "live") == ["~ b: frozen 1.0, live 1.1"]
    with pytest.raises(AssertionError):
        failed_cases("FAIL x\n0 passed, 1 failed\n")  # a case went missing


@pytest.mark.network
@pytest.mark.slow
@pytest.mark.skipif(not DEFAULT_CASES.is_file(), reason="the shared corpus is not beside the repo")
def test_corpus_resolves_to_expected_pins(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run(DEFAULT_CASES, out, tmp_path / "cache")
    check = DEFAULT_CASES.parent / "check.py"
    proc = subprocess.run(
        [sys.executable, str(check), str(out)], capture_output=True, text=True, check=False
    )
    assert proc.stdout.strip(), proc.stderr
    failed = failed_cases(proc.stdout)
    if not failed:
        assert proc.returncode == 0, proc.stdout
        assert proc.stdout.strip().splitlines()[-1] == f"{CORPUS_SIZE} passed, 0 failed"
        return
    assert proc.returncode == 1, proc.stdout
    if shutil.which("uv") is None:
        pytest.fail(f"uv is not on PATH to tell index drift from a bug:\n{proc.stdout}")
    cutoff, cases = load_cases(DEFAULT_CASES)
    by_id = {case["id"]: case for case in cases}
    env = uv_environment(tmp_path / "uv-cache")
    drifted: list[str] = []
    for case_id in failed:
        case = by_id[case_id]
        if "pins" not in case["expect"]:  # an expected error: nothing to ask uv
            pytest.fail(proc.stdout)
        frozen = frozen_pins(case)
        answer = uv_pins(
            case["requirements"], str(case["python"]), case["platform"], cutoff, env, tmp_path
        )
        uv = answer if isinstance(answer, dict) else None
        if decide(frozen, toolcache_pins(out, case_id), uv) != "drift":
            pytest.fail(proc.stdout + ("" if uv is not None else f"\n{case_id}: {answer}"))
        assert uv is not None
        lines = pin_diff(frozen, uv, "frozen", "live")
        drifted.append(f"{case_id}:\n" + "\n".join(f"    {line}" for line in lines))
    version = subprocess.run(["uv", "--version"], capture_output=True, text=True, check=False)
    pytest.skip(
        f"index drift: {CORPUS_SIZE - len(failed)} of {CORPUS_SIZE} cases pass; toolcache and "
        f"{version.stdout.strip()} agree on the other {len(failed)}, whose frozen pins no "
        "longer match the live index:\n" + "\n".join(drifted)
    )
