"""The pre-commit hook: ``.pre-commit-hooks.yaml`` run by the real pre-commit.

pre-commit installs the hook repository (a snapshot of this working tree) into an environment
of its own with pip, so the tests that run it need toolcache's dependencies from PyPI; the
tool the hook runs comes from the local index.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import Dists
from tests.integrations import ROOT, load
from tests.support.index import LocalIndex

MARKER = "REJECT" + "-ME-PLEASE"  # split, so this file does not carry the marker itself

CHECKER = f"""\
import sys


def main():
    rejected = []
    for name in sys.argv[1:]:
        with open(name, encoding="utf-8", errors="replace") as fh:
            if {MARKER!r} in fh.read():
                rejected.append(name)
    for name in rejected:
        print(name + ": rejected")
    print("checked", len(sys.argv) - 1, "files")
    return 1 if rejected else 0
"""

GIT_ENV = {
    "GIT_AUTHOR_NAME": "toolcache tests",
    "GIT_AUTHOR_EMAIL": "tests@toolcache.invalid",
    "GIT_COMMITTER_NAME": "toolcache tests",
    "GIT_COMMITTER_EMAIL": "tests@toolcache.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def hook() -> dict[str, Any]:
    hooks = load(ROOT / ".pre-commit-hooks.yaml")
    assert isinstance(hooks, list)
    (found,) = [h for h in hooks if h["id"] == "toolcache"]
    assert isinstance(found, dict)
    return found


def git(*args: str, cwd: Path) -> str:
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip()


def add_checker(index: LocalIndex, dists: Dists) -> None:
    index.add(
        dists.wheel(
            "checkme",
            "1.0",
            console_scripts={"checkme": "checkme:main"},
            files={"checkme/__init__.py": CHECKER},
        )
    )


def project(folder: Path, index: LocalIndex, files: int = 1) -> Path:
    """A git repository with a tools.yaml whose tool ``check`` comes from the local index."""
    folder.mkdir(parents=True)
    (folder / "tools.yaml").write_text(
        f"index-url: {index.url}\npython: {sys.executable}\ntools:\n  check:\n    from: checkme\n",
        encoding="utf-8",
    )
    for i in range(files):
        (folder / f"clean_{i}.py").write_text(f"VALUE = {i}\n", encoding="utf-8")
    git("init", "-q", "-b", "main", cwd=folder)
    git("add", "-A", cwd=folder)
    git("commit", "-q", "-m", "start", cwd=folder)
    return folder


def test_hook_definition() -> None:
    found = hook()
    assert found["entry"] == "toolcache run"
    assert found["language"] == "python"
    assert found.get("pass_filenames", True) is True
    assert found.get("require_serial", False) is False


@pytest.mark.parametrize(
    "args",
    [["-m", "tools.yaml", "check"], ["-m", "tools.yaml", "check", "--"], ["check"]],
    ids=["plain", "double-dash", "no-manifest"],
)
def test_hook_command_line_hands_the_file_names_to_the_tool(
    tmp_path: Path, local_index: LocalIndex, dists: Dists, args: list[str]
) -> None:
    """The command pre-commit builds, ``entry + args + file names``, reaches the tool with
    the file names as its arguments, with or without a ``--`` at the end of ``args``, and
    without ``-m`` when the manifest is the repository's ``tools.yaml``."""
    add_checker(local_index, dists)
    folder = project(tmp_path / "p", local_index, files=2)
    (folder / "bad.txt").write_text(f"x {MARKER} y\n", encoding="utf-8")
    entry = shlex.split(hook()["entry"])
    assert entry[0] == "toolcache"

    def pre_commit_would_run(*names: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "toolcache", *entry[1:], *args, *names],
            cwd=folder,
            capture_output=True,
            text=True,
            check=False,
        )

    clean = pre_commit_would_run("clean_0.py", "clean_1.py")
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout == "checked 2 files\n"
    rejected = pre_commit_would_run("clean_0.py", "bad.txt")
    assert rejected.returncode == 1
    assert rejected.stdout == "bad.txt: rejected\nchecked 2 files\n"


# -- The real pre-commit -----------------------------------------------------------------------


