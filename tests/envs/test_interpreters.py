"""Every CPython 3.8+ under pyenv, and PyPy when installed, builds and runs a tool."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Dists
from tests.envs.locks import lock_tool
from tests.support.index import LocalIndex
from toolcache.envs import health, store
from toolcache.interpreter import probe

# Found before any fixture points HOME at a temporary folder.
PYENV_ROOT = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")


def _pyenv_pythons() -> list[Path]:
    found: list[tuple[tuple[int, int], Path]] = []
    for folder in (PYENV_ROOT / "versions").glob("*"):
        match = re.fullmatch(r"(\d+)\.(\d+)\.\d+", folder.name)
        exe = folder / "bin" / "python3"
        if match and exe.is_file():
            version = (int(match.group(1)), int(match.group(2)))
            if version >= (3, 8):
                found.append((version, exe))
    return [exe for _, exe in sorted(found)]


def _interpreters() -> list[object]:
    params: list[object] = [
        pytest.param(exe, id=f"cpython-{exe.parents[1].name}") for exe in _pyenv_pythons()
    ]
    pypy = shutil.which("pypy3")
    if pypy:
        params.append(pytest.param(Path(pypy), id="pypy3"))
    if not params:
        params.append(
            pytest.param(None, marks=pytest.mark.skip(reason="no pyenv CPython 3.8+ nor pypy3"))
        )
    return params


@pytest.mark.slow
@pytest.mark.parametrize("python", _interpreters())
def test_interpreter_builds_and_runs_a_tool(
    python: Path, tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    local_index.add(dists.wheel("lintme", "1.0", console_scripts={"lintme": "lintme:main"}))
    local_index.add(dists.sdist("fromsrc", "1.0", console_scripts={"fromsrc": "fromsrc:main"}))
    cache = tmp_path / "cache"
    manifest = (
        f"index-url: {local_index.url}\npython: {python}\n"
        "tools:\n  lint: {from: lintme, with: [fromsrc]}\n"
    )
    lock = lock_tool(tmp_path / "p", manifest, cache)
    interpreter = probe(python, cache)
    env = store.ensure(lock, interpreter, cache)
    assert health.check(env.path) is None

    for script, expected in (("lintme", "lintme 1.0 hi\n"), ("fromsrc", "fromsrc 1.0 hi\n")):
        proc = subprocess.run(
            [str(env.bin_dir / script), "hi"], capture_output=True, text=True, check=False
        )
        assert (proc.returncode, proc.stdout) == (0, expected), proc.stderr

    major, minor = interpreter.version
    check = (
        f"import sys; print(sys.implementation.name, sys.version_info[:2] == ({major}, {minor}))"
    )
    proc = subprocess.run(
        [str(env.python), "-c", check], capture_output=True, text=True, check=False
    )
    assert proc.stdout.split() == [interpreter.implementation_name, "True"], proc.stderr
