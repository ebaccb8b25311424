"""One committed lock serves every interpreter its targets cover, and only those.

Real interpreters of one minor version (pyenv's CPython 3.11.7 and Debian's 3.11.2), a real
index on 127.0.0.1, the real CLI in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Dists
from tests.support.index import LocalIndex
from tests.test_plan import cli, fill_index
from tests.test_run import fill as fill_runnable

# Found at import, before the fixtures point HOME elsewhere.
PYENV_VERSIONS = Path.home() / ".pyenv" / "versions"
PYENV_311 = PYENV_VERSIONS / "3.11.7" / "bin" / "python3.11"
SYSTEM_311 = Path("/usr/bin/python3.11")

pytestmark = pytest.mark.slow


def _version(python: Path) -> str | None:
    if not python.exists():
        return None
    proc = subprocess.run(
        [str(python), "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() if proc.returncode == 0 else None


def _path_with(folder: Path, python: Path) -> str:
    """PATH whose first ``python3`` is ``python``."""
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / "python3"
    if not link.is_symlink():
        link.symlink_to(python)
    return os.pathsep.join([str(folder), os.environ["PATH"]])


@pytest.fixture
def two_311s(tmp_path: Path) -> tuple[str, str]:
    first, second = _version(PYENV_311), _version(SYSTEM_311)
    if first is None or second is None or first == second or first[:4] != second[:4]:
        pytest.skip(f"needs two patch releases of 3.11 at {PYENV_311} and {SYSTEM_311}")
    return (
        _path_with(tmp_path / "pyenv", PYENV_311),
        _path_with(tmp_path / "system", SYSTEM_311),
    )


def _manifest(folder: Path, index_url: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tools.yaml"
    path.write_text(
        f"index-url: {index_url}\npython: '3.11'\ntools:\n  x: lintme\n",
        encoding="utf-8",
    )
    return path


def test_a_lock_made_with_one_patch_release_runs_locked_on_another(
    tmp_path: Path, local_index: LocalIndex, dists: Dists, two_311s: tuple[str, str]
) -> None:
    pyenv_path, system_path = two_311s
    fill_runnable(local_index, dists)
    project = tmp_path / "project"
    manifest = _manifest(project, local_index.url)
    lock = project / "tools.lock" / "pylock.x.toml"

    cli("lock", "-m", str(manifest), cwd=project, env={"PATH": pyenv_path})
    made_with_pyenv = lock.read_bytes()
    assert b"3.11.7" not in made_with_pyenv  # no patch release in a lock

    ran = cli("run", "-m", str(manifest), "--locked", "x", cwd=project, env={"PATH": system_path})
    assert lock.read_bytes() == made_with_pyenv

    plans = []
    for path in (pyenv_path, system_path):
        args = ("plan", "-m", str(manifest), "--locked", "--format", "json")
        plans.append(json.loads(cli(*args, cwd=project, env={"PATH": path}).stdout)["tools"]["x"])
    assert plans[0]["python"].startswith("CPython 3.11.7")
    assert plans[1]["python"].startswith("CPython 3.11.2")
    assert {p["lock-status"] for p in plans} == {"fresh"}
    # One selection, two interpreters: same packages, an environment for each.
    assert plans[0]["resolution"] == plans[1]["resolution"]
    assert plans[0]["interpreter"] != plans[1]["interpreter"]
    # The tool ran in the environment of Debian's 3.11.2.
    assert ran.stdout.startswith("lintme [] ")
    assert f"/envs/{plans[1]['interpreter'][:16]}/" in ran.stdout

    # Locked afresh with the other interpreter: the same bytes.
    lock.unlink()
    cli("lock", "-m", str(manifest), cwd=project, env={"PATH": system_path})
    assert lock.read_bytes() == made_with_pyenv


def _pyenv(minor: str) -> Path | None:
    versions = sorted(PYENV_VERSIONS.glob(f"3.{minor}.*"))
    return (versions[-1] / "bin" / f"python3.{minor}") if versions else None


def test_an_uncovered_interpreter_is_refused_when_locked_and_added_otherwise(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    python312 = _pyenv("12")
    if python312 is None or not python312.exists():
        pytest.skip("needs pyenv's CPython 3.12")
    fill_index(local_index, dists)
    project = tmp_path / "project"
    project.mkdir()
    manifest = project / "tools.yaml"
    body = (
        f"index-url: {local_index.url}\n"
        "environments:\n  python: ['3.11']\n  platforms: [x86_64-manylinux_2_28]\n"
        f"tools:\n  x:\n    from: lintme\n    python: {{python}}\n"
    )
    manifest.write_text(body.format(python=sys.executable), encoding="utf-8")
    cli("lock", "-m", str(manifest), cwd=project)
    lock = project / "tools.lock" / "pylock.x.toml"
    before = lock.read_bytes()

    manifest.write_text(body.format(python=python312), encoding="utf-8")
    refused = cli("plan", "-m", str(manifest), "--locked", cwd=project, check=False)
    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert "does not cover CPython 3.12" in refused.stderr
    assert "cpython-3.11-x86_64-manylinux_2_28" in refused.stderr
    assert lock.read_bytes() == before

    frozen = cli("plan", "-m", str(manifest), "--frozen", cwd=project, check=False)
    assert frozen.returncode == 1
    assert "does not cover CPython 3.12" in frozen.stderr

    added = cli("plan", "-m", str(manifest), cwd=project, env={"TOOLCACHE_PROGRESS": "1"})
    assert "adding target cpython-3.12-x86_64-manylinux_2_28" in added.stderr
    text = lock.read_text(encoding="utf-8")
    assert "python_version == '3.12'" in text
    assert 'added-targets = [\n    "cpython-3.12-x86_64-manylinux_2_28",\n]' in text
    # Now covered: fresh, and locked again it is the same file.
    again = cli("plan", "-m", str(manifest), "--locked", "--format", "json", cwd=project)
    assert json.loads(again.stdout)["tools"]["x"]["lock-status"] == "fresh"


def test_a_lock_of_the_previous_format_is_stale_not_an_error(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    fill_index(local_index, dists)
    project = tmp_path / "project"
    manifest = _manifest(project, local_index.url)
    lock = project / "tools.lock" / "pylock.x.toml"
    lock.parent.mkdir()
    lock.write_text(
        'lock-version = "1.0"\ncreated-by = "toolcache"\npackages = []\n'
        '[tool.toolcache]\nformat = 1\ntool = "x"\n',
        encoding="utf-8",
    )
    refused = cli("plan", "-m", str(manifest), "--locked", cwd=project, check=False)
    assert refused.returncode == 1
    assert "written by an older toolcache (lock format 1" in refused.stderr
    assert "Traceback" not in refused.stderr
    cli("plan", "-m", str(manifest), cwd=project)
    assert "format = 2" in lock.read_text(encoding="utf-8")


def _locked(tmp_path: Path, local_index: LocalIndex, dists: Dists) -> tuple[Path, Path, str]:
    """A project whose tool ``x`` is locked: its manifest, its lock and the lock's text."""
    fill_index(local_index, dists)
    manifest = _manifest(tmp_path / "project", local_index.url)
    cli("lock", "-m", str(manifest), cwd=manifest.parent)
    lock = manifest.parent / "tools.lock" / "pylock.x.toml"
    return manifest, lock, lock.read_text(encoding="utf-8")


