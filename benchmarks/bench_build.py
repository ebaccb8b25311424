"""Building environments from locks side by side with ``uv venv`` + ``uv pip install``.

Usage: python benchmarks/bench_build.py [--runs 5] [--workdir DIR]

Locks ruff, black and mypy (with types-requests) once against the live PyPI (``exclude-newer``
pins the resolution), one lock per tool, then builds the three environments, in one run:
- toolcache cold: empty wheel cache (``files-v1``) and no environments; warm: the wheel
  cache kept, the environments removed. Each run is a fresh process timing ``store.ensure``
  for the three locks (imports it needs on the way included; the interpreter probe, cached
  beforehand, not).
- uv cold: empty ``--cache-dir``; warm: the cache kept. Each run is ``uv venv`` then
  ``uv pip install -r pylock.<tool>.toml`` for each tool, both processes timed.
Both use this interpreter (``sys.executable``). Prints the median of each and the ratios, and
what cloning files (the default: no file shared with the cache) costs over hard-linking them.
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
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CUTOFF = "2026-11-01T00:00:00Z"
TOOLS = {
    "ruff": "ruff==0.17.3",
    "black": "black==25.11.0",
    "mypy": "{from: mypy==2.4.1, with: [types-requests]}",
}
UV_ENV = {"UV_PYTHON_DOWNLOADS": "never", "UV_NO_CONFIG": "1"}

# Runs in a fresh process: builds every lock given and prints the seconds it took.
_BUILD = """\
import json, sys, time
from pathlib import Path
from toolcache.lockfile import document as lock_mod
from toolcache.lockfile.selection import select
from toolcache.envs import store
from toolcache.interpreter import probe

cache = Path(sys.argv[1])
interpreter = probe(Path(sys.executable), cache)
locks = [
    select(lock_mod.read(Path(p)), interpreter.target(), interpreter.hash, "")
    for p in sys.argv[2:]
]
start = time.perf_counter()
for lock in locks:
    store.ensure(lock, interpreter, cache)
print(json.dumps(time.perf_counter() - start))
"""


def run(cmd: list[str], env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} failed: {proc.stderr[-2000:]}")
    return proc.stdout


def make_locks(work: Path, cache: Path) -> list[Path]:
    project = work / "project"
    project.mkdir()
    manifest = project / "tools.yaml"
    lines = [f"exclude-newer: {CUTOFF}", f"python: {sys.executable}", "tools:"]
    lines += [f"  {name}: {requirement}" for name, requirement in TOOLS.items()]
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run(
        [sys.executable, "-m", "toolcache", "lock", "-m", str(manifest), "--quiet"],
        env={"TOOLCACHE_CACHE_DIR": str(cache), "PYTHONPATH": str(REPO)},
    )
    return [project / "tools.lock" / f"pylock.{name}.toml" for name in TOOLS]


def settle() -> None:
    """Flush what removing the last run's files left to write, so it is not timed."""
    os.sync()
    time.sleep(0.2)


def toolcache_build(
    cache: Path, locks: list[Path], *, cold: bool, mode: str = "clone"
) -> tuple[float, float]:
    """(seconds in ``store.ensure``, seconds of the whole process), files placed by ``mode``
    (``TOOLCACHE_LINK_MODE``)."""
    shutil.rmtree(cache / "envs", ignore_errors=True)
    if cold:
        shutil.rmtree(cache / "files-v1", ignore_errors=True)
    settle()
    start = time.perf_counter()
    out = run(
        [sys.executable, "-c", _BUILD, str(cache), *map(str, locks)],
        env={"PYTHONPATH": str(REPO), "TOOLCACHE_LINK_MODE": mode},
    )
    return float(json.loads(out)), time.perf_counter() - start


def uv_build(work: Path, cache: Path, locks: list[Path], *, cold: bool) -> float:
    if cold:
        shutil.rmtree(cache, ignore_errors=True)
    envs = work / "uv-envs"
    shutil.rmtree(envs, ignore_errors=True)
    envs.mkdir()
    settle()
    start = time.perf_counter()
    for lock in locks:
        venv = envs / lock.stem
        run(
            ["uv", "venv", "--quiet", "--python", sys.executable, "--cache-dir", str(cache),
             str(venv)],
            env=UV_ENV,
        )  # fmt: skip
        run(
            ["uv", "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
             "--cache-dir", str(cache), "-r", str(lock)],
            env=UV_ENV,
        )  # fmt: skip
    return time.perf_counter() - start


def count_files(folder: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(folder))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    if shutil.which("uv") is None:
        raise SystemExit("uv is not on PATH")
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp_name:
        work = Path(tmp_name)
        tc_cache, uv_cache = work / "tc-cache", work / "uv-cache"
        locks = make_locks(work, tc_cache)
        results: dict[str, list[float]] = {}
        for state in ("cold", "warm"):
            for _ in range(args.runs):
                inside, process = toolcache_build(tc_cache, locks, cold=state == "cold")
                results.setdefault(f"tc {state}", []).append(inside)
                results.setdefault(f"tc process {state}", []).append(process)
                uv = uv_build(work, uv_cache, locks, cold=state == "cold")
                results.setdefault(f"uv {state}", []).append(uv)
                if state == "warm":
                    linked, _ = toolcache_build(tc_cache, locks, cold=False, mode="hardlink")
                    results.setdefault("tc warm hardlink", []).append(linked)
        files = count_files(tc_cache / "envs")
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"{len(locks)} environments ({', '.join(TOOLS)}), {files} files, {args.runs} runs each")
    print("toolcache: time in store.ensure / whole process (python start and imports included)")
    head = f"{'':6} {'toolcache':>10} {'process':>10} {'uv':>10} {'ratio':>7} {'ratio':>7}"
    print(head + "   runs (toolcache ms)")
    for state in ("cold", "warm"):
        tc, whole, uv = med[f"tc {state}"], med[f"tc process {state}"], med[f"uv {state}"]
        runs = " ".join(f"{t * 1000:.0f}" for t in results[f"tc {state}"])
        print(
            f"{state:6} {tc * 1000:8.0f}ms {whole * 1000:8.0f}ms {uv * 1000:8.0f}ms "
            f"{tc / uv:6.2f}x {whole / uv:6.2f}x   {runs}"
        )
    warm = med["tc warm"] / med["uv warm"]
    linked = med["tc warm hardlink"]
    print(f"warm ratio (toolcache / uv): {warm:.2f}x (target <= 1.5x)")
    print(
        f"files cloned (default) vs hard-linked (TOOLCACHE_LINK_MODE=hardlink), warm: "
        f"{med['tc warm'] * 1000:.0f}ms vs {linked * 1000:.0f}ms "
        f"({med['tc warm'] / linked:.2f}x; hard links share files with the cache)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
