"""``action.yml``: its shape, and its steps run in order on two simulated runners.

The runners are simulated here: a small evaluator stands in for GitHub's ``${{ }}``
expressions, bash runs each ``run:`` step with its own ``GITHUB_OUTPUT``/``GITHUB_STEP_SUMMARY``/
``GITHUB_ENV``/``GITHUB_PATH`` files, and ``FakeCacheService`` plays the
``actions/cache/restore`` and ``actions/cache/save`` steps.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import site
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Dists
from tests.integrations import EXAMPLE_WORKFLOW, ROOT, WORKFLOWS, load
from tests.support.index import LocalIndex

ACTION = ROOT / "action.yml"
BOOTSTRAP = ROOT / "action" / "bootstrap.py"

PINNED = re.compile(r"^\s*-?\s*uses:\s*(?P<action>[\w.-]+/[\w./-]+)@(?P<ref>\S+)(?P<rest>.*)$")
SHA = re.compile(r"^[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^\s+# v\d+\.\d+\.\d+$")


# -- GitHub expressions ------------------------------------------------------------------------

Value = str | bool | None  # what action.yml's expressions produce: no numbers, no objects

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<op>==|!=|&&|\|\||!|\(|\)|\.)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))"
)
STATUS_FUNCTIONS = ("success", "always", "failure", "cancelled")


def _tokens(text: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    at = 0
    text = text.strip()
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None or match.end() == at:
            raise ValueError(f"cannot read expression at {text[at:]!r}")
        kind = match.lastgroup
        assert kind is not None
        found.append((kind, match.group(kind)))
        at = match.end()
    return found


def _equal(left: Value, right: Value) -> bool:
    """GitHub's ``==`` on the values here: strings ignore case; null (a missing output) equals
    a blank string only, as GitHub's number coercion has it for non-numeric strings. Other
    mixed types are not simulated: they fail."""
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold() == right.casefold()
    if type(left) is type(right):
        return left == right
    text = right if left is None else left if right is None else None
    if isinstance(text, str) and not text.strip().lstrip("+-").replace(".", "", 1).isdigit():
        return text.strip() == ""
    raise ValueError(f"comparing {left!r} with {right!r} is not simulated")


def as_text(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


class Expression:
    """A recursive-descent reader of the part of GitHub's expression syntax actions use:
    string, boolean and null literals, property paths (names may hold ``-``),
    ``! == != && ||``, parentheses, and the status functions."""

    def __init__(
        self, text: str, context: Mapping[str, Any], status: Callable[[str], bool]
    ) -> None:
        self.tokens = _tokens(text)
        self.at = 0
        self.context = context
        self.status = status

    def evaluate(self) -> Value:
        value = self._or()
        if self.at != len(self.tokens):
            raise ValueError(f"unexpected {self.tokens[self.at]!r}")
        return value

    def _peek(self) -> str | None:
        return self.tokens[self.at][1] if self.at < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> tuple[str, str]:
        token = self.tokens[self.at]
        if expected is not None and token[1] != expected:
            raise ValueError(f"expected {expected!r}, got {token[1]!r}")
        self.at += 1
        return token

    def _or(self) -> Value:
        value = self._and()
        while self._peek() == "||":
            self._take()
            right = self._and()
            value = value if bool(value) else right
        return value

    def _and(self) -> Value:
        value = self._comparison()
        while self._peek() == "&&":
            self._take()
            right = self._comparison()
            value = right if bool(value) else value
        return value

    def _comparison(self) -> Value:
        value = self._unary()
        if self._peek() in ("==", "!="):
            op = self._take()[1]
            right = self._unary()
            same = _equal(value, right)
            return same if op == "==" else not same
        return value

    def _unary(self) -> Value:
        if self._peek() == "!":
            self._take()
            return not bool(self._unary())
        return self._primary()

    def _primary(self) -> Value:
        kind, text = self._take()
        if kind == "op" and text == "(":
            inner = self._or()
            self._take(")")
            return inner
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if kind != "name":
            raise ValueError(f"unexpected {text!r}")
        if text in ("true", "false"):
            return text == "true"
        if text == "null":
            return None
        if self._peek() == "(":
            self._take("(")
            self._take(")")
            if text not in STATUS_FUNCTIONS:
                raise ValueError(f"function {text}() is not supported here")
            return self.status(text)
        found: Any = self.context.get(text)
        while self._peek() == ".":
            self._take()
            name = self._take()[1]
            found = found.get(name) if isinstance(found, dict) else None
        if found is None or isinstance(found, str | bool):
            return found
        raise ValueError(f"{text} is {found!r}, not a string")


_TEMPLATE = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


def substitute(text: str, context: Mapping[str, Any], status: Callable[[str], bool]) -> str:
    """``text`` with every ``${{ expression }}`` replaced by its value as a string."""
    return _TEMPLATE.sub(
        lambda m: as_text(Expression(m.group(1), context, status).evaluate()), text
    )


def condition(text: str | bool, context: Mapping[str, Any], status: Callable[[str], bool]) -> bool:
    """An ``if:``: ``${{ }}`` optional; without a status function, ``success() &&`` is implied."""
    if isinstance(text, bool):
        return text and status("success")
    expression = text.strip()
    whole = _TEMPLATE.fullmatch(expression)
    if whole is not None:
        expression = whole.group(1)
    if not any(re.search(rf"\b{name}\s*\(", expression) for name in STATUS_FUNCTIONS):
        expression = f"success() && ({expression})"
    return bool(Expression(expression, context, status).evaluate())


def test_expression_evaluator() -> None:
    context = {
        "inputs": {"store": "", "save": "true"},
        "steps": {"cache": {"outputs": {"cache-hit": "true"}}, "save": {"outcome": "failure"}},
    }

    def ok(name: str) -> bool:
        return name != "failure"

    def ev(text: str) -> Value:
        return Expression(text, context, ok).evaluate()

    assert ev("inputs.store == ''") is True
    assert ev("steps.cache.outputs.cache-hit != 'true'") is False
    assert ev("steps.nothing.outputs.cache-hit != 'true'") is True
    assert ev("inputs.save == 'TRUE' && (inputs.store == '' || false)") is True
    assert ev("!inputs.store") is True
    assert ev("steps.save.outcome == 'failure'") is True
    assert ev("inputs.none == ''") is True
    for unsimulated in ("inputs.save == true", "inputs.none == '0'", "inputs == ''", "1 == 1"):
        with pytest.raises(ValueError):
            ev(unsimulated)
    assert substitute("k=${{ steps.cache.outputs.cache-hit }}-${{ inputs.none }}", context, ok) == (
        "k=true-"
    )
    assert condition("steps.save.outcome == 'failure'", context, ok) is True
    assert condition("${{ inputs.store != '' }}", context, ok) is False
    assert condition("always()", context, lambda name: name == "always") is True


# -- The shape of action.yml -------------------------------------------------------------------


def pins(path: Path) -> list[tuple[int, str, str, str]]:
    """(line, action, ref, rest of the line) of every remote ``uses:`` in ``path``."""
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        match = PINNED.match(line)
        if match is not None:
            found.append((number, match["action"], match["ref"], match["rest"]))
    return found


def test_action_metadata_is_complete() -> None:
    action = load(ACTION)
    for key in ("name", "description", "inputs", "outputs", "runs"):
        assert action.get(key), f"action.yml has no {key}"
    inputs = action["inputs"]
    assert set(inputs) == {"manifest", "tools", "save", "store", "key-suffix"}
    for name, spec in inputs.items():
        assert spec.get("description"), name
        assert "default" in spec and isinstance(spec["default"], str), name
    assert inputs["manifest"]["default"] == "tools.yaml"
    assert inputs["tools"]["default"] == ""
    assert inputs["save"]["default"] == "true"
    outputs = action["outputs"]
    assert set(outputs) == {"cache-hit", "key", "statuses", "cache-path"}
    for name, spec in outputs.items():
        assert spec.get("description") and "${{" in spec.get("value", ""), name
    runs = action["runs"]
    assert runs["using"] == "composite"
    ids = [step.get("id") for step in runs["steps"]]
    for step in runs["steps"]:
        assert step.get("name"), step
        assert ("run" in step) != ("uses" in step), step
        if "run" in step:
            assert step.get("shell") == "bash", step["name"]
            # Inputs reach scripts through env:, never pasted into the script's text.
            assert "${{" not in step["run"], step["name"]
    order = ["self", "self-cache", "install", "self-save", "plan", "cache", "restore", "export"]
    order.append("save")
    assert [i for i in ids if i in order] == order
    save = runs["steps"][ids.index("save")]
    assert save["uses"].startswith("actions/cache/save@")
    assert save.get("continue-on-error") is True
    warn = runs["steps"][ids.index("save") + 1]
    assert "steps.save.outcome == 'failure'" in warn["if"] and "::warning" in warn["run"]


@pytest.mark.parametrize(
    "path",
    [ACTION, *WORKFLOWS, EXAMPLE_WORKFLOW],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_every_action_is_pinned_to_a_commit_with_its_version(path: Path) -> None:
    found = pins(path)
    if path == ACTION:
        assert {action for _, action, _, _ in found} == {
            "actions/cache/restore",
            "actions/cache/save",
        }
    for line, action, ref, rest in found:
        if action.startswith("OWNER/"):  # the placeholder for this action in the example
            continue
        where = f"{path.name}:{line}: {action}@{ref}"
        assert SHA.match(ref), f"{where} is not pinned to a full commit SHA"
        assert VERSION_COMMENT.match(rest), f"{where} has no '# vX.Y.Z' comment"
    versions = {(ref, rest.strip()) for _, action, ref, rest in found if "actions/cache" in action}
    assert len(versions) <= 1, f"restore and save disagree: {versions}"


# -- Two simulated runners ---------------------------------------------------------------------


def parse_github_file(text: str) -> dict[str, str]:
    """``name=value`` lines and ``name<<DELIMITER`` blocks, as in ``$GITHUB_OUTPUT``."""
    values: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip():
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            while lines[i] != delimiter:
                body.append(lines[i])
                i += 1
            i += 1
            values[name] = "\n".join(body)
        else:
            name, _, value = line.partition("=")
            values[name] = value
    return values


class FakeCacheService:
    """Stands in for GitHub's cache service, which cannot run here: ``save`` copies the path
    into a folder of this object, ``restore`` copies it back out on another runner (exact key,
    else the newest entry under the first matching restore prefix). Unlike the real service it
    does not fold the path into the entry's version, since the simulated runners' homes differ.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.entries: dict[str, Path] = {}

    def restore(self, spec: Mapping[str, str]) -> tuple[str, dict[str, str]]:
        key, path = spec["key"], Path(spec["path"])
        prefixes = [p.strip() for p in spec.get("restore-keys", "").splitlines() if p.strip()]
        matched = key if key in self.entries else None
        for prefix in prefixes:
            if matched is None:
                candidates = [k for k in self.entries if k.startswith(prefix)]
                matched = candidates[-1] if candidates else None
        outputs = {"cache-primary-key": key, "cache-hit": "true" if matched == key else "false"}
        if matched is not None:
            shutil.copytree(self.entries[matched], path, dirs_exist_ok=True)
            outputs["cache-matched-key"] = matched
        return "success", outputs

    def save(self, spec: Mapping[str, str]) -> tuple[str, dict[str, str]]:
        key, path = spec["key"], Path(spec["path"])
        if not path.is_dir():
            return "failure", {}  # the real action fails when the path matches nothing
        if key not in self.entries:  # an existing key is kept, as GitHub keeps it
            target = self.root / f"entry-{len(self.entries)}"
            shutil.copytree(path, target)
            self.entries[key] = target
        return "success", {}


