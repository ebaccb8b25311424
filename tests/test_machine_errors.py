"""Errors of the machine (a full disk, a read-only cache) are one line and exit 1, never a crash,
and leave no half-built environment.

Real file systems: small tmpfs mounts (Linux, as root); skipped with the reason elsewhere.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Dists
from tests.support.index import LocalIndex


@contextlib.contextmanager
def tmpfs(where: Path, options: str) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip() or proc.returncode}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _project(tmp_path: Path, index: LocalIndex, dists: Dists) -> Path:
    index.add(
        dists.wheel(
            "bulky",
            "1.0",
            console_scripts={"bulky": "bulky:main"},
            files={
                "bulky/__init__.py": "def main():\n    print('bulky')\n",
                "bulky/data.bin": os.urandom(400_000),
            },
        )
    )
    project = tmp_path / "project"
    project.mkdir()
    manifest = project / "tools.yaml"
    manifest.write_text(
        f"index-url: {index.url}\npython: {sys.executable}\ntools:\n  x: bulky\n",
        encoding="utf-8",
    )
    return manifest


def _toolcache(*args: str, cache: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "toolcache", *args],
        cwd=cwd,
        env={**os.environ, "TOOLCACHE_CACHE_DIR": str(cache), "TOOLCACHE_NO_FAST_PATH": "1"},
        capture_output=True,
        text=True,
        check=False,
    )


def _one_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "unexpected" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.mark.skipif(sys.platform != "linux", reason="tmpfs mounts are Linux's")
def test_a_full_disk_is_one_line_and_leaves_no_environment(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    manifest = _project(tmp_path, local_index, dists)
    with tmpfs(tmp_path / "small", "size=256k") as cache:
        proc = _toolcache("run", "-m", str(manifest), "x", cache=cache, cwd=manifest.parent)
        line = _one_line(proc)
        assert "No space left on device" in line
        assert str(cache) in line
        assert "TOOLCACHE_CACHE_DIR" in line
        envs = cache / "envs"
        published = (
            [p for p in envs.glob("*/*") if not p.name.startswith(".")] if envs.exists() else []
        )
        assert [p for p in published if p.is_dir()] == []
        assert not (cache / "logs").exists()  # no crash log: not a bug


@pytest.mark.skipif(sys.platform != "linux", reason="tmpfs mounts are Linux's")
def test_a_read_only_cache_is_one_line(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    manifest = _project(tmp_path, local_index, dists)
    with tmpfs(tmp_path / "ro", "size=1m,ro") as cache:
        # Planning only reads the cache (what it would have saved is made again next time)...
        planned = _toolcache("plan", "-m", str(manifest), cache=cache, cwd=manifest.parent)
        assert planned.returncode == 0, planned.stderr
        # ...building needs to write.
        proc = _toolcache("run", "-m", str(manifest), "x", cache=cache, cwd=manifest.parent)
        line = _one_line(proc)
        assert "Read-only file system" in line
        assert "writable folder" in line


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")
def test_files_follow_the_umask_so_a_group_can_share_the_cache(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    manifest = _project(tmp_path, local_index, dists)
    cache = tmp_path / "cache"
    proc = subprocess.run(
        [sys.executable, "-c", "import os, sys, runpy; os.umask(0o002); sys.argv = sys.argv[1:];"
         " runpy.run_module('toolcache', run_name='__main__')",
         "toolcache", "run", "-m", str(manifest), "x"],
        cwd=manifest.parent,
        env={**os.environ, "TOOLCACHE_CACHE_DIR": str(cache), "TOOLCACHE_NO_FAST_PATH": "1"},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (env,) = [p for p in cache.glob("envs/*/*") if p.is_dir() and not p.name.startswith(".")]
    made = {
        "lock": manifest.parent / "tools.lock" / "pylock.x.toml",
        "receipt": env / "toolcache-receipt.json",
        "file list": env / "toolcache-files.json",
        "wheel": next(cache.glob("files-v1/??/*/bulky-1.0-*.whl")),
    }
    modes = {name: oct(path.stat().st_mode & 0o777) for name, path in made.items()}
    assert modes == dict.fromkeys(made, "0o664")
    assert oct(env.stat().st_mode & 0o777) == "0o775"
