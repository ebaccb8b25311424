"""``toolcache run`` through the real CLI: lock, build, run; then the cache-hit path."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import Dists
from tests.support.index import LocalIndex

TOOL_MODULE = """\
import os
import sys


def main():
    print("lintme", sys.argv[1:], os.environ.get("VIRTUAL_ENV", ""))
    if sys.argv[1:2] == ["fail"]:
        return 7
    return 0
"""

HEAVY = ("typer", "yaml", "httpx", "resolvelib", "packaging", "rich", "click", "installer")


def fill(index: LocalIndex, dists: Dists) -> None:
    index.add(
        dists.wheel(
            "lintme",
            "1.0",
            requires=["helper"],
            console_scripts={"lintme": "lintme:main"},
            files={"lintme/__init__.py": TOOL_MODULE},
        )
    )
    index.add(dists.wheel("helper", "2.0"))


def manifest(folder: Path, index_url: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tools.yaml"
    path.write_text(
        f"index-url: {index_url}\npython: {sys.executable}\n"
        "tools:\n  lint:\n    from: lintme\n  check:\n    from: lintme\n    run: lintme --check\n",
        encoding="utf-8",
    )
    return path


def toolcache(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )


def imported(stderr: str, *, full: bool = False) -> set[str]:
    """Module names (top-level ones unless ``full``) from ``-X importtime`` output."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            names.add(name if full else name.split(".")[0])
    return names