@dataclass
class StepResult:
    id: str | None
    name: str
    outcome: str  # success, failure or skipped
    outputs: dict[str, str] = field(default_factory=dict)
    stdout: str = ""
    stderr: str = ""


@dataclass
class ActionRun:
    steps: list[StepResult]
    outputs: dict[str, str]
    summary: str
    failed: bool

    def step(self, step_id: str) -> StepResult:
        (found,) = [s for s in self.steps if s.id == step_id]
        return found


def venv_site_packages(venv: Path) -> Path:
    (found,) = (venv / "lib").glob("python*/site-packages")
    return found


def seed_toolcache_environment(service: FakeCacheService, runner: SimulatedRunner) -> str:
    """Put toolcache's own environment for ``runner``'s python in ``service`` under the key the
    action computes, as a cold job would have saved it, and return the key.

    It stands in for the environment ``action/bootstrap.py install`` makes from the lock (which
    needs the live index; ``test_the_action_installs_toolcache_from_its_lock`` does that for
    real): a venv of this interpreter that sees its site-packages, where the toolcache under
    test is installed, with the launcher and the marker the real one has."""
    keyed = subprocess.run(
        [sys.executable, str(BOOTSTRAP), "key"],
        env=runner.env,
        capture_output=True,
        text=True,
        check=True,
    )
    values = parse_github_file(keyed.stdout)
    key, path = values["key"], Path(values["path"])
    if key in service.entries:
        return key
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    # It sees the site-packages of this interpreter (a venv's too, where --system-site-packages
    # would see only its base's), .pth files and the editable install included.
    (venv_site_packages(path) / "toolcache-under-test.pth").write_text(
        "".join(f"import site; site.addsitedir({d!r})\n" for d in site.getsitepackages())
    )
    launcher = path / "bin" / "toolcache"
    launcher.write_text(f'#!/bin/sh\nexec "{path}/bin/python" -m toolcache "$@"\n')
    launcher.chmod(0o755)
    (path / "path").mkdir()
    (path / "path" / "toolcache").symlink_to("../bin/toolcache")
    spec = importlib.util.spec_from_file_location("bootstrap", BOOTSTRAP)
    assert spec is not None and spec.loader is not None
    bootstrap = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bootstrap)
    marker = {"format": bootstrap.FORMAT, "id": bootstrap.environment_id(), "installer": "seed"}
    (path / bootstrap.MARKER).write_text(json.dumps(marker))
    service.save({"key": key, "path": str(path)})
    shutil.rmtree(path)  # runners start without it
    return key


