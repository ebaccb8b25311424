"""The venv writer's macOS rules, simulated with this machine's interpreters."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from tests.envs.test_install_venv import _inside, _layout, _tree
from toolcache import host as host_mod
from toolcache.envs import venv
from toolcache.interpreter import Interpreter, probe

FRAMEWORK_BIN = "/Library/Frameworks/Python.framework/Versions/3.12/bin"


def _as_mac(interpreter: Interpreter, **config: object) -> Interpreter:
    """``interpreter`` as a probe on macOS would describe it, with ``config`` (probe data)."""
    data = dict(interpreter.probe_data)
    data["config"] = {**data["config"], "PYTHONFRAMEWORK": ""}
    data["base_executable"] = str(interpreter.sys_executable)
    for key, value in config.items():
        if key == "PYTHONFRAMEWORK":
            data["config"]["PYTHONFRAMEWORK"] = value
        else:
            data[key] = value
    markers = {**interpreter.markers, "sys_platform": "darwin", "platform_system": "Darwin"}
    return dataclasses.replace(interpreter, markers=markers, probe_data=data)


@pytest.fixture
def on_a_mac(monkeypatch: pytest.MonkeyPatch) -> None:
    mac = host_mod.for_platform("darwin")
    monkeypatch.setattr(host_mod, "current", lambda: mac)


@pytest.fixture
def base(tmp_path: Path) -> Interpreter:
    if not sys.platform.startswith("linux") or sys.prefix != sys.base_prefix:
        pytest.skip("simulates macOS with a Linux interpreter outside any venv")
    return probe(Path(sys.executable), tmp_path / "cache")


@pytest.mark.usefixtures("on_a_mac")
def test_a_mac_standalone_cpython_is_written_like_venv_but_without_lib64(
    base: Interpreter, tmp_path: Path
) -> None:
    """Stands in for uv's or pyenv's CPython on macOS (not a framework build): ``venv``
    makes what it makes on Linux but no ``lib64`` link (its ``sys.platform != 'darwin'``
    test), and the environment written so runs."""
    mac = _as_mac(base)
    assert venv.can_write(mac)
    written = venv.by_hand(mac, tmp_path / "env")
    made = venv.by_module(base, tmp_path / "ref" / "env", "tool")
    expected = [entry for entry in _tree(tmp_path / "ref" / "env") if entry[0] != "lib64"]
    assert _tree(tmp_path / "env") == expected
    assert not (tmp_path / "env" / "lib64").exists()
    assert _layout(written, tmp_path / "env") == _layout(made, tmp_path / "ref" / "env")
    assert _inside(tmp_path / "env")["prefix"] == "ENV"


@pytest.mark.usefixtures("on_a_mac")
@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"PYTHONFRAMEWORK": "Python"}, "python.org's or Homebrew's framework build"),
        ({"PYTHONFRAMEWORK": None}, "a probe from before frameworks were recorded"),
        (
            {"base_executable": FRAMEWORK_BIN + "/python3.12"},
            "sys._base_executable is not sys.executable",
        ),
        ({"base_executable": None}, "sys._base_executable not recorded"),
    ],
)
def test_a_mac_framework_build_is_left_to_venv(
    base: Interpreter, change: dict[str, object], why: str
) -> None:
    """Stands in for the interpreters whose ``venv`` result the writer cannot know on macOS:
    they go to the interpreter's own ``venv`` module (see ``venv.can_write``)."""
    assert not venv.can_write(_as_mac(base, **change)), why


@pytest.mark.usefixtures("on_a_mac")
def test_pypy_on_a_mac_is_left_to_venv(base: Interpreter) -> None:
    """Stands in for PyPy on macOS, which nothing has checked the writer against."""
    assert not venv.can_write(dataclasses.replace(_as_mac(base), implementation_name="pypy"))


def test_an_interpreter_of_another_host_is_never_written(base: Interpreter) -> None:
    """A macOS interpreter's data on this Linux host (a probe cache copied around, say)."""
    assert venv.can_write(base)
    assert not venv.can_write(_as_mac(base))
