"""The environment store end to end: real wheels on a real index, real interpreters, real venvs."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import Dists
from tests.envs.locks import lock_tool
from tests.support.dists import build_wheel
from tests.support.index import LocalIndex
from toolcache.envs import build, health, install, receipt, store
from toolcache.errors import HashMismatch, ToolcacheError
from toolcache.interpreter import Interpreter, probe
from toolcache.lockfile.selection import Selection

REPO = Path(__file__).resolve().parents[2]
FAILING_TOOL = "import sys\n\ndef main():\n    print('lintme', *sys.argv[1:])\n    return 3\n"


@dataclass
class Project:
    """Manifests in ``tmp``, locked against ``index``, built into ``cache``."""

    tmp: Path
    index: LocalIndex
    cache: Path
    messages: list[str] = field(default_factory=list)

    def lock(
        self, requirement: str, *, python: Path | None = None, folder: str = "p", tool: str = "lint"
    ) -> Selection:
        exe = python or Path(sys.executable)
        manifest = f"index-url: {self.index.url}\npython: {exe}\ntools:\n  {tool}: {requirement}\n"
        return lock_tool(self.tmp / folder, manifest, self.cache, tool=tool)

    def interpreter(self, python: Path | None = None) -> Interpreter:
        return probe(python or Path(sys.executable), self.cache)

    def ensure(self, lock: Selection, *, python: Path | None = None) -> store.Environment:
        return store.ensure(
            lock, self.interpreter(python), self.cache, progress=self.messages.append
        )

    def built(self) -> bool:
        """Whether anything was built since the last call."""
        found = any(m.startswith("creating the environment") for m in self.messages)
        self.messages.clear()
        return found


@pytest.fixture
def project(tmp_path: Path, local_index: LocalIndex, dists: Dists) -> Project:
    local_index.add(dists.wheel("helper", "2.0"))
    local_index.add(
        dists.wheel(
            "lintme",
            "1.0",
            requires=["helper"],
            console_scripts={"lintme": "lintme:main"},
            files={"lintme/__init__.py": FAILING_TOOL},
        )
    )
    local_index.add(dists.wheel("lintme", "2.0", console_scripts={"lintme": "lintme:main"}))
    return Project(tmp_path, local_index, tmp_path / "cache")


def run(script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(script), *args], capture_output=True, text=True, check=False, timeout=60
    )


def env_dirs(cache: Path) -> list[Path]:
    """Every entry below ``envs/<interp>/`` but the lock files."""
    return sorted(p for p in (cache / "envs").glob("*/*") if p.suffix != ".lock" or p.is_dir())


def test_build_then_lookup_hit(project: Project) -> None:
    lock = project.lock("lintme==1.0")
    assert store.lookup(project.cache, lock.interpreter, lock.resolution) is None

    env = project.ensure(lock)
    assert project.built()
    assert env.path == store.env_path(project.cache, lock.interpreter, lock.resolution)
    assert env.path == project.cache / "envs" / lock.interpreter[:16] / lock.resolution[:16]
    assert env.python == env.bin_dir / "python" and env.bin_dir == env.path / "bin"
    assert [(p.name, p.version) for p in env.receipt.packages] == [
        ("helper", "2.0"),
        ("lintme", "1.0"),
    ]
    assert health.check(env.path) is None

    hit = store.lookup(project.cache, lock.interpreter, lock.resolution)
    assert hit == env
    assert project.ensure(lock) == env
    assert not project.built()

    proc = run(env.bin_dir / "lintme", "a", "b c")
    assert (proc.returncode, proc.stdout) == (3, "lintme a b c\n"), proc.stderr
    assert str(env.path) not in (env.bin_dir / "lintme").read_text()
    assert not list(env.bin_dir.glob("activate*"))


def test_lookup_marks_use_without_rewriting_the_receipt(project: Project) -> None:
    lock = project.lock("lintme==1.0")
    env = project.ensure(lock)
    before = (env.path / receipt.FILENAME).stat().st_mtime_ns
    past = time.time() - 1000
    os.utime(env.path / receipt.LAST_USED, (past, past))
    assert store.lookup(project.cache, lock.interpreter, lock.resolution) is not None
    used = receipt.last_used(env.path)
    assert used is not None and used > past
    assert (env.path / receipt.FILENAME).stat().st_mtime_ns == before


def test_lookup_imports_only_the_standard_library(project: Project) -> None:
    lock = project.lock("lintme==1.0")
    project.ensure(lock)
    code = (
        "import sys\nfrom pathlib import Path\nfrom toolcache.envs import store\n"
        f"env = store.lookup(Path({str(project.cache)!r}), {lock.interpreter!r},"
        f" {lock.resolution!r})\n"
        "assert env is not None\n"
        "heavy = ('packaging', 'httpx', 'installer', 'filelock', 'build', 'toolcache.lockfile')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m in heavy))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=REPO
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "[]\n"


def test_resolutions_and_environments(project: Project) -> None:
    one = project.ensure(project.lock("lintme==1.0", folder="a"))
    two = project.ensure(project.lock("lintme==2.0", folder="b"))
    assert one.path != two.path
    assert run(two.bin_dir / "lintme", "x").stdout == "lintme 2.0 x\n"

    project.built()
    again = project.lock("lintme<2", folder="c", tool="other")
    assert again.resolution == one.receipt.resolution_hash
    assert project.ensure(again).path == one.path
    assert not project.built()
    assert len(env_dirs(project.cache)) == 2


def test_hash_mismatch_is_refused_and_nothing_is_published(
    project: Project, dists: Dists, tmp_path: Path
) -> None:
    lock = project.lock("lintme==2.0")
    # The index now serves other bytes under the locked file's name.
    project.index.add(
        build_wheel(
            tmp_path / "evil",
            "lintme",
            "2.0",
            console_scripts={"lintme": "lintme:main"},
            files={"lintme/__init__.py": "def main():\n    return 0\n"},
        )
    )
    with pytest.raises(HashMismatch) as info:
        project.ensure(lock)
    assert info.value.expected == next(p.sha256 for p in lock.packages if p.name == "lintme")
    assert env_dirs(project.cache) == []
    assert store.lookup(project.cache, lock.interpreter, lock.resolution) is None


@pytest.mark.parametrize("error", [KeyboardInterrupt, install.InstallError])
def test_interrupted_build_leaves_nothing_and_a_retry_succeeds(
    project: Project, monkeypatch: pytest.MonkeyPatch, error: type[BaseException]
) -> None:
    lock = project.lock("lintme==1.0")
    seen: list[Path] = []

    def broken(wheel: Path, layout: install.Layout, python: Path, *, mode: str) -> None:
        assert python.exists()  # the venv was made
        seen.append(python)
        raise error("x.whl", "boom") if error is install.InstallError else error()

    monkeypatch.setattr(install, "install_wheel", broken)
    with pytest.raises(error):
        project.ensure(lock)
    assert seen
    assert env_dirs(project.cache) == []

    monkeypatch.undo()
    env = project.ensure(lock)
    assert run(env.bin_dir / "lintme").returncode == 3


def test_leftovers_of_killed_builds_are_ignored_then_cleaned(project: Project) -> None:
    lock = project.lock("lintme==1.0")
    parent = store.env_path(project.cache, lock.interpreter, lock.resolution).parent
    ours = parent / f".tmp-{lock.resolution[:16]}-killed"
    (ours / "bin").mkdir(parents=True)
    (ours / "pyvenv.cfg").write_text("home = /nowhere\n")
    old_other = parent / ".tmp-0123456789abcdef-killed"
    fresh_other = parent / ".tmp-fedcba9876543210-running"
    old_other.mkdir()
    fresh_other.mkdir()
    long_ago = time.time() - 2 * build.STALE_AFTER
    os.utime(old_other, (long_ago, long_ago))

    assert store.lookup(project.cache, lock.interpreter, lock.resolution) is None
    env = project.ensure(lock)
    assert run(env.bin_dir / "lintme").returncode == 3
    assert not ours.exists() and not old_other.exists()
    assert fresh_other.exists()


def test_a_broken_environment_is_rebuilt(project: Project) -> None:
    lock = project.lock("lintme==1.0")
    env = project.ensure(lock)
    (env.path / receipt.FILENAME).unlink()
    assert health.check(env.path) == "it has no receipt (an unfinished or foreign directory)"
    assert store.lookup(project.cache, lock.interpreter, lock.resolution) is None
    project.built()
    assert project.ensure(lock).path == env.path
    reason = "it has no receipt (an unfinished or foreign directory)"
    assert f"replacing a broken environment: {reason}" in project.messages
    assert project.built()
    assert health.check(env.path) is None
    assert run(env.bin_dir / "lintme").returncode == 3


_CHILD = """
import json, sys
from pathlib import Path
from toolcache.lockfile import document as lock_mod
from toolcache.envs import store
from toolcache.interpreter import probe
from toolcache.lockfile.selection import select