def test_run_builds_then_hits_without_network_or_heavy_imports(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    fill(local_index, dists)
    path = manifest(tmp_path / "p", local_index.url)
    cwd = path.parent

    first = toolcache(
        "-m", "toolcache", "run", "-m", str(path), "lint", "--", "a.py", "-x", cwd=cwd
    )
    assert first.returncode == 0, first.stderr
    env_dir = Path(os.environ["TOOLCACHE_CACHE_DIR"]) / "envs"
    (interp_dir,) = env_dir.iterdir()
    envs = [p for p in interp_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(envs) == 1
    assert first.stdout == f"lintme ['a.py', '-x'] {envs[0]}\n"

    # The tool's own exit code comes back; the command from `run:` gets the arguments appended.
    failing = toolcache("-m", "toolcache", "run", "-m", str(path), "lint", "fail", cwd=cwd)
    assert failing.returncode == 7
    check = toolcache("-m", "toolcache", "run", "-m", str(path), "check", "b.py", cwd=cwd)
    assert check.stdout == f"lintme ['--check', 'b.py'] {envs[0]}\n"
    # Both tools resolve the same: one environment.
    assert [p for p in interp_dir.iterdir() if p.is_dir() and not p.name.startswith(".")] == envs

    local_index.requests.clear()
    hit = toolcache(
        "-X", "importtime", "-m", "toolcache", "run", "-m", str(path), "lint", "x", cwd=cwd
    )
    assert hit.returncode == 0
    assert hit.stdout == f"lintme ['x'] {envs[0]}\n"
    assert local_index.requests == []
    assert not imported(hit.stderr) & set(HEAVY), imported(hit.stderr) & set(HEAVY)
    ours = {m for m in imported(hit.stderr, full=True) if m.startswith("toolcache")}
    allowed = {"toolcache", "toolcache.__main__", "toolcache._entry", "toolcache._hit"}
    assert "toolcache._hit" in ours
    assert ours <= allowed | {"toolcache.paths", "toolcache.runner"}


def test_run_follows_manifest_changes_and_missing_environments(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    fill(local_index, dists)
    path = manifest(tmp_path / "p", local_index.url)
    assert (
        toolcache("-m", "toolcache", "run", "-m", str(path), "lint", cwd=tmp_path).returncode == 0
    )

    local_index.add(dists.wheel("helper", "3.0"))
    path.write_text(
        path.read_text().replace(
            "from: lintme\n  check", "from: lintme\n    with: [helper>=3]\n  check"
        )
    )
    changed = toolcache("-m", "toolcache", "run", "-m", str(path), "lint", cwd=tmp_path)
    assert changed.returncode == 0, changed.stderr
    lock = (path.parent / "tools.lock" / "pylock.lint.toml").read_text()
    assert 'name = "helper"\nversion = "3.0"' in lock

    # A removed environment is rebuilt rather than run broken.
    import shutil

    shutil.rmtree(Path(os.environ["TOOLCACHE_CACHE_DIR"]) / "envs")
    again = toolcache("-m", "toolcache", "run", "-m", str(path), "lint", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("lintme []")


def test_offline_cold_cache_says_what_is_missing(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    fill(local_index, dists)
    path = manifest(tmp_path / "p", local_index.url)
    assert toolcache("-m", "toolcache", "lock", "-m", str(path), cwd=tmp_path).returncode == 0
    proc = toolcache(
        "-m", "toolcache", "run", "-m", str(path), "--offline", "lint",
        cwd=tmp_path, env={"TOOLCACHE_CACHE_DIR": str(tmp_path / "empty-cache")},
    )  # fmt: skip
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "offline" in proc.stderr and "lintme-1.0-py3-none-any.whl" in proc.stderr


def test_eight_concurrent_runs_on_a_cold_cache(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    fill(local_index, dists)
    path = manifest(tmp_path / "p", local_index.url)
    assert toolcache("-m", "toolcache", "lock", "-m", str(path), cwd=tmp_path).returncode == 0
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "toolcache", "run", "-m", str(path), "lint", str(i)],
            env={**os.environ, "TOOLCACHE_PROGRESS": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(8)
    ]
    results = [(*p.communicate(), p.returncode) for p in procs]
    for i, (out, err, code) in enumerate(results):
        assert code == 0, err
        assert out.startswith(f"lintme ['{i}']")
    builds = sum("installing" in err for _, err, _ in results)
    assert builds == 1
    (interp_dir,) = (Path(os.environ["TOOLCACHE_CACHE_DIR"]) / "envs").iterdir()
    assert len([p for p in interp_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]) == 1


def test_plan_hit_prints_the_same_as_the_full_path(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    fill(local_index, dists)
    path = manifest(tmp_path / "p", local_index.url)
    full = toolcache("-m", "toolcache", "plan", "-m", str(path), "--format", "json", cwd=tmp_path)
    assert full.returncode == 0, full.stderr
    slow = toolcache(
        "-m", "toolcache", "plan", "-m", str(path), "--format", "json",
        cwd=tmp_path, env={"TOOLCACHE_NO_FAST_PATH": "1"},
    )  # fmt: skip
    fast = toolcache(
        "-X", "importtime", "-m", "toolcache", "plan", "-m", str(path), "--format", "json",
        cwd=tmp_path,
    )  # fmt: skip
    assert fast.stdout == slow.stdout
    assert not imported(fast.stderr) & set(HEAVY)
    # Any change to the manifest invalidates the record: the full path (which parses YAML) runs.
    path.write_text(path.read_text().replace("run: lintme --check", "run: lintme --strict"))
    changed = toolcache(
        "-X", "importtime", "-m", "toolcache", "plan", "-m", str(path), "--format", "json",
        cwd=tmp_path,
    )  # fmt: skip
    assert changed.returncode == 0
    assert "yaml" in imported(changed.stderr)
    assert json.loads(changed.stdout)["key"] == json.loads(fast.stdout)["key"]
    # ... and records again: the next plan is served without it.
    again = toolcache(
        "-X", "importtime", "-m", "toolcache", "plan", "-m", str(path), "--format", "json",
        cwd=tmp_path,
    )  # fmt: skip
    assert "yaml" not in imported(again.stderr)
    assert again.stdout == changed.stdout


def test_manifest_found_from_a_subfolder(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    fill(local_index, dists)
    path = manifest(tmp_path / "repo", local_index.url)
    (path.parent / ".git").mkdir()
    sub = path.parent / "src" / "pkg"
    sub.mkdir(parents=True)
    first = toolcache("-m", "toolcache", "run", "lint", "a", cwd=sub)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("lintme ['a']")
    hit = toolcache("-m", "toolcache", "run", "lint", "b", cwd=sub)
    assert hit.stdout.startswith("lintme ['b']")
    # The search stops at the repository root: no manifest above it is used.
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / ".git").mkdir()
    proc = toolcache("-m", "toolcache", "run", "lint", cwd=outside)
    assert proc.returncode == 1
    assert f"{outside / 'tools.yaml'}: manifest not found" in proc.stderr


def test_a_command_the_tool_does_not_install_never_runs_from_path(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    fill(local_index, dists)
    folder = tmp_path / "p"
    folder.mkdir()
    path = folder / "tools.yaml"
    path.write_text(
        f"index-url: {local_index.url}\npython: {sys.executable}\n"
        "tools:\n  x:\n    from: lintme\n    run: [git, --version]\n",
        encoding="utf-8",
    )
    assert shutil.which("git") is not None  # there is one on PATH: it must not run
    proc = subprocess.run(
        [sys.executable, "-m", "toolcache", "run", "-m", str(path), "x"],
        capture_output=True, text=True, check=False, cwd=folder,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "git version" not in proc.stdout
    assert "command 'git' is not in its environment" in proc.stderr
    # What the environment does have, so the `run:` line can be fixed at once.
    assert "it has lintme (the tool's `run:` names one of them" in proc.stderr


def test_a_restored_tool_s_first_run_takes_the_cache_hit_path(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    fill(local_index, dists)
    path = manifest(tmp_path / "p", local_index.url)
    cwd = path.parent
    archives = tmp_path / "archives"
    built = toolcache("-m", "toolcache", "run", "-m", str(path), "lint", cwd=cwd)
    assert built.returncode == 0, built.stderr
    exported = toolcache("-m", "toolcache", "export", "-m", str(path), "--to", str(archives),
                         cwd=cwd)  # fmt: skip
    assert exported.returncode == 0, exported.stderr

    # Another runner: an empty cache, the archives restored, then the tool's first run.
    other = {"TOOLCACHE_CACHE_DIR": str(tmp_path / "runner-b")}
    restored = toolcache("-m", "toolcache", "restore", "-m", str(path), "--from", str(archives),
                         "--no-build", "--format", "json", cwd=cwd, env=other)  # fmt: skip
    assert restored.returncode == 0, restored.stderr
    assert json.loads(restored.stdout)["tools"]["lint"]["status"] == "restored"
    first = toolcache("-X", "importtime", "-m", "toolcache", "run", "-m", str(path), "lint", "y",
                      cwd=cwd, env=other)  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("lintme ['y'] ")
    ours = {m for m in imported(first.stderr, full=True) if m.startswith("toolcache")}
    assert "toolcache._hit" in ours
    assert not imported(first.stderr) & set(HEAVY), imported(first.stderr) & set(HEAVY)
