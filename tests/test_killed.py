"""A build or a restore killed (SIGKILL) at any point leaves a cache that `verify` calls clean
and that the next run uses.

Real processes killed for real, at ten points spread over the time an unkilled one takes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import Dists
from tests.support.index import LocalIndex

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL"),
]
POINTS = 10


def _fill(index: LocalIndex, dists: Dists) -> None:
    many = {f"bigtool/m{i}.py": f"X = {i}\n" * 200 for i in range(400)}
    many["bigtool/__init__.py"] = "def main():\n    print('bigtool ok')\n"
    index.add(
        dists.wheel(
            "bigtool",
            "1.0",
            requires=["helper"],
            console_scripts={"bigtool": "bigtool:main"},
            files=many,
        )
    )
    index.add(dists.wheel("helper", "1.0", files={"helper/__init__.py": "V = 1\n"}))


def _toolcache(
    *args: str, cwd: Path, cache: Path, fast: bool = False, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """toolcache in a process of its own; ``fast`` lets it take its fast paths (``restore``'s
    from ``plan``'s record), else the full commands run."""
    environ = {**os.environ, "TOOLCACHE_CACHE_DIR": str(cache), **(env or {})}
    environ["TOOLCACHE_NO_FAST_PATH"] = "0" if fast else "1"
    return subprocess.Popen(
        [sys.executable, "-m", "toolcache", *args],
        cwd=cwd,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(
    *args: str, cwd: Path, cache: Path, fast: bool = False, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    proc = _toolcache(*args, cwd=cwd, cache=cache, fast=fast, env=env)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _timed(*args: str, cwd: Path, cache: Path, fast: bool = False) -> float:
    start = time.perf_counter()
    done = _finish(*args, cwd=cwd, cache=cache, fast=fast)
    assert done.returncode == 0, done.stderr
    return time.perf_counter() - start


def _kill_after(seconds: float, *args: str, cwd: Path, cache: Path, fast: bool = False) -> bool:
    """Start the command, SIGKILL it after ``seconds``; whether the kill landed (the command
    had not finished by then)."""
    proc = _toolcache(*args, cwd=cwd, cache=cache, fast=fast)
    time.sleep(seconds)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    return proc.returncode == -signal.SIGKILL


def _clean_and_usable(manifest: Path, cache: Path) -> None:
    verified = _finish("verify", cwd=manifest.parent, cache=cache)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    ran = _finish("run", "-m", str(manifest), "t", cwd=manifest.parent, cache=cache)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "bigtool ok\n"


@pytest.fixture
def manifest(tmp_path: Path, local_index: LocalIndex, dists: Dists) -> Path:
    _fill(local_index, dists)
    project = tmp_path / "project"
    project.mkdir()
    path = project / "tools.yaml"
    path.write_text(
        f"index-url: {local_index.url}\npython: {sys.executable}\ntools:\n  t: bigtool\n",
        encoding="utf-8",
    )
    return path


def _wipe(cache: Path, *parts: str) -> None:
    for part in parts:
        subprocess.run(["rm", "-rf", str(cache / part)], check=True)


def test_a_build_killed_anywhere_leaves_a_clean_cache(manifest: Path, tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    total = _timed("run", "-m", str(manifest), "t", cwd=manifest.parent, cache=reference)
    killed = 0
    for point in range(POINTS):
        cache = tmp_path / f"cache-{point}"
        # The first lock is made by the reference run; each killed run builds from nothing.
        killed += _kill_after(total * point / POINTS, "run", "-m", str(manifest), "t",
                              cwd=manifest.parent, cache=cache)  # fmt: skip
        _clean_and_usable(manifest, cache)
    assert killed >= POINTS // 2, f"only {killed} of {POINTS} runs were killed before they ended"


@pytest.mark.parametrize("fast", [False, True], ids=["full", "after-plan"])
def test_a_restore_killed_anywhere_leaves_a_clean_cache(
    manifest: Path, tmp_path: Path, fast: bool
) -> None:
    cache = tmp_path / "cache"
    archives = tmp_path / "archives"
    cwd = manifest.parent
    assert _finish("run", "-m", str(manifest), "t", cwd=cwd, cache=cache).returncode == 0
    exported = _finish("export", "-m", str(manifest), "--to", str(archives), cwd=cwd, cache=cache)
    assert exported.returncode == 0, exported.stderr
    _wipe(cache, "envs")
    args = ("restore", "-m", str(manifest), "--from", str(archives), "--no-build")
    if fast:  # plan's record is there (restore left it): this is the path a CI job takes
        traced = _finish(*args, cwd=cwd, cache=cache, fast=True,
                         env={"PYTHONPROFILEIMPORTTIME": "1"})  # fmt: skip
        assert traced.returncode == 0, traced.stderr
        assert "toolcache.commands.restore_fast" in traced.stderr
        assert "toolcache.cli" not in traced.stderr
        _wipe(cache, "envs")
    total = _timed(*args, cwd=cwd, cache=cache, fast=fast)
    killed = 0
    for point in range(POINTS):
        _wipe(cache, "envs")
        killed += _kill_after(total * point / POINTS, *args, cwd=cwd, cache=cache, fast=fast)
        _clean_and_usable(manifest, cache)
    assert killed >= POINTS // 2, f"only {killed} of {POINTS} restores were killed in time"
