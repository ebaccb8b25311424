"""``action/requirements.txt``, the lock the action installs toolcache from, holds what
``pyproject.toml`` asks for on every platform and Python toolcache supports, with hashes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from toolcache.lockfile import targets

if sys.version_info >= (3, 11):
    import tomllib
else:  # the project's mypy checks for 3.10
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "action" / "requirements.txt"
PINNED = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)==(?P<version>\S+)\s*(?:;\s*(?P<marker>[^\\]+))?")

#: What the action's environment leaves out (``--no-emit-package``): rich draws toolcache's
#: live progress, which needs a terminal, and Typer's pretty tracebacks, which toolcache turns
#: off; a CI step has neither, and these are half the environment's files.
LEFT_OUT = {"rich", "pygments", "markdown-it-py", "mdurl"}

# toolcache runs on CPython 3.10+ on the default lock platforms.
TARGETS = [
    targets.LockTarget("cpython", python, platform)
    for python in targets.SUPPORTED_PYTHONS
    for platform in targets.DEFAULT_PLATFORMS
]


def pins() -> list[tuple[str, str, Marker | None, list[str]]]:
    """(name, version, marker, hashes) of every entry of the lock."""
    found: list[tuple[str, str, Marker | None, list[str]]] = []
    for block in re.split(r"\n(?=[A-Za-z0-9])", LOCK.read_text(encoding="utf-8")):
        match = PINNED.match(block)
        if match is None:
            continue
        marker = match.group("marker")
        hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", block)
        found.append(
            (
                canonicalize_name(match.group("name")),
                match.group("version"),
                Marker(marker.strip()) if marker else None,
                hashes,
            )
        )
    return found


def test_every_entry_is_pinned_with_hashes() -> None:
    entries = pins()
    assert len(entries) > 20
    for name, _version, _marker, hashes in entries:
        assert hashes, f"{name} has no --hash"


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
def test_the_lock_holds_what_pyproject_asks_for(target: targets.LockTarget) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    wanted = [Requirement(r) for r in project["project"]["dependencies"]]
    wanted += [Requirement(r) for r in project["build-system"]["requires"]]
    environment = dict(target.target.markers)
    chosen: dict[str, list[str]] = {}
    for name, version, marker, _hashes in pins():
        if marker is None or marker.evaluate(environment):
            chosen.setdefault(name, []).append(version)
    for requirement in wanted:
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        if canonicalize_name(requirement.name) in LEFT_OUT:
            assert canonicalize_name(requirement.name) not in chosen
            continue
        versions = chosen.get(canonicalize_name(requirement.name), [])
        assert len(versions) == 1, f"{requirement}: the lock has {versions} for {target.name}"
        assert requirement.specifier.contains(versions[0], prereleases=True), (
            f"{requirement}: the lock pins {versions[0]} for {target.name}; "
            "run the command in action/README.md"
        )


def test_what_the_action_leaves_out_is_only_what_a_ci_step_never_loads() -> None:
    pinned = {name for name, _version, _marker, _hashes in pins()}
    assert not pinned & LEFT_OUT
    header = LOCK.read_text(encoding="utf-8").splitlines()[1]
    assert sorted(re.findall(r"--no-emit-package (\S+)", header)) == sorted(LEFT_OUT)
    # Without rich, toolcache's output never starts a live display (it would import rich).
    code = (
        "import sys, builtins\n"
        "real = builtins.__import__\n"
        "def guard(name, *a, **k):\n"
        "    if name.split('.')[0] in ('rich', 'pygments'): raise ImportError(name)\n"
        "    return real(name, *a, **k)\n"
        "builtins.__import__ = guard\n"
        "import importlib.util\n"
        "importlib.util.find_spec = lambda name, *a: None if name == 'rich' else 1\n"
        "from toolcache import output\n"
        "class Tty:\n"
        "    def isatty(self): return True\n"
        "    def write(self, s): sys.stdout.write(s)\n"
        "    def flush(self): pass\n"
        "out = output.Output(err=Tty())\n"
        "assert not out.live, 'a live display without rich'\n"
        "out.progress('step')\n"
    )
    env = {"TERM": "xterm", "TOOLCACHE_PROGRESS": "1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "toolcache: step\n"


def test_the_cloud_lock_holds_the_cloud_extra() -> None:
    """``cloud.txt`` (installed with ``--cloud`` for s3://, gs:// and az:// stores) pins what
    the ``cloud`` extra asks for, with hashes, on the Pythons the extra installs on."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    text = (ROOT / "action" / "cloud.txt").read_text(encoding="utf-8")
    for requirement in map(Requirement, project["project"]["optional-dependencies"]["cloud"]):
        pinned = rf"^{re.escape(requirement.name)}==(\S+) \\\n\s+--hash=sha256:"
        found = re.search(pinned, text, re.M)
        assert found is not None, f"{requirement} is not in action/cloud.txt"
        assert requirement.specifier.contains(found.group(1)), requirement


def test_the_cloud_environment_has_a_key_of_its_own() -> None:
    def key(*extra: str) -> str:
        done = subprocess.run(
            [sys.executable, str(ROOT / "action" / "bootstrap.py"), "key", *extra],
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    plain, cloud = key(), key("--cloud")
    assert plain.startswith("key=toolcache-self-") and cloud.startswith("key=toolcache-self-")
    assert plain != cloud
