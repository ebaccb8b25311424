"""The command line as a uv user reads it: usage lines, summaries, options, --python."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import Dists
from tests.support.index import LocalIndex
from tests.test_plan import _pyenv_python, cli
from tests.test_run import fill, manifest

COMMANDS = [
    "plan",
    "lock",
    "run",
    "export",
    "restore",
    "list",
    "verify",
    "gc",
    "add",
    "remove",
    "tools",
    "store ls",
    "store prune",
]


def toolcache(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m toolcache ARGS`` in ``cwd`` (by default here), whatever its exit code."""
    return cli(*args, cwd=cwd or Path.cwd(), env=env, check=False)


@pytest.mark.parametrize("columns", ["60", "100", "200"])
def test_help_reads_like_uv_s(columns: str) -> None:
    """No Typer-isms in usage lines, no summary cut with "...", and lines that fit."""
    env = {"COLUMNS": columns}
    top = toolcache("--help", env=env)
    assert top.returncode == 0, top.stderr
    commands = top.stdout.split("Commands:", 1)[1]
    assert "..." not in commands, commands
    for line in top.stdout.splitlines():
        assert len(line) <= int(columns), line
    usages: dict[str, str] = {}
    for command in COMMANDS:
        shown = toolcache(*command.split(), "--help", env=env)
        assert shown.returncode == 0, shown.stderr
        for line in shown.stdout.splitlines():
            assert len(line) <= int(columns), (command, line)
        usage = usages[command] = shown.stdout.splitlines()[0]
        assert "{" not in usage and "<list" not in shown.stdout and "<str>" not in shown.stdout, (
            command,
            shown.stdout,
        )
    assert usages["run"].startswith("Usage: toolcache run [OPTIONS] TOOL")


@pytest.mark.parametrize(("command", "accepted"), [("list", "text|json"), ("gc", None)])
def test_format_choices_are_what_the_command_accepts(command: str, accepted: str | None) -> None:
    shown = toolcache(command, "--help").stdout
    if accepted is None:
        assert "--format" not in shown
    else:
        assert f"--format <{accepted}>" in shown
        refused = toolcache(command, "--format", "github")
        assert refused.returncode == 2 and "github" in refused.stderr


def test_an_option_before_the_tool_name_is_never_taken_as_the_tool(tmp_path: Path) -> None:
    for args in (["run", "--bogus", "ruff"], ["run", "--pyhton", "3.13", "ruff"]):
        done = toolcache(*args, cwd=tmp_path)
        assert done.returncode == 2, done
        assert "Traceback" not in done.stderr
        assert f"{args[1]} is not an option of toolcache run" in done.stderr
        assert "no tool named" not in done.stderr


@pytest.mark.skipif(_pyenv_python("12") is None, reason="needs pyenv's 3.12")
def test_python_overrides_the_manifest_s_request_for_one_run(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    """``run --python`` runs the tool on another interpreter (the lock gains its target);
    the next plain run is the manifest's interpreter again, not a hit recorded for the other."""
    fill(local_index, dists)
    path = manifest(tmp_path / "p", local_index.url)
    other = _pyenv_python("12")
    assert other is not None
    env = {"TOOLCACHE_CACHE_DIR": str(tmp_path / "cache")}
    plain = toolcache("run", "-m", str(path), "lint", cwd=path.parent, env=env)
    assert plain.returncode == 0, plain.stderr
    overridden = toolcache(
        "run", "-m", str(path), "--python", str(other), "lint", cwd=path.parent, env=env
    )
    assert overridden.returncode == 0, overridden.stderr
    again = toolcache("run", "-m", str(path), "lint", cwd=path.parent, env=env)
    assert again.returncode == 0, again.stderr
    venv = {name: run.stdout.rsplit(" ", 1)[1].strip() for name, run in
            (("plain", plain), ("overridden", overridden), ("again", again))}  # fmt: skip
    assert venv["plain"] == venv["again"] != venv["overridden"]
    plan = toolcache(
        "plan", "-m", str(path), "--python", str(other), "--format", "json", cwd=path.parent,
        env=env,
    )  # fmt: skip
    assert plan.returncode == 0, plan.stderr
    assert re.match(r"CPython 3\.12\.", json.loads(plan.stdout)["tools"]["lint"]["python"])


def test_list_and_gc_take_the_manifest(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    fill(local_index, dists)
    path = manifest(tmp_path / "p", local_index.url)
    env = {"TOOLCACHE_CACHE_DIR": str(tmp_path / "cache")}
    built = toolcache("restore", "-m", str(path), cwd=path.parent, env=env)
    assert built.returncode == 0, built.stderr
    listed = toolcache("list", "-m", str(path), "--format", "json", cwd=path.parent, env=env)
    assert listed.returncode == 0, listed.stderr
    (found,) = json.loads(listed.stdout)["environments"]  # lint and check share one
    assert any(user.endswith(":lint") for user in found["used-by"])
    kept = toolcache("gc", "-m", str(path), "--dry-run", cwd=path.parent, env=env)
    assert kept.returncode == 0, kept.stderr
    assert "would remove" not in kept.stdout
    # Kept even when --max-size alone would remove it (the control: without -m it goes),
    # once it was last used longer ago than gc's grace time.
    long_ago = time.time() - 86400
    os.utime(Path(found["path"]) / "toolcache-last-used", (long_ago, long_ago))
    tight = ["gc", "--max-size", "1", "--dry-run"]
    assert "would remove" in toolcache(*tight, cwd=path.parent, env=env).stdout
    kept = toolcache(*tight, "-m", str(path), cwd=path.parent, env=env)
    assert kept.returncode == 0, kept.stderr
    assert "would remove" not in kept.stdout
