"""One multi-target lock, installed by toolcache, by uv and by pip on each Python it covers.

PEP 751 says any installer may install from a lock. So the lock toolcache writes for several
Python versions must make uv (``uv pip install -r pylock.<tool>.toml``) and pip (``pip install
-r pylock.<tool>.toml``) install exactly what toolcache installs from it, on every interpreter:
the same bytes, read by three installers that select by the same ``marker``s. The tool's
dependencies differ by Python version (a backport below 3.11, a helper release that needs
3.12), so wrong markers, or an installer that read them differently, give another set.
Everything comes from the local index on 127.0.0.1; a dead proxy fails any other host.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from tests.support.dists import build_wheel
from tests.support.index import LocalIndex
from toolcache import manifest as manifest_mod
from toolcache.discovery import find_interpreter
from toolcache.envs import store
from toolcache.errors import ToolcacheError
from toolcache.interpreter import Interpreter
from toolcache.lockfile.planning import LockedTool, Planner

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        sys.platform != "linux" or platform.machine() != "x86_64",
        reason="the lock covers x86_64 Linux only",
    ),
]

TOOL = "tooly"
PYTHONS = ("3.10", "3.11", "3.12")
PLATFORM = "x86_64-manylinux_2_28"
EXPECTED = {
    "3.10": {"tooly==1.0", "helper==1.0", "backport==1.0"},
    "3.11": {"tooly==1.0", "helper==1.0"},
    "3.12": {"tooly==1.0", "helper==2.0"},
}
#: What a venv may hold before anything is installed: not part of what was locked.
SEEDED = {"pip", "setuptools", "wheel"}
LIST_INSTALLED = (
    "import importlib.metadata as m, json; "
    "print(json.dumps([[d.metadata['Name'], d.version] for d in m.distributions()]))"
)
#: A closed port: a request to any host but 127.0.0.1 goes here and fails at once.
DEAD_PROXY = "http://127.0.0.1:9"


@dataclasses.dataclass(frozen=True)
class Project:
    """The tool's manifest, locked once; its index keeps serving while the tests run."""

    index: LocalIndex
    manifest: manifest_mod.Manifest
    cache: Path
    lock_bytes: bytes

    @property
    def lock_path(self) -> Path:
        return self.manifest.lock_path(TOOL)

    def lock_for(self, interp: Interpreter) -> LockedTool:
        """The tool run on ``interp`` (a path request keeps every locked target)."""
        tool = dataclasses.replace(self.manifest.tools[TOOL], python=str(interp.executable))
        return Planner(self.manifest, cache_root=self.cache).lock_tool(tool)


def _interpreter(version: str, cache: Path) -> Interpreter | None:
    try:
        interp = find_interpreter(version, cache)
    except ToolcacheError:
        return None
    return interp if interp.implementation_name == "cpython" else None


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    root = tmp_path_factory.mktemp("other-installers")
    cache = root / "cache"
    with pytest.MonkeyPatch.context() as mp, LocalIndex(root / "index") as index:
        # Module scope runs before the per-test guard: keep every cache in ``root`` here too.
        mp.setenv("HOME", str(root))
        mp.setenv("XDG_CACHE_HOME", str(root / "xdg"))
        mp.setenv("TOOLCACHE_CACHE_DIR", str(cache))
        dists = root / "dists"
        index.add(build_wheel(dists, "helper", "1.0", requires_python=">=3.8"))
        index.add(build_wheel(dists, "helper", "2.0", requires_python=">=3.12"))
        index.add(build_wheel(dists, "backport", "1.0"))
        index.add(
            build_wheel(
                dists,
                TOOL,
                "1.0",
                requires=["helper", 'backport>=1; python_version < "3.11"'],
                console_scripts={TOOL: f"{TOOL}:main"},
            )
        )
        path = root / "project" / "tools.yaml"
        path.parent.mkdir()
        path.write_text(
            f"index-url: {index.url}\n"
            "environments:\n"
            f"  python: [{', '.join(repr(v) for v in PYTHONS)}]\n"
            f"  platforms: [{PLATFORM}]\n"
            f"tools:\n  {TOOL}: {TOOL}==1.0\n",
            encoding="utf-8",
        )
        manifest = manifest_mod.load(path)
        project = Project(index, manifest, cache, b"")
        first = next((i for v in PYTHONS if (i := _interpreter(v, cache)) is not None), None)
        if first is None:
            pytest.skip(f"no CPython {', '.join(PYTHONS)} on this machine")
        locked = project.lock_for(first)
        assert locked.status == "locked"
        assert [t.name for t in locked.lock.targets] == [f"cpython-{v}-{PLATFORM}" for v in PYTHONS]
        assert not locked.lock.added
        yield dataclasses.replace(project, lock_bytes=project.lock_path.read_bytes())
    if index.errors:
        raise index.errors[0]


