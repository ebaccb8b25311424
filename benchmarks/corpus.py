"""Resolve the shared corpus of real tool requirement sets with toolcache and score the result.

Usage: python benchmarks/corpus.py [--cases PATH] [--out DIR] [--cache-dir DIR]

Each case becomes a one-tool manifest (``from`` = the first requirement, ``with`` = the rest,
``exclude-newer`` = the corpus cutoff) locked for the case's described target
(``environments:`` with that one target, selected with ``--python-version``/``--platform``)
through the same code path as ``toolcache lock``. The
pins (or the error) are written to OUT/<id>.txt (.error) and scored with the corpus's own
``check.py``. Needs the live PyPI.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from toolcache.commands.plan import make_plan
from toolcache.errors import ToolcacheError
from toolcache.lockfile.planning import LockMode

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CASES = REPO.parent / "shared" / "corpus" / "cases.yaml"


def load_cases(path: Path) -> tuple[str, list[dict[str, Any]]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return str(data["cutoff"]), list(data["cases"])


def manifest_text(case: dict[str, Any], cutoff: str) -> str:
    first, *rest = case["requirements"]
    tool: dict[str, Any] = {"from": first}
    if rest:
        tool["with"] = rest
    environments = {"python": [str(case["python"])], "platforms": [str(case["platform"])]}
    return yaml.safe_dump(
        {"exclude-newer": cutoff, "environments": environments, "tools": {"case": tool}},
        sort_keys=False,
    )


def resolve_case(
    case: dict[str, Any], cutoff: str, workdir: Path, cache_root: Path
) -> tuple[list[str] | None, str | None, float]:
    """(pins, error, seconds) for one case."""
    case_dir = workdir / case["id"]
    case_dir.mkdir(parents=True, exist_ok=True)
    manifest = case_dir / "tools.yaml"
    manifest.write_text(manifest_text(case, cutoff), encoding="utf-8")
    start = time.perf_counter()
    try:
        plan = make_plan(
            manifest,
            [],
            cache_root=cache_root,
            mode=LockMode.UPGRADE,
            python_version=str(case["python"]),
            platform_name=str(case["platform"]),
        )
    except ToolcacheError as exc:
        return None, str(exc), time.perf_counter() - start
    elapsed = time.perf_counter() - start
    (locked,) = plan.tools
    return [f"{p.name}=={p.version}" for p in locked.selection.packages], None, elapsed


def run(cases_path: Path, out: Path, cache_root: Path) -> dict[str, float]:
    cutoff, cases = load_cases(cases_path)
    out.mkdir(parents=True, exist_ok=True)
    times: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            pins, error, seconds = resolve_case(case, cutoff, Path(tmp), cache_root)
            times[case["id"]] = seconds
            for suffix in (".txt", ".error"):
                (out / (case["id"] + suffix)).unlink(missing_ok=True)
            if error is not None:
                (out / f"{case['id']}.error").write_text(error + "\n", encoding="utf-8")
            else:
                assert pins is not None
                (out / f"{case['id']}.txt").write_text("\n".join(pins) + "\n", encoding="utf-8")
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=Path, default=DEFAULT_CASES)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "out"
        cache_root = args.cache_dir or Path(tmp) / "cache"
        times = run(args.cases, out, cache_root)
        print(json.dumps({k: round(v, 2) for k, v in times.items()}, indent=1), file=sys.stderr)
        check = args.cases.parent / "check.py"
        return subprocess.run(
            [sys.executable, str(check), str(out), "--cases", str(args.cases)], check=False
        ).returncode


if __name__ == "__main__":
    sys.exit(main())
