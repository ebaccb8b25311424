"""Tools that see the project's dependencies (``with-groups``, ``with-project``) and their
``env:``, through the real CLI against a local index (a fake checker stands in for mypy)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import Dists
from tests.support.index import LocalIndex

#: A stand-in for mypy: imports each module named on its command line, fails when one is not
#: installed, and shows the MYPYPATH it was given.
CHECKER = """\
import importlib
import os
import sys


def main():
    print("MYPYPATH=" + os.environ.get("MYPYPATH", "<unset>"))
    for name in sys.argv[1:]:
        try:
            module = importlib.import_module(name)
        except ImportError:
            print("missing " + name)
            return 1
        print(name, getattr(module, "VALUE", ""))
    return 0
"""

PYPROJECT = """\
[project]
name = "proj"
version = "0.1"
dependencies = ["projdep"]

[project.optional-dependencies]
fast = ["fastdep"]

[dependency-groups]
base = ["baselib"]
typing = [
    {include-group = "base"},
    "typedlib",
]
"""


def fill(index: LocalIndex, dists: Dists) -> None:
    index.add(
        dists.wheel(
            "checker",
            "1.0",
            console_scripts={"checker": "checker:main"},
            files={"checker/__init__.py": CHECKER},
        )
    )
    for name in ("baselib", "typedlib", "projdep", "fastdep", "newlib"):
        index.add(dists.wheel(name, "1.0", files={f"{name}/__init__.py": "VALUE = 1\n"}))


def project(folder: Path, index_url: str, tools: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    path = folder / "tools.yaml"
    path.write_text(
        f"index-url: {index_url}\npython: {sys.executable}\ntools:\n{tools}", encoding="utf-8"
    )
    return path


def toolcache(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "toolcache", *args],
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200", "TOOLCACHE_PROGRESS": "1"},
        capture_output=True,
        text=True,
        check=False,
    )


TOOLS = """\
  types:
    from: checker
    with-groups: [typing]
    with-project: [fast]
  bare:
    from: checker
"""


def test_groups_and_project_dependencies_are_installed_and_tracked(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    fill(local_index, dists)
    path = project(tmp_path / "p", local_index.url, TOOLS)
    cwd = path.parent
    modules = ["baselib", "typedlib", "projdep", "fastdep"]

    types = toolcache("run", "-m", str(path), "types", "--", *modules, cwd=cwd)
    assert types.returncode == 0, types.stdout + types.stderr
    assert "missing" not in types.stdout
    # The project itself is not installed: only its dependencies.
    project_itself = toolcache("run", "-m", str(path), "types", "--", "proj", cwd=cwd)
    assert project_itself.returncode == 1
    assert "missing proj" in project_itself.stdout
    bare = toolcache("run", "-m", str(path), "bare", "--", "typedlib", cwd=cwd)
    assert bare.returncode == 1
    assert "missing typedlib" in bare.stdout

    lock = (cwd / "tools.lock" / "pylock.types.toml").read_text(encoding="utf-8")
    assert 'pyproject = "pyproject.toml"' in lock
    assert "typing = [" in lock and '"baselib"' in lock

    planned = toolcache("plan", "-m", str(path), cwd=cwd)  # records the plan (stamp)
    assert planned.returncode == 0, planned.stderr

    # The included group changes: the lock is stale, and the message names the group.
    pyproject = cwd / "pyproject.toml"
    pyproject.write_text(
        PYPROJECT.replace('base = ["baselib"]', 'base = ["baselib", "newlib"]'), encoding="utf-8"
    )
    locked = toolcache("run", "--locked", "-m", str(path), "types", "--", "newlib", cwd=cwd)
    assert locked.returncode != 0
    assert "dependency group 'typing' of pyproject.toml changed" in locked.stderr
    assert "--locked" in locked.stderr
    # plan's recorded answer is not taken either: the pyproject it was made from changed.
    replanned = toolcache("plan", "--locked", "-m", str(path), cwd=cwd)
    assert replanned.returncode != 0
    assert "dependency group 'typing' of pyproject.toml changed" in replanned.stderr

    again = toolcache("run", "-m", str(path), "types", "--", "newlib", cwd=cwd)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "lock for 'types' is stale: dependency group 'typing'" in " ".join(again.stderr.split())
    assert "newlib 1" in again.stdout

    # The project dependencies change: named as such.
    pyproject.write_text(
        pyproject.read_text(encoding="utf-8").replace('["projdep"]', '["projdep", "newlib"]'),
        encoding="utf-8",
    )
    deps = toolcache("lock", "--check", "-m", str(path), "--tool", "types", cwd=cwd)
    assert deps.returncode != 0
    assert "the project dependencies of pyproject.toml changed" in deps.stderr


ENV_TOOLS = """\
  types:
    from: checker
    env:
      MYPYPATH: src
"""


def test_env_is_set_and_a_changed_env_takes_no_stale_hit(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    fill(local_index, dists)
    path = project(tmp_path / "p", local_index.url, ENV_TOOLS)
    cwd = path.parent
    first = toolcache("run", "-m", str(path), "types", cwd=cwd)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[0] == "MYPYPATH=src"
    # The first run left the record the cache-hit path starts the tool from.
    assert list(Path(os.environ["TOOLCACHE_CACHE_DIR"], "stamps-v1").glob("*-types.run"))
    hit = toolcache("run", "-m", str(path), "types", cwd=cwd)
    assert hit.stdout.splitlines()[0] == "MYPYPATH=src"

    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("MYPYPATH: src", "MYPYPATH: lib"), encoding="utf-8")
    changed = toolcache("run", "-m", str(path), "types", cwd=cwd)
    assert changed.stdout.splitlines()[0] == "MYPYPATH=lib", changed.stderr
    assert toolcache("run", "-m", str(path), "types", cwd=cwd).stdout.startswith("MYPYPATH=lib")

    plan = toolcache("plan", "--format", "json", "-m", str(path), cwd=cwd)
    assert '"MYPYPATH": "lib"' in plan.stdout, plan.stderr