def test_a_hand_edited_lock_is_stale_and_locked_again(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    """Editing a release's version in a lock is noticed without the network:
    --locked and --frozen refuse it, `lock --check` fails, the default mode locks again."""
    manifest, lock, original = _locked(tmp_path, local_index, dists)
    project = manifest.parent
    assert 'version = "2.0"' in original
    edited = original.replace('version = "2.0"', 'version = "1.0"', 1)
    lock.write_text(edited, encoding="utf-8")
    for flag in ("--locked", "--frozen"):
        refused = cli("plan", "-m", str(manifest), flag, cwd=project, check=False)
        assert refused.returncode == 1, flag
        assert "its packages were changed since it was locked" in refused.stderr
        assert "Traceback" not in refused.stderr
    check = cli("lock", "-m", str(manifest), "--check", cwd=project, check=False)
    assert check.returncode == 1
    cli("lock", "-m", str(manifest), cwd=project)
    assert lock.read_text(encoding="utf-8") == original


def test_a_lock_from_before_packages_hash_is_said_to_be_older_not_edited(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    """Locks of format 2 written before locks carried ``packages-hash`` are stale for that
    reason, named as such (not "changed since it was locked"), and locked again."""
    manifest, lock, original = _locked(tmp_path, local_index, dists)
    project = manifest.parent
    older = "".join(
        line for line in original.splitlines(keepends=True) if not line.startswith("packages-hash")
    )
    assert older != original
    lock.write_text(older, encoding="utf-8")
    refused = cli("plan", "-m", str(manifest), "--locked", cwd=project, check=False)
    assert refused.returncode == 1
    assert "written by an older toolcache (no packages-hash)" in refused.stderr
    assert "changed since it was locked" not in refused.stderr
    cli("lock", "-m", str(manifest), cwd=project)
    assert lock.read_text(encoding="utf-8") == original
