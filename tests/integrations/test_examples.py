"""The command lines in ``examples/``: each one parses with the real CLI, and names tools that
``examples/tools.yaml`` defines, so that a renamed option or tool cannot leave them stale."""

from __future__ import annotations

import itertools
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer

from tests.integrations import EXAMPLES, ROOT, load
from toolcache.cli import app

TOOLS = set(load(EXAMPLES / "tools.yaml")["tools"])


def parse(argv: list[str]) -> dict[str, Any]:
    """The parameters ``toolcache argv...`` would run its command with; raises on a usage
    error (an unknown command or option, a missing argument)."""
    assert argv[0] == "toolcache", argv
    verb, *rest = argv[1:]
    group = typer.main.get_command(app)
    command = group.commands[verb]  # type: ignore[attr-defined]
    params: dict[str, Any] = command.make_context(verb, rest).params
    return params


def toolcache_lines(script: str) -> list[list[str]]:
    """Every ``toolcache ...`` command of a shell script, one per line, without comments and
    what follows a shell operator (``>``, ``|``, ``&&``, ...)."""
    found = []
    for line in script.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words = list(itertools.takewhile(lambda w: w.strip("();<>|&"), lexer))
        if words[:1] == ["toolcache"]:
            found.append(words)
    return found


def github_commands() -> list[list[str]]:
    workflow = load(EXAMPLES / "github-workflow.yml")
    steps = [s for job in workflow["jobs"].values() for s in job["steps"]]
    return [words for step in steps for words in toolcache_lines(step.get("run", ""))]


def gitlab_commands() -> list[list[str]]:
    ci = load(EXAMPLES / "gitlab-ci.yml")
    jobs = [job for job in ci.values() if isinstance(job, dict) and "script" in job]
    lines = [
        line for job in jobs for key in ("before_script", "script") for line in job.get(key, [])
    ]
    return [words for line in lines for words in toolcache_lines(line)]


def pre_commit_commands() -> list[list[str]]:
    """What pre-commit runs for each hook of the example: the hook's entry, its args, files."""
    (hook,) = load(ROOT / ".pre-commit-hooks.yaml")
    config = load(EXAMPLES / ".pre-commit-config.yaml")
    hooks = [h for repo in config["repos"] for h in repo["hooks"]]
    assert {h["id"] for h in hooks} == {hook["id"]}
    return [[*shlex.split(hook["entry"]), *h["args"], "a.py"] for h in hooks]


def check(argv: list[str]) -> dict[str, Any]:
    params = parse(argv)
    manifest = params["manifest"]  # a str or a Path, by Typer's version
    assert manifest is None or Path(manifest) == Path("tools.yaml"), argv
    named = params.get("tool") or ()
    assert set([named] if isinstance(named, str) else named) <= TOOLS, argv
    return params


def test_the_github_workflow_runs_every_tool() -> None:
    commands = github_commands()
    assert {check(argv)["tool"] for argv in commands if argv[1] == "run"} == TOOLS


def test_the_gitlab_job_plans_restores_exports_and_runs_every_tool() -> None:
    commands = gitlab_commands()
    verbs = [argv[1] for argv in commands]
    assert verbs[:3] == ["plan", "restore", "export"], verbs
    output_format = check(commands[0])["output_format"]  # an enum or a str, by Typer's version
    assert getattr(output_format, "value", output_format) == "json"
    assert check(commands[2])["prune"] is True
    assert {check(argv)["tool"] for argv in commands if argv[1] == "run"} == TOOLS


def test_the_pre_commit_hooks_run_every_tool_on_the_file_names() -> None:
    commands = pre_commit_commands()
    for argv in commands:
        assert list(check(argv)["args"]) == ["a.py"], argv
    assert {check(argv)["tool"] for argv in commands} == TOOLS


def test_the_pre_commit_config_is_valid_for_pre_commit() -> None:
    clientlib = pytest.importorskip("pre_commit.clientlib")
    clientlib.load_config(EXAMPLES / ".pre-commit-config.yaml")


def test_parse_rejects_what_the_cli_rejects() -> None:
    with pytest.raises(Exception, match="--to-nowhere"):
        parse(["toolcache", "export", "--to-nowhere"])
    with pytest.raises(Exception, match="requires an argument"):
        parse(["toolcache", "restore", "--tool"])