cache = Path(sys.argv[2])
interpreter = probe(Path(sys.executable), cache)
lock = lock_mod.read(Path(sys.argv[1]))
selection = select(lock, interpreter.target(), interpreter.hash, interpreter.describe())
messages = []
sys.stdin.readline()  # start together
env = store.ensure(selection, interpreter, cache, progress=messages.append)
built = any(m.startswith("creating the environment") for m in messages)
print(json.dumps({"built": built, "created": env.receipt.created, "path": str(env.path)}))
"""


def test_eight_processes_on_a_cold_cache_build_once(project: Project) -> None:
    lock = project.lock("lintme==1.0")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(lock.path), str(project.cache)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(8)
    ]
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    results = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        results.append(json.loads(out))
    assert sum(r["built"] for r in results) == 1
    assert len({(r["created"], r["path"]) for r in results}) == 1
    assert len(env_dirs(project.cache)) == 1


def test_a_moved_environment_still_runs_its_scripts(project: Project, tmp_path: Path) -> None:
    env = project.ensure(project.lock("lintme==1.0"))
    moved = tmp_path / "elsewhere" / "with space"
    moved.parent.mkdir()
    shutil.move(str(env.path), str(moved))
    proc = run(moved / "bin" / "lintme", "moved")
    assert (proc.returncode, proc.stdout) == (3, "lintme moved\n"), proc.stderr

    link = tmp_path / "linked-lintme"
    link.symlink_to(moved / "bin" / "lintme")
    assert run(link, "via link").stdout == "lintme via link\n"


def test_health_reports_a_removed_base_interpreter(project: Project, tmp_path: Path) -> None:
    base = tmp_path / "fakepy" / "bin"
    base.mkdir(parents=True)
    python = base / "python3"
    python.symlink_to(Path(sys.executable).resolve())
    lock = project.lock("lintme==1.0", python=python)
    env = project.ensure(lock, python=python)
    assert health.check(env.path) is None

    shutil.rmtree(tmp_path / "fakepy")
    reason = health.check(env.path)
    assert reason is not None and "gone" in reason and str(base) in reason
    assert store.lookup(project.cache, lock.interpreter, lock.resolution) is None


def test_health_reports_a_changed_interpreter_and_a_missing_python(
    project: Project, tmp_path: Path
) -> None:
    env = project.ensure(project.lock("lintme==1.0"))
    data = json.loads((env.path / receipt.FILENAME).read_text())
    data["base-interpreter"]["size"] += 1
    (env.path / receipt.FILENAME).write_text(json.dumps(data))
    reason = health.check(env.path)
    assert reason is not None and "changed since it was built" in reason

    data["base-interpreter"]["size"] -= 1
    (env.path / receipt.FILENAME).write_text(json.dumps(data))
    assert health.check(env.path) is None
    env.python.unlink()
    assert health.check(env.path) == f"{env.python} is missing"
    assert health.check(tmp_path / "nothing") == "it does not exist"


def test_offline_names_what_is_missing_then_builds_from_the_cache(project: Project) -> None:
    lock = project.lock("lintme==1.0")
    with pytest.raises(build.MissingOffline) as info:
        store.ensure(lock, project.interpreter(), project.cache, offline=True)
    assert isinstance(info.value, ToolcacheError)
    assert "lintme-1.0-py3-none-any.whl" in str(info.value)
    assert "helper-2.0-py3-none-any.whl" in str(info.value)
    assert env_dirs(project.cache) == []

    env = project.ensure(lock)
    shutil.rmtree(env.path)
    project.index.requests.clear()
    again = store.ensure(lock, project.interpreter(), project.cache, offline=True)
    assert again.path == env.path
    assert project.index.requests == []


def test_sdists_are_built_once_per_interpreter(
    project: Project, dists: Dists, tmp_path: Path
) -> None:
    project.index.add(dists.sdist("fromsrc", "1.0", console_scripts={"fromsrc": "fromsrc:main"}))
    first = project.ensure(project.lock("fromsrc", folder="a"))
    assert run(first.bin_dir / "fromsrc", "ok").stdout == "fromsrc 1.0 ok\n"
    sdist = next(p for p in first.receipt.packages if p.name == "fromsrc")
    built_dir = build.built_dir(project.cache, sdist.sha256, first.receipt.interpreter_hash)
    built = list(built_dir.glob("*.whl"))
    assert len(built) == 1
    stamp = built[0].stat().st_mtime_ns

    second = project.ensure(project.lock("{from: fromsrc, with: [lintme==2.0]}", folder="b"))
    assert second.path != first.path
    assert built[0].stat().st_mtime_ns == stamp
    assert run(second.bin_dir / "fromsrc").returncode == 0


def test_leftovers_of_killed_sdist_builds_are_cleaned(project: Project, dists: Dists) -> None:
    project.index.add(dists.sdist("fromsrc", "1.0", console_scripts={"fromsrc": "fromsrc:main"}))
    lock = project.lock("fromsrc")
    (sdist,) = (p for p in lock.packages if p.name == "fromsrc")
    folder = build.built_dir(project.cache, sdist.sha256, lock.interpreter)
    killed = folder.parent / f".tmp-{folder.name}-killed"
    (killed / "dist").mkdir(parents=True)
    env = project.ensure(lock)
    assert run(env.bin_dir / "fromsrc", "ok").stdout == "fromsrc 1.0 ok\n"
    assert not killed.exists()
    assert len(list(folder.glob("*.whl"))) == 1


def test_credentials_come_from_the_index_urls_given(tmp_path: Path, dists: Dists) -> None:
    with LocalIndex(tmp_path / "private", username="me", password="s3cret") as index:
        index.add(dists.wheel("lintme", "2.0", console_scripts={"lintme": "lintme:main"}))
        cache = tmp_path / "cache"
        manifest = (
            f"index-url: {index.url_with_credentials}\npython: {sys.executable}\n"
            "tools:\n  lint: lintme\n"
        )
        lock = lock_tool(tmp_path / "p", manifest, cache)
        assert "s3cret" not in lock.path.read_text()
        interpreter = probe(Path(sys.executable), cache)
        with pytest.raises(ToolcacheError, match="needs credentials"):
            store.ensure(lock, interpreter, cache)
        env = store.ensure(lock, interpreter, cache, index_urls=[index.url_with_credentials])
        assert run(env.bin_dir / "lintme").stdout == "lintme 2.0\n"


def test_local_files_are_found_beside_the_lock(tmp_path: Path, dists: Dists) -> None:
    wheels = tmp_path / "p" / "wheels"
    dists.wheel("lintme", "2.0", console_scripts={"lintme": "lintme:main"})
    shutil.copytree(dists.dest, wheels)
    (tmp_path / "empty").mkdir()
    cache = tmp_path / "cache"
    manifest = (
        f"index-url: {(tmp_path / 'empty').as_uri()}\nfind-links: [{wheels}]\n"
        f"python: {sys.executable}\ntools:\n  lint: lintme\n"
    )
    lock = lock_tool(tmp_path / "p", manifest, cache)
    assert all(p.path is not None and not Path(p.path).is_absolute() for p in lock.packages)
    env = store.ensure(lock, probe(Path(sys.executable), cache), cache)
    assert run(env.bin_dir / "lintme").stdout == "lintme 2.0\n"


def test_a_lock_for_another_interpreter_is_refused(project: Project) -> None:
    lock = project.lock("lintme==1.0")
    mismatched = dataclasses.replace(lock, interpreter=type(lock.interpreter)("0" * 64))
    with pytest.raises(build.BuildError, match="selected for interpreter 0000"):
        store.ensure(mismatched, project.interpreter(), project.cache)