def application_entries(service: FakeCacheService) -> list[str]:
    """The keys of the tools' archives (not toolcache's own environment)."""
    return [key for key in service.entries if not key.startswith("toolcache-self-")]


class SimulatedRunner:
    """A runner of its own: HOME, workspace, temp folder and the toolcache cache under HOME.

    toolcache's own environment lives under ``toolcache-self`` beside the runners, the same
    path for every runner (as HOME is /home/runner on every GitHub runner), emptied when a
    runner is made; with ``seed`` (the default) the cache service holds it already (see
    ``seed_toolcache_environment``), so the action's install step restores it.
    """

    def __init__(
        self, root: Path, repository: Path, service: FakeCacheService, *, seed: bool = True
    ) -> None:
        self.root = root
        self.home = root / "home"
        self.workspace = root / "workspace"
        self.temp = root / "temp"
        self.service = service
        for folder in (self.home, self.temp):
            folder.mkdir(parents=True)
        shutil.copytree(repository, self.workspace)  # the checkout
        shims = root / "bin"
        shims.mkdir()
        shim = shims / "toolcache"
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m toolcache "$@"\n')
        shim.chmod(0o755)
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TOOLCACHE_", "GITHUB_", "XDG_"))
        }
        self.self_dir = root.parent / "toolcache-self"
        shutil.rmtree(self.self_dir, ignore_errors=True)
        self.env.update(
            HOME=str(self.home),
            PATH=f"{shims}{os.pathsep}{os.environ['PATH']}",
            RUNNER_TEMP=str(self.temp),
            GITHUB_WORKSPACE=str(self.workspace),
            GITHUB_ACTIONS="true",
            CI="true",
            TOOLCACHE_SELF_DIR=str(self.self_dir),
        )
        self.counter = 0
        if seed:
            seed_toolcache_environment(service, self)

    @property
    def cache_root(self) -> Path:
        return self.home / ".cache" / "toolcache"

    def toolcache(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "toolcache", *args],
            cwd=self.workspace,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )

    def run_action(self, action_path: Path, inputs: Mapping[str, str]) -> ActionRun:
        action = load(action_path / "action.yml")
        values = {name: spec.get("default", "") for name, spec in action["inputs"].items()}
        values.update(inputs)
        context: dict[str, Any] = {
            "inputs": values,
            "steps": {},
            "github": {"action_path": str(action_path), "workspace": str(self.workspace)},
            "runner": {"temp": str(self.temp), "os": "Linux"},
        }
        failed = False

        def status(name: str) -> bool:
            return {"success": not failed, "failure": failed, "always": True}.get(name, False)

        results: list[StepResult] = []
        summary: list[str] = []
        for step in action["runs"]["steps"]:
            step_id, name = step.get("id"), step.get("name", step.get("uses", "run"))
            if not condition(step.get("if", "success()"), context, status):
                result = StepResult(step_id, name, "skipped")
            elif "uses" in step:
                result = self._uses(step, context, status)
            else:
                result, step_summary = self._run(step, context, status)
                summary.append(step_summary)
            if result.outcome == "failure" and not step.get("continue-on-error", False):
                failed = True
            if step_id is not None:
                context["steps"][step_id] = {"outputs": result.outputs, "outcome": result.outcome}
            results.append(result)
        outputs = {
            name: substitute(spec["value"], context, status)
            for name, spec in action["outputs"].items()
        }
        return ActionRun(results, outputs, "".join(summary), failed)

    def _uses(
        self, step: Mapping[str, Any], context: Mapping[str, Any], status: Callable[[str], bool]
    ) -> StepResult:
        spec = {k: substitute(str(v), context, status) for k, v in step.get("with", {}).items()}
        action = step["uses"].split("@", 1)[0]
        play = {
            "actions/cache/restore": self.service.restore,
            "actions/cache/save": self.service.save,
        }.get(action)
        if play is None:
            raise AssertionError(f"no stand-in for {step['uses']}")
        outcome, outputs = play(spec)
        return StepResult(step.get("id"), step["name"], outcome, outputs)

    def _run(
        self, step: Mapping[str, Any], context: Mapping[str, Any], status: Callable[[str], bool]
    ) -> tuple[StepResult, str]:
        self.counter += 1
        files = {
            var: self.temp / f"{var.lower()}-{self.counter}"
            for var in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ENV", "GITHUB_PATH")
        }
        for path in files.values():
            path.write_text("")
        env = {
            **self.env,
            **{k: substitute(str(v), context, status) for k, v in step.get("env", {}).items()},
            **{var: str(path) for var, path in files.items()},
            "GITHUB_ACTION_PATH": context["github"]["action_path"],
        }
        script = self.temp / f"step-{self.counter}.sh"
        script.write_text(substitute(step["run"], context, status))
        command = ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)]
        proc = subprocess.run(
            command, cwd=self.workspace, env=env, capture_output=True, text=True, check=False
        )
        for line in files["GITHUB_PATH"].read_text().splitlines():
            self.env["PATH"] = f"{line}{os.pathsep}{self.env['PATH']}"
        self.env.update(parse_github_file(files["GITHUB_ENV"].read_text()))
        result = StepResult(
            step.get("id"),
            step["name"],
            "success" if proc.returncode == 0 else "failure",
            parse_github_file(files["GITHUB_OUTPUT"].read_text()),
            proc.stdout,
            proc.stderr,
        )
        return result, files["GITHUB_STEP_SUMMARY"].read_text()


