"""Archive tests, and the store tests' helpers. Shared here: "runners" (a cache root, HOME,
working folder and a folder of interpreter symlinks each, as two CI machines would have), a
project whose manifest and locks move between them like a checked-out repository, and a way
to run the same step on two threads at once."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest

from tests.support.dists import build_wheel
from tests.support.index import LocalIndex
from toolcache.commands.export import export
from toolcache.commands.restore import restore
from toolcache.lockfile.planning import LockMode
from toolcache.output import Output

#: The version request the manifests use: found on PATH as ``pythonX.Y``.
PY_REQUEST = f"{sys.version_info[0]}.{sys.version_info[1]}"
T = TypeVar("T")
TOOL_MODULE = (
    "import sys\n\n\ndef main():\n    print('lintme', 'ok', *sys.argv[1:])\n    return 0\n"
)


@dataclass
class Runner:
    """One machine: its own cache root, HOME, working folder and path to the interpreter."""

    root: Path
    python_dir: Path
    out: io.StringIO = field(default_factory=io.StringIO)
    err: io.StringIO = field(default_factory=io.StringIO)

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def work(self) -> Path:
        return self.root / "work"

    def activate(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("HOME", str(self.home))
        monkeypatch.setenv("XDG_CACHE_HOME", str(self.root / "xdg"))
        monkeypatch.setenv("TOOLCACHE_CACHE_DIR", str(self.cache))
        monkeypatch.setenv("PATH", os.pathsep.join([str(self.python_dir), "/usr/bin", "/bin"]))
        monkeypatch.chdir(self.work)

    def output(self) -> Output:
        self.out = io.StringIO()
        self.err = io.StringIO()
        return Output(quiet=False, out=self.out, err=self.err)

    def export(self, manifest: Path, **options: object) -> int:
        arguments: dict[str, object] = {
            "cache_root": self.cache,
            "to": None,
            "store": None,
            "prune": False,
            "mode": LockMode.AUTO,
            "offline": False,
            "output": self.output(),
        }
        arguments.update(options)
        return export(manifest, [], **arguments)  # type: ignore[arg-type]

    def restore(self, manifest: Path, **options: object) -> int:
        arguments: dict[str, object] = {
            "cache_root": self.cache,
            "from_": None,
            "store": None,
            "no_build": False,
            "mode": LockMode.AUTO,
            "offline": False,
            "output_format": "json",
            "output": self.output(),
        }
        arguments.update(options)
        return restore(manifest, [], **arguments)  # type: ignore[arg-type]


def make_runner(base: Path, name: str) -> Runner:
    """A runner under ``base/name`` whose interpreter is reached through ``base/<name>-bin``."""
    root = base / name
    for sub in ("cache", "home", "work"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    python_dir = base / f"{name}-bin"
    python_dir.mkdir(exist_ok=True)
    link = python_dir / f"python{PY_REQUEST}"
    if not link.exists():
        link.symlink_to(os.path.realpath(sys.executable))
    return Runner(root, python_dir)


def add_tool(index: LocalIndex, dest: Path) -> None:
    """``lintme`` 1.0 (a console script printing ``lintme ok <args>``) needing ``helper``."""
    index.add(build_wheel(dest, "helper", "2.0"))
    index.add(
        build_wheel(
            dest,
            "lintme",
            "1.0",
            requires=["helper"],
            console_scripts={"lintme": "lintme:main"},
            files={"lintme/__init__.py": TOOL_MODULE},
        )
    )


def write_project(folder: Path, index_url: str, tools: dict[str, str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    tools = tools or {"lint": "lintme==1.0"}
    lines = [f"index-url: {index_url}", f'python: "{PY_REQUEST}"', "tools:"]
    lines += [f"  {name}: {requirement}" for name, requirement in tools.items()]
    manifest = folder / "tools.yaml"
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return manifest


def copy_project(manifest: Path, folder: Path) -> Path:
    """The manifest's folder (manifest and locks) copied to ``folder``, as a checkout."""
    shutil.copytree(manifest.parent, folder)
    return folder / manifest.name


def first_runner(
    base: Path,
    index: LocalIndex,
    monkeypatch: pytest.MonkeyPatch,
    tools: dict[str, str] | None = None,
) -> tuple[Runner, Path]:
    """Runner A, active, with ``lintme`` on ``index`` and the project in ``work/repo``;
    returns the runner and the project's manifest."""
    add_tool(index, base / "dists")
    a = make_runner(base, "A")
    a.activate(monkeypatch)
    return a, write_project(a.work / "repo", index.url, tools)


def built_runner(
    base: Path,
    index: LocalIndex,
    monkeypatch: pytest.MonkeyPatch,
    tools: dict[str, str] | None = None,
) -> tuple[Runner, Path]:
    """``first_runner`` with every environment of the project built by a restore."""
    a, manifest = first_runner(base, index, monkeypatch, tools)
    assert a.restore(manifest) == 0
    statuses = {t["status"] for t in json.loads(a.out.getvalue())["tools"].values()}
    assert statuses == {"built"}, a.err.getvalue()
    return a, manifest


def second_runner(
    base: Path, manifest: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Runner, Path]:
    """Runner B, active, with a checkout of ``manifest``'s project in ``work/repo``."""
    b = make_runner(base, "B")
    copied = copy_project(manifest, b.work / "repo")
    b.activate(monkeypatch)
    return b, copied


def at_once(action: Callable[[], T], times: int = 2) -> list[T]:
    """``action`` run on ``times`` threads released together; what each returned.

    The first exception a thread raised is raised again, once all have finished."""
    start = threading.Barrier(times, timeout=60)
    results: list[T] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            start.wait()
            results.append(action())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def run_script(script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(script), *args], capture_output=True, text=True, check=False, timeout=60
    )
