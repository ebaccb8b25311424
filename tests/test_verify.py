"""An edit in one environment reaches no other; `verify` finds damage and `--repair` heals it.

Real wheels on a real index on 127.0.0.1, real environments built by the CLI in subprocesses.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import Dists
from tests.support.index import LocalIndex
from tests.test_plan import cli

#: This interpreter's minor version: the manifest's environments name it.
MINOR = f"{sys.version_info[0]}.{sys.version_info[1]}"

TOOL = """\
import sys

def main():
    print("lintme", __import__("helper").VALUE)
    return 0
"""


def _fill(index: LocalIndex, dists: Dists) -> None:
    index.add(
        dists.wheel(
            "lintme",
            "1.0",
            requires=["helper"],
            console_scripts={"lintme": "lintme:main"},
            files={"lintme/__init__.py": TOOL},
        )
    )
    index.add(
        dists.wheel("fmtme", "1.0", requires=["helper"], console_scripts={"fmtme": "fmtme:main"})
    )
    index.add(dists.wheel("helper", "1.0", files={"helper/__init__.py": "VALUE = 'pristine'\n"}))


def _manifest(tmp_path: Path, index: LocalIndex) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    manifest = project / "tools.yaml"
    manifest.write_text(
        f"index-url: {index.url}\npython: {sys.executable}\n"
        f"environments:\n  python: ['{MINOR}']\n  platforms: [linux]\n"
        "tools:\n  lint: lintme\n  fmt: fmtme\n",
        encoding="utf-8",
    )
    return manifest


def _cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The CLI, never its cache-hit path: these tests are about what a lookup finds."""
    return cli(*args, cwd=cwd, env={"TOOLCACHE_NO_FAST_PATH": "1", **(env or {})}, check=False)


def _helper_files(cache: Path) -> list[Path]:
    return sorted(cache.glob("envs/*/*/lib/*/site-packages/helper/__init__.py"))


Project = tuple[Path, Path, Path]


@pytest.fixture
def project(tmp_path: Path, local_index: LocalIndex, dists: Dists) -> Project:
    """(manifest, its folder, the cache) of a project whose tools are on the index."""
    _fill(local_index, dists)
    manifest = _manifest(tmp_path, local_index)
    return manifest, manifest.parent, Path(os.environ["TOOLCACHE_CACHE_DIR"])


pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or platform.machine() != "x86_64",
    reason="the manifest's environments name Linux x86_64",
)


def test_an_edited_file_reaches_no_other_environment_and_verify_finds_it(project: Project) -> None:
    manifest, cwd, cache = project
    assert _cli("run", "-m", str(manifest), "lint", cwd=cwd).stdout == "lintme pristine\n"
    (edited,) = _helper_files(cache)
    with edited.open("a", encoding="utf-8") as f:
        f.write("VALUE = 'edited'\n")

    # A second tool with the same helper, built after the edit, gets the wheel's bytes.
    assert _cli("run", "-m", str(manifest), "fmt", cwd=cwd).returncode == 0
    other = [p for p in _helper_files(cache) if p != edited]
    assert [p.read_text(encoding="utf-8") for p in other] == ["VALUE = 'pristine'\n"]

    found = _cli("verify", cwd=cwd)
    assert found.returncode == 1
    assert "helper/__init__.py was changed (size" in found.stdout
    assert found.stdout.count("damaged environment") == 1  # only the edited one
    assert "Traceback" not in found.stderr

    # A lookup (any command but the cache-hit path of run) refuses it and builds it again.
    again = _cli("run", "-m", str(manifest), "lint", cwd=cwd, env={"TOOLCACHE_PROGRESS": "1"})
    assert again.stdout == "lintme pristine\n"
    assert "replacing a broken environment: damaged: " in again.stderr
    assert _cli("verify", "--full", cwd=cwd).returncode == 0


def test_verify_repair_heals_missing_added_and_hashed_changes(project: Project) -> None:
    manifest, cwd, cache = project
    assert _cli("run", "-m", str(manifest), "lint", cwd=cwd).returncode == 0
    (helper,) = _helper_files(cache)
    site = helper.parent.parent
    (site / "lintme" / "__init__.py").unlink()
    (site / "evil.pth").write_text("import os\n", encoding="utf-8")
    # The same size: only a hash sees it.
    helper.write_text("VALUE = 'EDITED!!'\n", encoding="utf-8")

    cheap = _cli("verify", cwd=cwd)
    assert cheap.returncode == 1
    assert "lintme/__init__.py is missing" in cheap.stdout
    assert "evil.pth was added" in cheap.stdout
    full = _cli("verify", "--full", cwd=cwd)
    assert "helper/__init__.py was changed (its sha256 differs)" in full.stdout

    repaired = _cli("verify", "--repair", "-m", str(manifest), cwd=cwd)
    assert repaired.returncode == 0, repaired.stderr
    assert "removed environment envs/" in repaired.stdout
    assert "lint: envs/" in repaired.stdout and "is sound" in repaired.stdout
    assert _cli("verify", "--full", cwd=cwd).returncode == 0
    assert _cli("run", "-m", str(manifest), "lint", cwd=cwd).stdout == "lintme pristine\n"