TOOL_MODULE = """\
import sys


def main():
    print("{name}", sys.argv[1:])
    return 0
"""


def make_repository(folder: Path, index: LocalIndex, dists: Dists) -> Path:
    """A project with a tools.yaml of two tools (two environments) and its committed locks."""
    for name in ("lintme", "fmtme"):
        index.add(
            dists.wheel(
                name,
                "1.0",
                requires=["helper"] if name == "lintme" else [],
                console_scripts={name: f"{name}:main"},
                files={f"{name}/__init__.py": TOOL_MODULE.format(name=name)},
            )
        )
    index.add(dists.wheel("helper", "2.0"))
    folder.mkdir(parents=True)
    (folder / "tools.yaml").write_text(
        f"index-url: {index.url}\npython: {sys.executable}\n"
        "tools:\n  lint:\n    from: lintme\n  fmt:\n    from: fmtme\n    run: fmtme --check\n",
        encoding="utf-8",
    )
    locked = subprocess.run(
        [sys.executable, "-m", "toolcache", "lock", "-m", "tools.yaml"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    assert locked.returncode == 0, locked.stderr
    assert (folder / "tools.lock" / "pylock.lint.toml").is_file()
    return folder


def test_action_on_two_runners_builds_once_then_restores(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    """Runner one misses the cache, builds both environments, exports and saves them; runner
    two, with its own HOME, workspace and cache, restores both from what runner one saved and
    builds nothing, without a single request to the index.

    The ``actions/cache`` steps are played by ``FakeCacheService``, copying the planned cache
    path from runner one to runner two: it stands in for GitHub's cache service, which cannot
    run here."""
    repository = make_repository(tmp_path / "repository", local_index, dists)
    service = FakeCacheService(tmp_path / "cache-service")
    service.root.mkdir()
    inputs = {"key-suffix": "sim"}

    one = SimulatedRunner(tmp_path / "runner-1", repository, service)
    first = one.run_action(ROOT, inputs)
    log = "\n".join(f"{s.name}: {s.outcome}\n{s.stdout}{s.stderr}" for s in first.steps)
    assert not first.failed, log
    assert first.step("cache").outputs["cache-hit"] == "false"
    # toolcache itself came from its cache entry: nothing installed, nothing saved again.
    assert first.step("self-cache").outputs["cache-hit"] == "true"
    assert first.step("install").outputs["installed"] == "false"
    assert first.step("self-save").outcome == "skipped"
    assert one.env["PATH"].startswith(first.step("install").outputs["bin"] + os.pathsep)
    assert json.loads(first.outputs["statuses"]) == {"lint": "built", "fmt": "built"}, log
    assert first.outputs["cache-hit"] == "false"
    assert first.step("export").outcome == "success", log
    assert first.step("save").outcome == "success", log
    assert application_entries(service) == [first.outputs["key"]]
    archives = sorted(p.name for p in Path(first.outputs["cache-path"]).iterdir())
    assert len(archives) == 2 and all(a.endswith(".tar.zst") for a in archives), archives

    local_index.requests.clear()
    two = SimulatedRunner(tmp_path / "runner-2", repository, service)
    second = two.run_action(ROOT, inputs)
    log = "\n".join(f"{s.name}: {s.outcome}\n{s.stdout}{s.stderr}" for s in second.steps)
    assert not second.failed, log
    assert second.outputs["key"] == first.outputs["key"]  # two machines agree
    assert second.outputs["cache-path"].startswith(str(two.home))
    assert second.step("cache").outputs["cache-hit"] == "true"
    assert json.loads(second.outputs["statuses"]) == {"lint": "restored", "fmt": "restored"}, log
    restore = second.step("restore").outputs
    assert restore["status-lint"] == restore["status-fmt"] == "restored"
    assert second.outputs["cache-hit"] == "true"
    for skipped in ("export", "save"):
        assert second.step(skipped).outcome == "skipped"
    assert "| lint | restored |" in second.summary and "| fmt | restored |" in second.summary
    assert local_index.requests == []

    # The restored environment runs, still offline.
    ran = two.toolcache("run", "-m", "tools.yaml", "--offline", "fmt", "a.py")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("fmtme ['--check', 'a.py']")
    assert local_index.requests == []


class RefusingCacheService(FakeCacheService):
    """A cache service that refuses every save, as with a read-only token."""

    def save(self, spec: Mapping[str, str]) -> tuple[str, dict[str, str]]:
        return "failure", {}


def test_a_refused_save_is_a_warning(tmp_path: Path, local_index: LocalIndex, dists: Dists) -> None:
    repository = make_repository(tmp_path / "repository", local_index, dists)
    service = RefusingCacheService(tmp_path / "cache-service")
    runner = SimulatedRunner(tmp_path / "runner", repository, service)
    # A store named in the job's environment does not get in the way: the input decides.
    elsewhere = tmp_path / "elsewhere"
    runner.env["TOOLCACHE_STORE"] = str(elsewhere)
    run = runner.run_action(ROOT, {"tools": "lint"})
    assert not run.failed
    assert not elsewhere.exists()
    assert len(list(Path(run.outputs["cache-path"]).glob("*.tar.zst"))) == 1
    assert json.loads(run.outputs["statuses"]) == {"lint": "built"}
    assert run.step("save").outcome == "failure"
    warning = run.steps[run.steps.index(run.step("save")) + 1]
    assert warning.outcome == "success"
    assert warning.stdout.startswith("::warning title=toolcache::")
    assert run.outputs["key"] in warning.stdout


def test_with_a_store_the_actions_cache_is_not_used(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    repository = make_repository(tmp_path / "repository", local_index, dists)
    service = FakeCacheService(tmp_path / "cache-service")
    store = tmp_path / "store"
    inputs = {"store": str(store)}

    first = SimulatedRunner(tmp_path / "runner-1", repository, service).run_action(ROOT, inputs)
    assert not first.failed
    assert json.loads(first.outputs["statuses"]) == {"lint": "built", "fmt": "built"}
    assert first.step("cache").outcome == first.step("save").outcome == "skipped"
    assert first.step("export").outcome == "success"
    assert application_entries(service) == []
    assert len(list(store.glob("**/*.tar.zst"))) == 2

    second = SimulatedRunner(tmp_path / "runner-2", repository, service).run_action(ROOT, inputs)
    assert not second.failed
    assert json.loads(second.outputs["statuses"]) == {"lint": "restored", "fmt": "restored"}
    assert second.outputs["cache-hit"] == "true"
    assert second.step("export").outcome == "skipped"


OFFLINE = {
    # Nothing but 127.0.0.1 (the test index) is reachable: pip and uv are told so, and any
    # other connection goes to a closed port.
    "PIP_NO_INDEX": "1",
    "UV_OFFLINE": "1",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "NO_PROXY": "127.0.0.1,localhost",
}


@pytest.mark.network
@pytest.mark.slow
def test_the_action_installs_toolcache_from_its_lock_then_restores_it_offline(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    """Runner one has no cache entry for toolcache: the install step installs the action's
    locked requirements (hashes checked) and toolcache from the checkout, from the live index,
    into a venv that the next step saves. Runner two restores that entry and works offline:
    it installs nothing and runs the whole action with no index but the test's.

    ``FakeCacheService`` stands in for GitHub's cache service, as above."""
    repository = make_repository(tmp_path / "repository", local_index, dists)
    service = FakeCacheService(tmp_path / "cache-service")
    service.root.mkdir()

    one = SimulatedRunner(tmp_path / "runner-1", repository, service, seed=False)
    first = one.run_action(ROOT, {})
    log = "\n".join(f"{s.name}: {s.outcome}\n{s.stdout}{s.stderr}" for s in first.steps)
    assert not first.failed, log
    assert first.step("self-cache").outputs["cache-hit"] == "false"
    assert first.step("install").outputs["installed"] == "true", log
    assert first.step("self-save").outcome == "success"
    environment = Path(first.step("self").outputs["path"])
    assert first.step("self").outputs["key"] in service.entries
    # A real install: toolcache's own files, not a link to this checkout.
    found = subprocess.run(
        [str(environment / "bin" / "python"), "-c", "import toolcache; print(toolcache.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert found.stdout.startswith(str(environment)), found.stdout
    assert json.loads(first.outputs["statuses"]) == {"lint": "built", "fmt": "built"}, log

    two = SimulatedRunner(tmp_path / "runner-2", repository, service, seed=False)
    assert not environment.exists()  # a fresh machine
    two.env.update(OFFLINE)
    second = two.run_action(ROOT, {})
    log = "\n".join(f"{s.name}: {s.outcome}\n{s.stdout}{s.stderr}" for s in second.steps)
    assert not second.failed, log
    assert second.step("self-cache").outputs["cache-hit"] == "true"
    assert second.step("install").outputs["installed"] == "false"
    assert second.step("self-save").outcome == "skipped"
    assert json.loads(second.outputs["statuses"]) == {"lint": "restored", "fmt": "restored"}, log
