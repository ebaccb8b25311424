"""Universal locking side by side with ``uv pip compile --universal``, cold and warm, and what
locking for the 25 default targets costs over locking for one.

Usage: python -m benchmarks.bench_universal [--cases ID,ID] [--repeat N] [--corpus PATH]

1. Every corpus case expected to resolve (``expect: error`` ones skipped) becomes a one-tool
   manifest without ``environments:``, so ``toolcache lock --upgrade`` locks it for the 25
   default targets (CPython 3.10-3.14 on five platforms); beside it, ``uv pip compile
   --universal --python-version 3.10``. Cold: an empty cache dir per side and case; warm: the
   same command again on that cache (median of ``--repeat`` runs, the two sides interleaved).
2. A pure-Python tool (flake8 with five plugins) locked for one target
   (``environments: {python: ["3.12"], platforms: [x86_64-manylinux_2_28]}``) and for the 25
   defaults, cold and warm, and how many of those targets the resolver actually ran for (the
   others reuse an earlier answer). The count comes from one more, untimed, lock in a child
   process that passes a ``progress`` hook to ``resolve_targets``.

Both sides run as processes (both pay start-up), use https://pypi.org/simple and the corpus
cutoff, and see no ``UV_*``/``PIP_*``/``TOOLCACHE_*`` index, cache or cutoff variables. uv gets
``UV_PYTHON_DOWNLOADS=never`` and ``UV_NO_CONFIG=1``. toolcache is told the target to select for
(``--python-version 3.12 --platform x86_64-manylinux_2_28``, inside both target sets) so that no
local interpreter is probed and no target is added for one. ``--upgrade`` revalidates every
cached index page, so a warm toolcache run still asks the index; uv asks again for every page
its cache holds as stale. Target: total cold ratio (toolcache / uv) <= 2.0x. Prints tables; no
assertions. Needs the live PyPI and ``uv`` on PATH.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from benchmarks.corpus import DEFAULT_CASES, load_cases

INDEX_URL = "https://pypi.org/simple"
#: The target a lock selects for (given to ``toolcache lock``): covered by both target sets.
SELECT = ("3.12", "x86_64-manylinux_2_28")
ONE_TARGET = {"python": ["3.12"], "platforms": ["x86_64-manylinux_2_28"]}
#: Pure Python: every release in the resolution has a py3-none-any wheel.
PURE_TOOL = [
    "flake8", "flake8-bugbear", "flake8-comprehensions", "flake8-docstrings", "flake8-simplify",
    "pep8-naming",
]  # fmt: skip
TARGET_COLD_RATIO = 2.0
#: Variables that would point either side at another index, cache or cutoff.
_STRIPPED = ("INDEX", "FIND_LINKS", "EXCLUDE_NEWER", "CACHE", "OFFLINE", "PROGRESS", "CONFIG")


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not (k.startswith(("UV_", "PIP_", "TOOLCACHE_")) and any(s in k for s in _STRIPPED))
    }
    return {**env, **extra}


@dataclass
class Run:
    seconds: float
    error: str | None = None


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> Run:
    """How long one command took, and its stderr's tail if it failed."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return Run(elapsed, f"exit {proc.returncode}: " + " | ".join(tail))
    return Run(elapsed)


def manifest_text(requirements: list[str], cutoff: str, environments: Any = None) -> str:
    first, *rest = requirements
    tool: dict[str, Any] = {"from": first}
    if rest:
        tool["with"] = rest
    if environments is not None:
        tool["environments"] = environments
    data = {"index-url": INDEX_URL, "exclude-newer": cutoff, "tools": {"case": tool}}
    return yaml.safe_dump(data, sort_keys=False)


def toolcache_lock(manifest: Path, cache: Path) -> Run:
    shutil.rmtree(manifest.parent / "tools.lock", ignore_errors=True)
    return timed(
        [sys.executable, "-m", "toolcache", "lock", "-m", str(manifest), "--upgrade", "--quiet",
         "--python-version", SELECT[0], "--platform", SELECT[1]],
        clean_env(TOOLCACHE_CACHE_DIR=str(cache)),
        manifest.parent,
    )  # fmt: skip


def uv_universal(requirements: Path, cutoff: str, cache: Path) -> Run:
    return timed(
        ["uv", "pip", "compile", str(requirements), "--universal", "--python-version", "3.10",
         "--exclude-newer", cutoff, "--index-url", INDEX_URL, "--no-header", "--quiet",
         "-o", os.devnull],
        clean_env(UV_CACHE_DIR=str(cache), UV_PYTHON_DOWNLOADS="never", UV_NO_CONFIG="1"),
        requirements.parent,
    )  # fmt: skip


