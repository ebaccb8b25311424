"""Build on runner A, export, restore on runner B (other cache, HOME, folder, interpreter path,
no network), and run the tool there."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.archive import (
    PY_REQUEST,
    at_once,
    built_runner,
    first_runner,
    run_script,
    second_runner,
    write_project,
)
from tests.support.dists import build_wheel
from tests.support.index import LocalIndex
from toolcache.archive.contents import is_archive_name
from toolcache.archive.restore import restore_environment
from toolcache.envs import health, store
from toolcache.lockfile.planning import LockMode


def _files(root: Path) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            path = Path(dirpath, name)
            if not path.is_symlink():
                found[str(path.relative_to(root))] = path.read_bytes()
    return found


def test_build_export_restore_elsewhere_offline_and_run(
    tmp_path: Path, local_index: LocalIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, manifest_a = built_runner(tmp_path, local_index, monkeypatch)
    assert a.export(manifest_a) == 0
    archives = sorted((a.cache / "archives").iterdir())
    assert [p.name for p in archives if is_archive_name(p.name)] == [p.name for p in archives]
    assert len(archives) == 1
    # Exporting again is a no-op: same file, untouched.
    before = archives[0].stat()
    assert a.export(manifest_a) == 0
    assert "exists" in a.out.getvalue()
    after = archives[0].stat()
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)

    # Runner B: a checkout of the same repository, the CI cache restored into its cache root.
    b, manifest_b = second_runner(tmp_path, manifest_a, monkeypatch)
    (b.cache / "archives").mkdir(parents=True)
    shutil.copy2(archives[0], b.cache / "archives" / archives[0].name)
    local_index.stop()  # no network
    shutil.rmtree(a.root)
    shutil.rmtree(a.python_dir)

    assert b.restore(manifest_b, offline=True, mode=LockMode.LOCKED) == 0
    result = json.loads(b.out.getvalue())
    assert result["version"] == 1
    lint = result["tools"]["lint"]
    assert lint["status"] == "restored", b.err.getvalue()
    env = Path(lint["environment"])
    assert env.is_relative_to(b.cache)
    assert health.check(env) is None
    assert health.pyvenv_home(env) == str(b.python_dir)
    local_python = str(b.python_dir / f"python{PY_REQUEST}")
    links = {p.name: os.readlink(p) for p in (env / "bin").iterdir() if p.is_symlink()}
    assert local_python in links.values()
    assert all(t == local_python or "/" not in t for t in links.values()), links

    proc = run_script(env / "bin" / "lintme", "x", "y z")
    assert (proc.returncode, proc.stdout) == (0, "lintme ok x y z\n"), proc.stderr

    # Nothing in the environment names runner A.
    for name, data in _files(env).items():
        assert str(tmp_path / "A").encode() not in data, name

    # A second restore is a hit; so is the cache-hit lookup of ``run``.
    assert b.restore(manifest_b, offline=True) == 0
    assert json.loads(b.out.getvalue())["tools"]["lint"]["status"] == "hit"
    assert store.lookup(b.cache, *_hashes(env)) is not None


def _hashes(env: Path) -> tuple[str, str]:
    from toolcache.envs import receipt

    found = receipt.read(env)
    return found.interpreter_hash, found.resolution_hash


def test_no_build_reports_missing_and_github_outputs(
    tmp_path: Path, local_index: LocalIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, manifest = first_runner(tmp_path, local_index, monkeypatch)
    github_output = tmp_path / "gh-output"
    summary = tmp_path / "gh-summary"
    monkeypatch.setenv("GITHUB_OUTPUT", str(github_output))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))

    assert a.restore(manifest, no_build=True, output_format="github") == 0
    assert "status-lint=missing\n" in github_output.read_text()
    assert "cache-hit=false\n" in github_output.read_text()
    assert a.out.getvalue().splitlines()[1].split()[:2] == ["lint", "missing"]
    assert list((a.cache / "envs").glob("*/*")) == []

    assert a.restore(manifest, output_format="github") == 0
    assert "status-lint=built\n" in github_output.read_text()
    assert a.export(manifest) == 0
    shutil.rmtree(a.cache / "envs")
    github_output.write_text("")
    assert a.restore(manifest, no_build=True, output_format="github") == 0
    assert github_output.read_text().splitlines()[:2] == ["status-lint=restored", "cache-hit=true"]
    table = summary.read_text()
    assert "| tool | status | time |" in table and "| lint | restored |" in table


def test_prune_removes_archives_no_longer_needed(
    tmp_path: Path, local_index: LocalIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_index.add(
        build_wheel(tmp_path / "dists", "other", "1.0", console_scripts={"other": "other:main"})
    )
    a, both = built_runner(
        tmp_path, local_index, monkeypatch, {"lint": "lintme==1.0", "o": "other"}
    )
    assert a.export(both) == 0
    # The table: tool, archive, status, size.
    archive_of = {row.split()[0]: row.split()[1] for row in a.out.getvalue().splitlines()[1:3]}
    assert sorted(archive_of) == ["lint", "o"]
    assert sorted(p.name for p in (a.cache / "archives").iterdir()) == sorted(archive_of.values())
    stray = a.cache / "archives" / "not-an-archive.txt"
    stray.write_text("kept")

    one = write_project(a.work / "repo", local_index.url, {"lint": "lintme==1.0"})
    assert a.export(one, prune=True) == 0
    left = sorted(p.name for p in (a.cache / "archives").iterdir())
    assert left == sorted([archive_of["lint"], stray.name]) and stray.read_text() == "kept"
    assert f"removed {archive_of['o']}\n" in a.out.getvalue()


def test_concurrent_restores_publish_once(
    tmp_path: Path, local_index: LocalIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, manifest = built_runner(tmp_path, local_index, monkeypatch)
    assert a.export(manifest) == 0
    (archive,) = (a.cache / "archives").iterdir()
    found = receipt_of(a.cache)
    cache = tmp_path / "other-cache"

    def one() -> str:
        with archive.open("rb") as fh:
            outcome, _ = restore_environment(
                fh,
                archive=archive.name,
                cache_root=cache,
                interpreter_hash=found[0],
                resolution_hash=found[1],
                packages=None,
                executable=Path(sys.executable),
                size_limit=1 << 30,
            )
        return outcome

    assert sorted(at_once(one)) == ["hit", "restored"]
    (env,) = [p for p in (cache / "envs").glob("*/*") if p.is_dir()]
    assert health.check(env) is None
    assert [p.name for p in env.parent.iterdir() if p.name.startswith(".restore-")] == []


def receipt_of(cache: Path) -> tuple[str, str]:
    (env,) = [p for p in (cache / "envs").glob("*/*") if p.is_dir()]
    return _hashes(env)