def test_hardlink_mode_spreads_an_edit_to_the_cache_and_verify_says_where(project: Project) -> None:
    manifest, cwd, cache = project
    hardlink = {"TOOLCACHE_LINK_MODE": "hardlink"}
    assert _cli("run", "-m", str(manifest), "lint", cwd=cwd, env=hardlink).returncode == 0
    (helper,) = _helper_files(cache)
    with helper.open("a", encoding="utf-8") as f:
        f.write("VALUE = 'edited'\n")
    found = _cli("verify", cwd=cwd)
    assert "damaged environment envs/" in found.stdout
    assert "damaged unpacked wheel files-v1/unpacked/" in found.stdout
    repaired = _cli("verify", "--repair", "-m", str(manifest), cwd=cwd, env=hardlink)
    assert repaired.returncode == 0, repaired.stderr
    assert "removed unpacked wheel" in repaired.stdout
    assert _cli("run", "-m", str(manifest), "lint", cwd=cwd).stdout == "lintme pristine\n"


def test_a_tampered_cached_wheel_is_found_by_verify_full(project: Project) -> None:
    manifest, cwd, cache = project
    assert _cli("run", "-m", str(manifest), "lint", cwd=cwd).returncode == 0
    wheel = next(cache.glob("files-v1/??/*/helper-1.0-*.whl"))
    wheel.write_bytes(wheel.read_bytes()[: wheel.stat().st_size // 2])
    assert _cli("verify", cwd=cwd).returncode == 0  # sizes of environments and trees only
    full = _cli("verify", "--full", cwd=cwd)
    assert full.returncode == 1
    assert f"damaged wheel {wheel.relative_to(cache).as_posix()}" in full.stdout
    assert _cli("verify", "--full", "--repair", cwd=cwd).returncode == 0
    assert not wheel.exists()


def test_export_refuses_an_environment_whose_files_changed(
    tmp_path: Path, project: Project
) -> None:
    manifest, cwd, cache = project
    assert _cli("run", "-m", str(manifest), "lint", cwd=cwd).returncode == 0
    (helper,) = _helper_files(cache)
    helper.write_text("VALUE = 'EDITED!!'\n", encoding="utf-8")  # same size as the wheel's
    archives = tmp_path / "archives"
    refused = _cli("export", "-m", str(manifest), "--tool", "lint", "--to", str(archives), cwd=cwd)
    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "cannot export the environment of lint" in lines[0]
    assert "helper/__init__.py was changed (its sha256 differs)" in lines[0]
    assert not list(archives.glob("*.tar.zst"))


@pytest.mark.parametrize("damage", ["truncated", "tampered"])
def test_a_damaged_cached_wheel_is_downloaded_again_and_the_build_succeeds(
    project: Project, dists: Dists, local_index: LocalIndex, damage: str
) -> None:
    manifest, cwd, cache = project
    assert _cli("run", "-m", str(manifest), "lint", cwd=cwd).returncode == 0
    wheel = next(cache.glob("files-v1/??/*/helper-1.0-*.whl"))
    if damage == "truncated":
        wheel.write_bytes(wheel.read_bytes()[: wheel.stat().st_size // 2])
    else:  # a valid wheel with other contents, its RECORD made to match them
        other = dists.wheel("helper", "1.0", files={"helper/__init__.py": "VALUE = 'evil'\n"})
        wheel.write_bytes(other.read_bytes())
    for tree in cache.glob("files-v1/unpacked/*/*"):
        subprocess.run(["rm", "-rf", str(tree)], check=True)
    for env in cache.glob("envs/*/*"):
        subprocess.run(["rm", "-rf", str(env)], check=True)
    downloads = len([r for r in local_index.requests if r.path.endswith(wheel.name)])
    again = _cli("run", "-m", str(manifest), "lint", cwd=cwd)
    assert again.stdout == "lintme pristine\n", again.stderr
    assert len([r for r in local_index.requests if r.path.endswith(wheel.name)]) == downloads + 1


def test_list_shows_a_damaged_environment_and_gc_removes_it(project: Project) -> None:
    manifest, cwd, cache = project
    assert _cli("run", "-m", str(manifest), "lint", cwd=cwd).returncode == 0
    (helper,) = _helper_files(cache)
    helper.unlink()
    listed = _cli("list", cwd=cwd)
    assert f"broken: damaged: lib/python{MINOR}/site-packages/helper/__init__.py is missing" in (
        listed.stdout
    )
    collected = _cli("gc", cwd=cwd)
    assert collected.returncode == 0, collected.stderr
    assert "removed " in collected.stdout and "broken (damaged: " in collected.stdout
    assert _helper_files(cache) == []


def test_gc_sweeps_what_killed_processes_left_after_an_hour(tmp_path: Path) -> None:
    cache = Path(os.environ["TOOLCACHE_CACHE_DIR"])
    old = [
        cache / "envs" / "208dc560200976d0" / ".tmp-4cb22c88df60b2ef-abc",
        cache / "envs" / "208dc560200976d0" / ".restore-4cb22c88df60b2ef-def",
        cache / "files-v1" / "unpacked" / "ab" / ".tmp-abababababababab-xyz",
    ]
    fresh = cache / "files-v1" / "unpacked" / "cd" / ".tmp-cdcdcdcdcdcdcdcd-new"
    download = cache / "files-v1" / ".download-k1ll3d"
    for folder in [*old, fresh]:
        (folder / "lib").mkdir(parents=True)
        (folder / "lib" / "big.bin").write_bytes(b"x" * 1000)
    download.write_bytes(b"partial")
    hour_ago = time.time() - 3700
    for path in [*old, download]:
        os.utime(path, (hour_ago, hour_ago))
    swept = _cli("gc", cwd=tmp_path)
    assert swept.returncode == 0, swept.stderr
    assert "removed 4 leftovers of killed builds and downloads" in swept.stdout
    assert [p.exists() for p in old] == [False, False, False]
    assert not download.exists()
    assert fresh.exists()