def median(runs: list[Run]) -> Run:
    errors = [r.error for r in runs if r.error]
    return Run(statistics.median(r.seconds for r in runs), errors[0] if errors else None)


@dataclass
class Row:
    case: str
    tc_cold: Run
    uv_cold: Run
    tc_warm: Run
    uv_warm: Run

    @property
    def runs(self) -> tuple[Run, Run, Run, Run]:
        return self.tc_cold, self.uv_cold, self.tc_warm, self.uv_warm


def bench_case(case: dict[str, Any], cutoff: str, work: Path, repeat: int) -> Row:
    work.mkdir()
    manifest = work / "tools.yaml"
    manifest.write_text(manifest_text(list(case["requirements"]), cutoff))
    requirements = work / "requirements.in"
    requirements.write_text("\n".join(case["requirements"]) + "\n")
    tc_cache, uv_cache = work / "tc-cache", work / "uv-cache"
    tc_cold = toolcache_lock(manifest, tc_cache)
    uv_cold = uv_universal(requirements, cutoff, uv_cache)
    tc_warm: list[Run] = []
    uv_warm: list[Run] = []
    for _ in range(repeat):
        tc_warm.append(toolcache_lock(manifest, tc_cache))
        uv_warm.append(uv_universal(requirements, cutoff, uv_cache))
    return Row(str(case["id"]), tc_cold, uv_cold, median(tc_warm), median(uv_warm))


def cell(run: Run, width: int = 8) -> str:
    return f"{'FAIL':>{width}}" if run.error else f"{run.seconds:{width}.2f}"


def ratio(ours: Run, theirs: Run) -> str:
    return f"{'-':>6}" if ours.error or theirs.error else times(ours.seconds, theirs.seconds)


def times(ours: float, theirs: float) -> str:
    return f"{ours / theirs:5.2f}x" if theirs else f"{'-':>6}"


def print_universal(rows: list[Row], repeat: int) -> None:
    print(
        "1. Universal lock: toolcache `lock --upgrade` (25 default targets) vs "
        "`uv pip compile --universal --python-version 3.10`"
    )
    print(f"   seconds; warm = median of {repeat}; ratio = toolcache / uv")
    columns = ("tc cold", "uv cold", "ratio", "tc warm", "uv warm", "ratio")
    head = f"{'case':32} {columns[0]:>8} {columns[1]:>8} {columns[2]:>6}  " + " ".join(
        f"{c:>{w}}" for c, w in zip(columns[3:], (8, 8, 6), strict=True)
    )
    print(head)
    print("-" * len(head))
    for row in rows:
        tc, uc, tw, uw = row.runs
        print(
            f"{row.case:32} {cell(tc)} {cell(uc)} {ratio(tc, uc)}  {cell(tw)} {cell(uw)} "
            f"{ratio(tw, uw)}"
        )
    ok = [r for r in rows if not any(run.error for run in r.runs)]
    totals = [sum(r.runs[i].seconds for r in ok) for i in range(4)]
    print("-" * len(head))
    label = "total" if len(ok) == len(rows) else f"total ({len(ok)} cases without failures)"
    print(
        f"{label:32} {totals[0]:8.2f} {totals[1]:8.2f} {times(totals[0], totals[1])}  "
        f"{totals[2]:8.2f} {totals[3]:8.2f} {times(totals[2], totals[3])}"
    )
    if totals[1]:
        cold = totals[0] / totals[1]
        verdict = "met" if cold <= TARGET_COLD_RATIO else "NOT met"
        warm = times(totals[2], totals[3]).strip()
        print(
            f"cold ratio (toolcache / uv), total: {cold:.2f}x "
            f"(target <= {TARGET_COLD_RATIO:.1f}x: {verdict}); warm: {warm}"
        )
    for row in rows:
        for name, run in zip(("tc cold", "uv cold", "tc warm", "uv warm"), row.runs, strict=True):
            if run.error:
                print(f"  {row.case} {name} failed: {run.error}")


@dataclass
class TargetCost:
    label: str
    cold: Run
    warm: Run
    resolved: list[str] | None
    targets: int | None


