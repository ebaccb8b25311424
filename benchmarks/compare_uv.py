"""Compare toolcache's pins with ``uv pip compile`` on real tool requirement sets.

Usage: python benchmarks/compare_uv.py [--python 3.12 --python 3.9] [--cutoff ISO] [TOOLSET]...

A TOOLSET is requirements joined by commas (``"flake8,flake8-bugbear"``); without any, a
built-in list of popular developer tools is used. Each set is locked for a described target
(``x86_64-manylinux_2_28``) by toolcache and compiled by uv with the same cutoff; the script
prints SAME or DIFF (with what differs) per set and target, and exits 1 on any difference.
Needs the live PyPI and ``uv``. The corpus (benchmarks/corpus.py) has the pinned answers;
this is the wider, unpinned cross-check.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.corpus import resolve_case

TOOLSETS = [
    "sphinx,sphinx-rtd-theme,myst-parser", "pylint", "bandit[toml]", "isort[colors]", "twine",
    "nox", "hatch", "poetry", "jupyterlab", "ansible-lint", "mkdocs-material", "pyright",
    "semgrep", "docformatter[tomli]", "pip-audit", "flake8<5,flake8-bugbear", "mypy[reports],lxml",
    "django-stubs[compatible-mypy]", "pandas-stubs", "sqlfluff", "yamllint", "pyupgrade",
    "interrogate", "vulture", "safety", "cookiecutter", "copier", "commitizen", "towncrier",
]  # fmt: skip


def uv_pins(requirements: list[str], python: str, cutoff: str, workdir: Path) -> list[str] | None:
    req = workdir / "requirements.in"
    req.write_text("\n".join(requirements) + "\n")
    proc = subprocess.run(
        ["uv", "pip", "compile", str(req), "--quiet", "--no-header", "--no-annotate",
         "--python-version", python, "--python-platform", "x86_64-manylinux_2_28",
         "--exclude-newer", cutoff, "--cache-dir", str(workdir / "uv-cache")],
        capture_output=True, text=True, check=False,
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_NO_CONFIG": "1"},
    )  # fmt: skip
    if proc.returncode != 0:
        return None
    return sorted(line.strip() for line in proc.stdout.splitlines() if line.strip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", action="append", default=[])
    parser.add_argument("--cutoff", default="2026-11-01T00:00:00Z")
    parser.add_argument("toolsets", nargs="*")
    args = parser.parse_args()
    differences = 0
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for i, toolset in enumerate(args.toolsets or TOOLSETS):
            requirements = toolset.split(",")
            for python in args.python or ["3.12", "3.9"]:
                case = {
                    "id": f"set{i}-{python}",
                    "requirements": requirements,
                    "python": python,
                    "platform": "x86_64-manylinux_2_28",
                }
                ours, error, _ = resolve_case(case, args.cutoff, tmp / "work", tmp / "cache")
                theirs = uv_pins(requirements, python, args.cutoff, tmp)
                if ours is None and theirs is None:
                    print(f"SAME {toolset} @ {python}: both fail")
                elif ours is not None and theirs is not None and sorted(ours) == theirs:
                    print(f"SAME {toolset} @ {python}: {len(ours)} pins")
                else:
                    differences += 1
                    mine, uvs = set(ours or []), set(theirs or [])
                    print(f"DIFF {toolset} @ {python}" + (f": {error}" if error else ""))
                    print(f"    only toolcache: {sorted(mine - uvs)}")
                    print(f"    only uv:        {sorted(uvs - mine)}")
    print(f"{differences} differences")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
