"""The cache-hit path of ``toolcache run`` side by side with uvx, and building from a lock.

Usage: python benchmarks/bench_run.py [--tool ruff==0.17.3] [--runs 20]

In one run, on the same pinned tool (``<tool> --version``), with warm caches:
- the tool's own script in its environment, started directly (the floor);
- ``toolcache run`` (the console script, so as a user types it);
- ``uvx --offline --from <tool>`` and plain ``uvx --from <tool>``.
Prints medians and ratios against the targets (warm run <= 1.0x ``uvx --offline`` and
<= 12 ms over running the tool directly), and what the hit path costs over starting the
interpreter (``python -c pass`` in toolcache's venv: <= 3 ms). Needs the live PyPI once.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def medians_ms(
    cmds: dict[str, list[str]], env: dict[str, str], runs: int, cwd: Path
) -> dict[str, float]:
    """Each command's median wall time, the commands taken in turn ``runs`` times, so that
    what else the machine does meanwhile weighs on all of them alike."""
    times: dict[str, list[float]] = {label: [] for label in cmds}
    for _ in range(runs):
        for label, cmd in cmds.items():
            start = time.perf_counter()
            subprocess.run(
                cmd,
                env=env,
                cwd=cwd,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=True,
            )
            times[label].append(time.perf_counter() - start)
    return {label: statistics.median(values) * 1000 for label, values in times.items()}


def find_uvx() -> str:
    """uvx itself, not a version manager's shim (which costs more than the tools here)."""
    uvx = shutil.which("uvx", path=sysconfig.get_path("scripts")) or shutil.which("uvx")
    if uvx is None:
        raise SystemExit("uvx is not on PATH")
    return uvx


def install_toolcache(venv: Path) -> Path:
    """toolcache as users get it, a regular (not editable) install in ``venv``, made for this
    interpreter; its console script."""
    quiet = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_NO_CONFIG": "1"}
    subprocess.run(
        ["uv", "venv", "-q", "--python", sys.executable, str(venv)], env=quiet, check=True
    )
    install = [
        "uv",
        "pip",
        "install",
        "-q",
        # As the action installs it: with its bytecode, so no run compiles toolcache's
        # modules (PYTHONDONTWRITEBYTECODE, set on some machines, would make every one).
        "--compile-bytecode",
        "--python",
        str(venv / "bin" / "python"),
        str(REPO),
    ]
    subprocess.run(install, env=quiet, check=True)
    return venv / "bin" / "toolcache"


def the_environment(cache_root: Path) -> Path:
    """The one environment in ``cache_root``, where the tool's own script is."""
    (env_dir,) = [
        p for p in (cache_root / "envs").glob("*/*") if p.is_dir() and not p.name.startswith(".")
    ]
    return env_dir


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tool", default="ruff==0.17.3")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    uvx = find_uvx()
    name = args.tool.split("==")[0].split("[")[0]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        venv = tmp / "toolcache-venv"
        script = str(install_toolcache(venv))
        (tmp / "tools.yaml").write_text(
            f"python: {sys.executable}\ntools:\n  t:\n    from: {args.tool}\n    run: {name}\n"
        )
        env = {
            **os.environ,
            "TOOLCACHE_CACHE_DIR": str(tmp / "tc-cache"),
            "UV_CACHE_DIR": str(tmp / "uv-cache"),
            "UV_TOOL_DIR": str(tmp / "uv-tools"),
            "UV_PYTHON_DOWNLOADS": "never",
            "UV_NO_CONFIG": "1",
        }
        ours = [script, "run", "-m", "tools.yaml", "t", "--", "--version"]
        theirs = [uvx, "--python", sys.executable, "--from", args.tool, name, "--version"]
        offline = [uvx, "--offline", *theirs[1:]]
        subprocess.run(ours, env=env, cwd=tmp, check=True, capture_output=True)  # fill caches
        subprocess.run(theirs, env=env, cwd=tmp, check=True, capture_output=True)
        direct = [str(the_environment(tmp / "tc-cache") / "bin" / name), "--version"]
        results = medians_ms(
            {
                "tool directly": direct,
                "toolcache run": ours,
                "uvx --offline": offline,
                "uvx": theirs,
                "python -c pass": [str(venv / "bin" / "python"), "-c", "pass"],
            },
            env,
            args.runs,
            tmp,
        )
    for label, ms in results.items():
        print(f"{label:16} {ms:7.1f} ms")
    run = results["toolcache run"]
    print(f"toolcache run / uvx --offline: {run / results['uvx --offline']:.2f}x (target <= 1.0x)")
    print(f"toolcache run / uvx:           {run / results['uvx']:.2f}x")
    over = run - results["tool directly"]
    print(f"over running the tool directly: {over:.1f} ms (target <= 12 ms)")
    # What toolcache adds before the tool starts, against starting its interpreter at all.
    print(
        f"hit path over python -c pass: {over - results['python -c pass']:+.1f} ms (target <= 3 ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