def installed(python: Path) -> set[str]:
    """``name==version`` of every distribution ``python`` sees, bar what a venv is seeded with."""
    out = subprocess.run(
        [str(python), "-I", "-c", LIST_INSTALLED],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    found = {f"{canonicalize_name(name)}=={version}" for name, version in json.loads(out)}
    return {r for r in found if r.partition("==")[0] not in SEEDED}


def clean_env(tmp_path: Path) -> dict[str, str]:
    """This environment without the user's indexes or config: caches in ``tmp_path``, no
    Python downloads, and the dead proxy for every host but 127.0.0.1."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "UV_", "PYTHON", "VIRTUAL_ENV"))
        and k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
    }
    env.update(
        UV_CACHE_DIR=str(tmp_path / "uv-cache"),
        UV_PYTHON_DOWNLOADS="never",
        UV_NO_CONFIG="1",
        PIP_CACHE_DIR=str(tmp_path / "pip-cache"),
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        HTTP_PROXY=DEAD_PROXY,
        HTTPS_PROXY=DEAD_PROXY,
        ALL_PROXY=DEAD_PROXY,
        NO_PROXY="127.0.0.1",
    )
    return env


def run(argv: list[str], env: dict[str, str]) -> str:
    """Run ``argv``; on failure, fail the test with its whole output."""
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False, timeout=300)
    if done.returncode != 0:
        pytest.fail(
            f"{' '.join(argv)} exited {done.returncode}\n"
            f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
        )
    return done.stdout + done.stderr


def files_fetched(index: LocalIndex, since: int) -> set[str]:
    """The files downloaded from ``index`` since its ``since``-th request."""
    return {
        r.path.removeprefix("/files/")
        for r in index.requests[since:]
        if r.method == "GET" and r.path.startswith("/files/") and not r.path.endswith(".metadata")
    }


def wheels(packages: set[str]) -> set[str]:
    return {f"{p.replace('==', '-')}-py3-none-any.whl" for p in packages}


def test_expected_sets_differ_by_python() -> None:
    """The test can fail: each Python gets another set, so one lock must tell them apart."""
    assert len({frozenset(EXPECTED[v]) for v in PYTHONS}) == len(PYTHONS)


def test_some_python_to_install_on(tmp_path: Path) -> None:
    found = [v for v in PYTHONS if _interpreter(v, tmp_path / "cache") is not None]
    assert found, f"no CPython {', '.join(PYTHONS)} on this machine: nothing would be checked"


@pytest.mark.parametrize("version", PYTHONS)
def test_uv_and_pip_install_what_toolcache_installs(
    version: str, project: Project, tmp_path: Path
) -> None:
    interp = _interpreter(version, project.cache)
    if interp is None:
        pytest.skip(f"no CPython {version} on this machine")
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH")
    env = clean_env(tmp_path)

    locked = project.lock_for(interp)
    assert locked.status == "fresh"
    assert project.lock_path.read_bytes() == project.lock_bytes, "the lock was written again"
    selected = {f"{p.name}=={p.version}" for p in locked.selection.packages}
    environment = store.ensure(locked.selection, interp, project.cache)
    receipt = {f"{p.name}=={p.version}" for p in environment.receipt.packages}
    assert selected == receipt == installed(environment.python) == EXPECTED[version]

    uv_env, pip_env = tmp_path / "uv", tmp_path / "pip"
    lock = str(project.lock_path)
    run([uv, "venv", "--python", str(interp.executable), str(uv_env)], env)
    before = len(project.index.requests)
    run([uv, "pip", "install", "--python", str(uv_env / "bin" / "python"), "-r", lock], env)
    assert files_fetched(project.index, before) == wheels(selected), "uv"
    assert installed(uv_env / "bin" / "python") == selected, "uv"

    run([str(interp.executable), "-m", "venv", "--without-pip", str(pip_env)], env)
    before = len(project.index.requests)
    pip = [sys.executable, "-m", "pip", "--python", str(pip_env / "bin" / "python")]
    run([*pip, "install", "-r", lock], env)
    assert files_fetched(project.index, before) == wheels(selected), "pip"
    assert installed(pip_env / "bin" / "python") == selected, "pip"

    for venv in (environment.path, uv_env, pip_env):
        assert run([str(venv / "bin" / TOOL), "ok"], env).strip() == f"{TOOL} 1.0 ok", venv
