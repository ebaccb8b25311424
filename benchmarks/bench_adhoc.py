"""An ad hoc run's cache-hit path (``toolcache run NAME@VERSION``) side by side with uvx.

Usage: python benchmarks/bench_adhoc.py [--tool ruff] [--version 0.17.3] [--runs 20]

No manifest: ``toolcache run --python PY NAME@VERSION -- --version`` against
``uvx --offline --python PY NAME@VERSION --version`` (the same pinned tool, the same
interpreter given to both, warm caches), with the tool's own script started directly as the
floor. Prints medians and the ratio (target: <= 1.0x ``uvx --offline``, as for a manifest's
tool in bench_run.py). Needs the live PyPI once.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.bench_run import find_uvx, install_toolcache, medians_ms, the_environment


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tool", default="ruff")
    parser.add_argument("--version", default="0.17.3")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    uvx = find_uvx()
    spec = f"{args.tool}@{args.version}"
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        (tmp / ".git").mkdir()  # no manifest is searched for above this folder
        quiet = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_NO_CONFIG": "1"}
        script = str(install_toolcache(tmp / "toolcache-venv"))
        env = {
            **quiet,
            "TOOLCACHE_CACHE_DIR": str(tmp / "tc-cache"),
            "UV_CACHE_DIR": str(tmp / "uv-cache"),
            "UV_TOOL_DIR": str(tmp / "uv-tools"),
        }
        ours = [script, "run", "--python", sys.executable, spec, "--", "--version"]
        theirs = [uvx, "--offline", "--python", sys.executable, spec, "--version"]
        subprocess.run(ours, env=env, cwd=tmp, check=True, capture_output=True)  # fill caches
        subprocess.run([uvx, *theirs[2:]], env=env, cwd=tmp, check=True, capture_output=True)
        (lock,) = (tmp / "tc-cache" / "adhoc").glob("*/pylock.toml")
        direct = [str(the_environment(tmp / "tc-cache") / "bin" / args.tool), "--version"]
        results = medians_ms(
            {
                "tool directly": direct,
                "toolcache run (ad hoc)": ours,
                "uvx --offline": theirs,
            },
            env,
            args.runs,
            tmp,
        )
    print(f"ad hoc lock: {lock.relative_to(tmp / 'tc-cache')} (in the cache)")
    for label, ms in results.items():
        print(f"{label:24} {ms:7.1f} ms")
    run = results["toolcache run (ad hoc)"]
    print(f"toolcache run / uvx --offline: {run / results['uvx --offline']:.2f}x (target <= 1.0x)")
    print(f"over running the tool directly: {run - results['tool directly']:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
