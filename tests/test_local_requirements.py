"""Local requirements in ``from:`` / ``with:``: a plugin folder built with its own (offline,
in-tree) backend and a wheel file, through the real CLI against a local index."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

from tests.conftest import Dists
from tests.support.index import LocalIndex

#: A tool that loads plugins through an entry-point group and lists what is installed.
HOST = """\
from importlib.metadata import distributions, entry_points


def main():
    for ep in sorted(entry_points(group="host.plugins"), key=lambda e: e.name):
        print("plugin", ep.name, ep.load()())
    names = sorted(d.metadata["Name"].lower().replace("_", "-") for d in distributions())
    print("installed", " ".join(names))
    return 0
"""


def plugin_folder(dists: Dists, dest: Path, behaviour: str) -> Path:
    """``dest``: a project folder named myplugin (pyproject with a [project] name and the
    stdlib-only in-tree backend of ``tests.support.dists``) declaring a ``host.plugins`` entry
    point and depending on ``plugdep`` from the index."""
    sdist = dists.sdist(
        "myplugin",
        "1.0",
        requires=["plugdep"],
        files={"myplugin/__init__.py": f"def hello():\n    return {behaviour!r}\n"},
    )
    scratch = dest.parent / ".unpack"
    with tarfile.open(sdist) as archive:
        archive.extractall(scratch, filter="data")
    (scratch / "myplugin-1.0").rename(dest)
    shutil.rmtree(scratch)
    spec_path = dest / "backend.json"
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    spec["meta"]["entry_points.txt"] = "[host.plugins]\nmine = myplugin:hello\n"
    spec_path.write_text(json.dumps(spec, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    pyproject = dest / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    pyproject.write_text(text + '\n[project]\nname = "myplugin"\nversion = "1.0"\n', "utf-8")
    return dest


def fill(index: LocalIndex, dists: Dists) -> None:
    host = dists.wheel(
        "host", "1.0", console_scripts={"host": "host:main"}, files={"host/__init__.py": HOST}
    )
    index.add(host)
    index.add(dists.wheel("plugdep", "1.0"))


def toolcache(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "TOOLCACHE_PROGRESS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "toolcache", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def manifest(folder: Path, index_url: str, tools: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tools.yaml"
    path.write_text(
        f"index-url: {index_url}\npython: {sys.executable}\ntools:\n{tools}", encoding="utf-8"
    )
    return path


def environment(cwd: Path, path: Path, tool: str) -> str:
    planned = toolcache("plan", "--format", "json", "-m", str(path), cwd=cwd)
    assert planned.returncode == 0, planned.stderr
    document: Any = json.loads(planned.stdout)
    found = [v["environment"] for k, v in document["tools"].items() if k == tool]
    return str(found[0])


def flat(text: str) -> str:
    return " ".join(text.split())


def test_plugin_folder_is_built_locked_and_rebuilt_when_edited(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    fill(local_index, dists)
    cwd = tmp_path / "proj"
    plugin_folder(dists, (cwd / "plugins").joinpath("myplugin"), "v1")
    path = manifest(
        cwd, local_index.url, '  host:\n    from: host\n    with: ["./plugins/myplugin"]\n'
    )

    first = toolcache("run", "-m", str(path), "host", cwd=cwd)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "plugin mine v1" in first.stdout
    assert "plugdep" in first.stdout  # its dependency came from the index
    lock = (cwd / "tools.lock" / "pylock.host.toml").read_text(encoding="utf-8")
    assert '[packages.directory]\npath = "../plugins/myplugin"\neditable = false\n' in lock
    assert "content-hash = " in lock
    before = environment(cwd, path, "host")

    module = cwd / "plugins" / "myplugin" / "myplugin" / "__init__.py"
    module.write_text("def hello():\n    return 'v2'\n", encoding="utf-8")

    locked = toolcache("run", "--locked", "-m", str(path), "host", cwd=cwd)
    assert locked.returncode != 0
    assert "the sources of local requirement plugins/myplugin changed" in flat(locked.stderr)
    assert "--locked" in locked.stderr

    after = environment(cwd, path, "host")
    assert after != before
    again = toolcache("run", "-m", str(path), "host", cwd=cwd)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "plugin mine v2" in again.stdout
    assert environment(cwd, path, "host") == after


def test_wheel_file_is_locked_with_its_hash_and_a_relative_path(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    fill(local_index, dists)
    cwd = tmp_path / "proj"
    wheel = dists.wheel("extra-plug", "1.0", requires=["plugdep"])
    (cwd / "wheels").mkdir(parents=True)
    local = cwd / "wheels" / wheel.name
    shutil.copy(wheel, local)
    tools = f'  host:\n    from: host\n    with: ["./wheels/{wheel.name}"]\n'
    path = manifest(cwd, local_index.url, tools)

    first = toolcache("run", "-m", str(path), "host", cwd=cwd)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "extra-plug" in first.stdout and "plugdep" in first.stdout
    lock = (cwd / "tools.lock" / "pylock.host.toml").read_text(encoding="utf-8")
    sha = hashlib.sha256(local.read_bytes()).hexdigest()
    assert f'path = "../wheels/{wheel.name}"' in lock
    assert f'sha256 = "{sha}"' in lock

    other = dists.wheel("extra-plug", "1.0", files={"extra_plug/__init__.py": "X = 2\n"})
    shutil.copy(other, local)
    locked = toolcache("run", "--locked", "-m", str(path), "host", cwd=cwd)
    assert locked.returncode != 0
    assert f"the file of local requirement wheels/{wheel.name} changed" in flat(locked.stderr)
    again = toolcache("run", "-m", str(path), "host", cwd=cwd)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "plugdep" not in again.stdout  # the new wheel has no dependencies


def test_the_content_hash_covers_nested_build_packages_not_top_build_output(
    tmp_path: Path,
) -> None:
    """What a folder's content hash (and so its built wheel) covers: a subpackage named
    ``build`` is a source; the top's build output, caches, bytecode and the lock folder of a
    manifest kept in the folder are not (locking must not change the folder's sources)."""
    from toolcache.local import content_hash, source_files

    folder = tmp_path / "plugin"
    sources = ["pyproject.toml", "src/pkg/__init__.py", "src/pkg/build/__init__.py"]
    for relative in [
        *sources,
        "build/lib/pkg/__init__.py",
        "dist/pkg-1.0.tar.gz",
        ".mypy_cache/x.json",
        "src/pkg/__pycache__/x.cpython-311.pyc",
        "tools.lock/pylock.lint.toml",
    ]:
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(relative, encoding="utf-8")
    assert [relative for relative, _ in source_files(folder)] == sorted(sources)
    before = content_hash(folder)
    (folder / "tools.lock" / "pylock.lint.toml").write_text("relocked", encoding="utf-8")
    assert content_hash(folder) == before
    (folder / "src/pkg/build/__init__.py").write_text("edited", encoding="utf-8")
    assert content_hash(folder) != before