def bench_targets(cutoff: str, tmp: Path, repeat: int) -> list[TargetCost]:
    out = []
    for label, environments in (("1 target", ONE_TARGET), ("25 targets (default)", None)):
        work = tmp / ("targets-" + label.split()[0])
        work.mkdir()
        manifest = work / "tools.yaml"
        manifest.write_text(manifest_text(PURE_TOOL, cutoff, environments))
        cache = work / "tc-cache"
        cold = toolcache_lock(manifest, cache)
        warm = median([toolcache_lock(manifest, cache) for _ in range(repeat)])
        resolved, targets = count_resolutions(manifest, cache)
        out.append(TargetCost(label, cold, warm, resolved, targets))
    return out


def count_resolutions(manifest: Path, cache: Path) -> tuple[list[str] | None, int | None]:
    """(targets the resolver ran for, targets in the lock), from a lock in a child process."""
    shutil.rmtree(manifest.parent / "tools.lock", ignore_errors=True)
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_universal", "--count-resolutions", str(manifest)],
        capture_output=True, text=True, check=False,
        env=clean_env(TOOLCACHE_CACHE_DIR=str(cache)),
        cwd=Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    if proc.returncode != 0:
        print(f"counting resolutions failed: {proc.stderr.strip()[-2000:]}", file=sys.stderr)
        return None, None
    data = json.loads(proc.stdout)
    return list(data["resolved"]), int(data["targets"])


def _count_resolutions_here(manifest_path: Path) -> int:
    """Lock the manifest's tool in this process, print which targets were resolved (JSON)."""
    from toolcache import manifest as m
    from toolcache import paths
    from toolcache.lockfile.planning import LockMode, Planner
    from toolcache.resolver import universal

    resolved: list[str] = []
    original = universal.resolve_targets

    def with_progress(*args: Any, **kwargs: Any) -> Any:
        kwargs["progress"] = lambda message: resolved.append(message.removeprefix("resolving for "))
        return original(*args, **kwargs)

    universal.resolve_targets = with_progress
    try:
        loaded = m.load(manifest_path)
        planner = Planner(
            loaded,
            cache_root=paths.cache_root(),
            mode=LockMode.UPGRADE,
            python_version=SELECT[0],
            platform=SELECT[1],
        )
        locked = planner.lock_tool(loaded.tools["case"])
    finally:
        universal.resolve_targets = original
    print(json.dumps({"resolved": resolved, "targets": len(locked.lock.targets)}))
    return 0


def print_targets(costs: list[TargetCost], repeat: int) -> None:
    print()
    print(f"2. Cost of targets: {' + '.join(PURE_TOOL)} (pure Python), toolcache `lock --upgrade`")
    print(f"   seconds; warm = median of {repeat}")
    head = f"{'targets':24} {'cold':>8} {'warm':>8}  resolutions run"
    print(head)
    print("-" * len(head))
    for cost in costs:
        count = (
            f"{len(cost.resolved)} of {cost.targets}" if cost.resolved is not None else "unknown"
        )
        print(f"{cost.label:24} {cell(cost.cold)} {cell(cost.warm)}  {count}")
    one, many = costs
    print("-" * len(head))
    print(f"{'ratio 25 / 1':24} {ratio(many.cold, one.cold):>8} {ratio(many.warm, one.warm):>8}")
    if many.resolved:
        print(f"resolved for (25 targets): {', '.join(many.resolved)}")
    for cost in costs:
        for name, run in (("cold", cost.cold), ("warm", cost.warm)):
            if run.error:
                print(f"  {cost.label} {name} failed: {run.error}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CASES)
    parser.add_argument("--cases", default="", help="only these case ids, comma-separated")
    parser.add_argument("--repeat", type=int, default=1, help="warm runs per side (median)")
    parser.add_argument("--count-resolutions", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.count_resolutions is not None:
        return _count_resolutions_here(args.count_resolutions)
    if shutil.which("uv") is None:
        raise SystemExit("uv is not on PATH")
    cutoff, cases = load_cases(args.corpus)
    cases = [c for c in cases if "error" not in c.get("expect", {})]
    if args.cases:
        wanted = [c.strip() for c in args.cases.split(",") if c.strip()]
        unknown = sorted(set(wanted) - {str(c["id"]) for c in cases})
        if unknown:
            raise SystemExit(f"no such case (or an `expect: error` one): {', '.join(unknown)}")
        cases = [c for c in cases if c["id"] in wanted]
    repeat = max(1, args.repeat)
    with tempfile.TemporaryDirectory(prefix="bench-universal-") as tmp_name:
        tmp = Path(tmp_name)
        rows = [bench_case(case, cutoff, tmp / str(case["id"]), repeat) for case in cases]
        print_universal(rows, repeat)
        print_targets(bench_targets(cutoff, tmp, repeat), repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
