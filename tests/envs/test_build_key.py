"""Wheels built from sdists are cached per interpreter *and* per build variables."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import Dists
from tests.envs.locks import lock_tool
from tests.support.index import LocalIndex
from toolcache import host as host_mod
from toolcache.envs import build, store
from toolcache.interpreter import probe

SHA = "ab" * 32
INTERP = "cd" * 32


def test_without_build_variables_the_folder_is_the_one_it_always_was(tmp_path: Path) -> None:
    folder = build.built_dir(tmp_path, SHA, INTERP, {})
    assert folder == tmp_path / "files-v1" / "built" / "ab" / SHA / INTERP[:16]


def test_mac_deployment_target_and_archflags_change_the_folder(tmp_path: Path) -> None:
    """Stands in for sdist builds on a Mac: ``MACOSX_DEPLOYMENT_TARGET=11.0`` and
    ``ARCHFLAGS='-arch arm64 -arch x86_64'`` make another wheel (``macosx_11_0_universal2``)
    than the default build, so each gets its own cached wheel; unrelated variables do not."""
    mac = host_mod.for_platform("darwin")
    environments = [
        {},
        {"MACOSX_DEPLOYMENT_TARGET": "11.0"},
        {"MACOSX_DEPLOYMENT_TARGET": "14.0"},
        {"ARCHFLAGS": "-arch arm64 -arch x86_64"},
        {"MACOSX_DEPLOYMENT_TARGET": "11.0", "ARCHFLAGS": "-arch arm64 -arch x86_64"},
        {"_PYTHON_HOST_PLATFORM": "macosx-11.0-universal2"},
    ]
    folders = [
        build.built_dir(tmp_path, SHA, INTERP, mac.build_environment(env)) for env in environments
    ]
    assert len(set(folders)) == len(environments)
    # The same variables, given in another order or among others, name the same folder.
    again = mac.build_environment(
        {"ARCHFLAGS": "-arch arm64 -arch x86_64", "HOME": "/x", "MACOSX_DEPLOYMENT_TARGET": "11.0"}
    )
    assert build.built_dir(tmp_path, SHA, INTERP, again) == folders[4]
    assert mac.build_environment({"MACOSX_DEPLOYMENT_TARGET": "", "CFLAGS": "-O3"}) == {}
    # Linux builds do not read the macOS variables.
    linux = host_mod.for_platform("linux")
    assert linux.build_environment({"MACOSX_DEPLOYMENT_TARGET": "11.0"}) == {}
    # Folder names keep no "-", which would break the recovery of killed builds' leftovers.
    assert all("-" not in f.name for f in folders)


@pytest.mark.slow
def test_a_build_variable_set_builds_again_and_then_reuses_that_wheel(
    tmp_path: Path,
    local_index: LocalIndex,
    dists: Dists,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A real sdist build, then another with ``_PYTHON_HOST_PLATFORM`` set (a variable this
    host's builds read; on a Mac ``MACOSX_DEPLOYMENT_TARGET`` works the same way): the second
    build does not reuse the first's wheel, and a third with the same value reuses it."""
    if sys.prefix != sys.base_prefix:
        pytest.skip("needs an interpreter outside a virtual environment")
    monkeypatch.delenv("_PYTHON_HOST_PLATFORM", raising=False)
    local_index.add(dists.sdist("fromsrc", "1.0", console_scripts={"fromsrc": "fromsrc:main"}))
    cache = tmp_path / "cache"
    manifest = f"index-url: {local_index.url}\npython: {sys.executable}\ntools:\n  lint: fromsrc\n"
    lock = lock_tool(tmp_path / "p", manifest, cache)
    interpreter = probe(Path(sys.executable), cache)
    (sdist,) = (p for p in lock.packages if p.name == "fromsrc")

    def build_once() -> Path:
        env = store.ensure(lock, interpreter, cache)
        proc = subprocess.run(
            [str(env.bin_dir / "fromsrc"), "ok"], capture_output=True, text=True, check=False
        )
        assert proc.stdout == "fromsrc 1.0 ok\n", proc.stderr
        shutil.rmtree(env.path)
        (wheel,) = build.built_dir(cache, sdist.sha256, interpreter.hash).glob("*.whl")
        return wheel

    plain = build_once()
    monkeypatch.setenv("_PYTHON_HOST_PLATFORM", sysconfig.get_platform())
    other = build_once()
    assert other.parent != plain.parent
    stamp = other.stat().st_mtime_ns
    assert build_once() == other and other.stat().st_mtime_ns == stamp
    monkeypatch.delenv("_PYTHON_HOST_PLATFORM")
    assert build_once() == plain