def snapshot_of_this_repository(dest: Path, hook_args: list[str] | None = None) -> str:
    """This working tree (tracked and untracked files, ignored ones left out) committed into a
    new repository at ``dest``; returns the commit. With ``hook_args``, the toolcache hook's
    ``args`` default is set to them in the snapshot's ``.pre-commit-hooks.yaml``."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout of toolcache")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        source = ROOT / rel
        if source.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / rel)
    if hook_args is not None:
        manifest = dest / ".pre-commit-hooks.yaml"
        hooks = yaml.safe_load(manifest.read_text(encoding="utf-8"))
        for entry in hooks:
            if entry["id"] == "toolcache":
                entry["args"] = hook_args
        manifest.write_text(yaml.safe_dump(hooks, sort_keys=False), encoding="utf-8")
    git("init", "-q", "-b", "main", cwd=dest)
    git("add", "-A", cwd=dest)
    git("commit", "-q", "-m", "snapshot", cwd=dest)
    return git("rev-parse", "HEAD", cwd=dest)


def pre_commit(*args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    pytest.importorskip("pre_commit")
    env = {**os.environ, **GIT_ENV, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def environments(cache: Path) -> list[Path]:
    return [
        env
        for interpreter in (cache / "envs").iterdir()
        for env in interpreter.iterdir()
        if env.is_dir() and not env.name.startswith(".")
    ]


@pytest.mark.network
@pytest.mark.slow
def test_pre_commit_runs_the_hook_from_this_repository(
    tmp_path: Path, local_index: LocalIndex, dists: Dists, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user's ``.pre-commit-config.yaml`` with this repository as the hook repo and
    ``args: [-m, tools.yaml, check]``: passes on clean files, fails on a rejected one. With
    many files pre-commit starts several ``toolcache run`` at once on a cold cache; they
    build one environment between them."""
    add_checker(local_index, dists)
    hooks_repo = tmp_path / "hooks-repo"
    rev = snapshot_of_this_repository(hooks_repo)
    folder = project(tmp_path / "p", local_index, files=40)
    config = {
        "repos": [
            {
                "repo": str(hooks_repo),
                "rev": rev,
                "hooks": [{"id": "toolcache", "args": ["-m", "tools.yaml", "check"]}],
            }
        ]
    }
    (folder / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    git("add", "-A", cwd=folder)
    git("commit", "-q", "-m", "hooks", cwd=folder)
    home = tmp_path / "pre-commit-home"

    monkeypatch.setenv("TOOLCACHE_PROGRESS", "1")  # each build says "toolcache: installing"
    clean = pre_commit("run", "--all-files", "--verbose", cwd=folder, home=home)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "Passed" in clean.stdout
    checked = [line for line in clean.stdout.splitlines() if line.startswith("checked ")]
    assert sum(int(line.split()[1]) for line in checked) == 42  # 40 + tools.yaml + config
    if (os.cpu_count() or 1) > 1 and not os.environ.get("PRE_COMMIT_NO_CONCURRENCY"):
        # pre-commit split the files between processes that ran at once
        assert len(checked) > 1, clean.stdout
    assert len(environments(Path(os.environ["TOOLCACHE_CACHE_DIR"]))) == 1
    assert clean.stdout.count("toolcache: installing") == 1, clean.stdout  # one build in all

    (folder / "bad.py").write_text(f"# {MARKER}\n", encoding="utf-8")
    git("add", "bad.py", cwd=folder)
    rejected = pre_commit("run", "--all-files", cwd=folder, home=home)
    assert rejected.returncode == 1, rejected.stdout + rejected.stderr
    assert "Failed" in rejected.stdout
    assert "bad.py: rejected" in rejected.stdout
    assert "clean_0.py: rejected" not in rejected.stdout


@pytest.mark.network
@pytest.mark.slow
def test_pre_commit_try_repo(tmp_path: Path, local_index: LocalIndex, dists: Dists) -> None:
    """``pre-commit try-repo <snapshot> toolcache --all-files``. try-repo takes no ``args``,
    so the snapshot's hook carries ``-m tools.yaml check`` as its default ``args``, where a
    user's config would give them."""
    add_checker(local_index, dists)
    hooks_repo = tmp_path / "hooks-repo"
    snapshot_of_this_repository(hooks_repo, hook_args=["-m", "tools.yaml", "check"])
    folder = project(tmp_path / "p", local_index, files=3)
    home = tmp_path / "pre-commit-home"

    clean = pre_commit(
        "try-repo", str(hooks_repo), "toolcache", "--all-files", "--verbose", cwd=folder, home=home
    )
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "Passed" in clean.stdout
    checked = [line for line in clean.stdout.splitlines() if line.startswith("checked ")]
    assert sum(int(line.split()[1]) for line in checked) == 4, clean.stdout  # 3 + tools.yaml

    (folder / "bad.py").write_text(f"# {MARKER}\n", encoding="utf-8")
    git("add", "bad.py", cwd=folder)
    rejected = pre_commit(
        "try-repo", str(hooks_repo), "toolcache", "--all-files", cwd=folder, home=home
    )
    assert rejected.returncode == 1, rejected.stdout + rejected.stderr
    assert "bad.py: rejected" in rejected.stdout
