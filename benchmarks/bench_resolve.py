"""Resolution side by side with ``uv pip compile`` on the shared corpus, cold and warm.

Usage: python benchmarks/bench_resolve.py [--cases PATH] [--only ID]... [--tools 50]

For every corpus case, in one run:
- uv cold: ``uv pip compile`` with an empty ``--cache-dir``; uv warm: the same again.
- toolcache cold: ``toolcache lock --upgrade`` with an empty cache root; toolcache warm: the
  same cache root, lock removed (so it resolves again from its HTTP cache).
Both use the case's target (``--python-version``/``--platform``) and the corpus cutoff.
Then ``toolcache plan`` over a manifest of N tools whose locks are fresh, with the network
forbidden (``--offline``), against the target of 150 ms. Prints a table and the ratios.
Needs the live PyPI and ``uv`` on PATH.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.corpus import DEFAULT_CASES, load_cases, manifest_text


def timed(
    cmd: list[str],
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    ok: tuple[int, ...] = (0, 1),
) -> float:
    """Seconds one command took; exit codes outside ``ok`` stop the benchmark."""
    start = time.perf_counter()
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=cwd, check=False
    )
    elapsed = time.perf_counter() - start
    if proc.returncode not in ok:
        raise SystemExit(f"{cmd[:3]} failed: {proc.stderr[-2000:]}")
    return elapsed


def uv_compile(case: dict[str, Any], cutoff: str, workdir: Path, cache: Path) -> float:
    req = workdir / "req.in"
    req.write_text("\n".join(case["requirements"]) + "\n")
    return timed(
        ["uv", "pip", "compile", str(req), "--quiet", "--no-header",
         "--python-version", str(case["python"]), "--python-platform", str(case["platform"]),
         "--exclude-newer", cutoff, "--cache-dir", str(cache)],
        # Without a 3.X on the machine uv tries to download one to build with (and on a
        # closed network spends seconds retrying): measure resolution, not that.
        env={"UV_PYTHON_DOWNLOADS": "never", "UV_NO_CONFIG": "1"},
    )  # fmt: skip


def toolcache_lock(case: dict[str, Any], cutoff: str, workdir: Path, cache: Path) -> float:
    manifest = workdir / "tools.yaml"
    manifest.write_text(manifest_text(case, cutoff))
    shutil.rmtree(workdir / "tools.lock", ignore_errors=True)
    return timed(
        [sys.executable, "-m", "toolcache", "lock", "-m", str(manifest), "--quiet",
         "--python-version", str(case["python"]), "--platform", str(case["platform"])],
        env={"TOOLCACHE_CACHE_DIR": str(cache)},
    )  # fmt: skip


def bench_plan(n: int, tmp: Path) -> tuple[float, float]:
    """(median seconds of `toolcache plan --offline` with N fresh locks, of `python -c pass`).

    The locks are made against a local index that is stopped before timing, so a plan that
    tried the network would fail rather than look fast.
    """
    from tests.support.dists import build_wheel
    from tests.support.index import LocalIndex

    env = {"TOOLCACHE_CACHE_DIR": str(tmp / "plan-cache")}
    manifest = tmp / "tools.yaml"
    with LocalIndex(tmp / "plan-index") as index:
        lines = [f"index-url: {index.url}", f"python: {sys.executable}", "tools:"]
        for i in range(n):
            index.add(build_wheel(tmp / "plan-wheels", f"tool{i}", "1.0"))
            lines.append(f"  t{i}: tool{i}")
        manifest.write_text("\n".join(lines) + "\n")
        cmd = [sys.executable, "-m", "toolcache", "plan", "-m", str(manifest), "--quiet"]
        subprocess.run(cmd, env={**os.environ, **env}, check=True, capture_output=True)
    runs = [timed([*cmd, "--offline", "--locked"], env, ok=(0,)) for _ in range(7)]
    base = [timed([sys.executable, "-c", "pass"]) for _ in range(7)]
    return statistics.median(runs), statistics.median(base)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=Path, default=DEFAULT_CASES)
    parser.add_argument("--only", action="append", default=[])
    parser.add_argument("--tools", type=int, default=50)
    args = parser.parse_args()
    if shutil.which("uv") is None:
        raise SystemExit("uv is not on PATH")
    cutoff, cases = load_cases(args.cases)
    if args.only:
        cases = [c for c in cases if c["id"] in args.only]
    rows: list[tuple[str, float, float, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for case in cases:
            work = tmp / str(case["id"])
            work.mkdir()
            uv_cache, tc_cache = work / "uv-cache", work / "tc-cache"
            uv_cold = uv_compile(case, cutoff, work, uv_cache)
            uv_warm = uv_compile(case, cutoff, work, uv_cache)
            tc_cold = toolcache_lock(case, cutoff, work, tc_cache)
            tc_warm = toolcache_lock(case, cutoff, work, tc_cache)
            rows.append((str(case["id"]), uv_cold, tc_cold, uv_warm, tc_warm))
        plan_time, python_time = bench_plan(args.tools, tmp)
    head = ("uv cold", "tc cold", "ratio", "uv warm", "tc warm", "ratio")
    print(f"{'case':34} " + " ".join(f"{h:>8}" for h in head))
    for case_id, uc, tc, uw, tw in rows:
        print(f"{case_id:34} {uc:8.2f} {tc:8.2f} {tc / uc:8.2f} {uw:8.3f} {tw:8.3f} {tw / uw:8.2f}")
    total = [sum(r[1:][i] for r in rows) for i in range(4)]
    print(
        f"{'total':34} {total[0]:8.2f} {total[1]:8.2f} {total[1] / total[0]:8.2f} "
        f"{total[2]:8.3f} {total[3]:8.3f} {total[3] / total[2]:8.2f}"
    )
    print(f"cold ratio (toolcache / uv), total: {total[1] / total[0]:.2f}x (target <= 2.0x)")
    print(
        f"plan with {args.tools} fresh locks, offline: {plan_time * 1000:.0f} ms "
        f"(python -c pass: {python_time * 1000:.0f} ms; target <= 150 ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
