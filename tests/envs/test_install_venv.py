"""Environments written by hand are the ones ``venv`` makes, on every real interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.envs.test_interpreters import _interpreters
from toolcache.envs import health, install, venv
from toolcache.interpreter import probe

_INSIDE = (
    "import json, sys, sysconfig\n"
    "print(json.dumps({'prefix': sys.prefix, 'base_prefix': sys.base_prefix,"
    " 'path': [p for p in sys.path if 'site-packages' in p],"
    " 'purelib': sysconfig.get_paths()['purelib'], 'scripts': sysconfig.get_paths()['scripts'],"
    " 'version': list(sys.version_info[:2])}))\n"
)


def _tree(root: Path) -> list[tuple[str, str, str]]:
    """(path, kind, link target) of everything below ``root``, ``root`` written as ``ENV``."""
    found = []
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(folder) / name
            kind = "link" if path.is_symlink() else "dir" if path.is_dir() else "file"
            target = os.readlink(path) if kind == "link" else ""
            found.append((str(path.relative_to(root)), kind, target.replace(str(root), "ENV")))
    return sorted(found)


def _layout(layout: install.Layout, root: Path) -> dict[str, str]:
    return {k: v.replace(str(root), "ENV") for k, v in layout.as_dict().items()}


def _inside(env: Path) -> dict[str, object]:
    proc = subprocess.run(
        [str(health.python_of(env)), "-I", "-c", _INSIDE],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.replace(str(env), "ENV"))  # type: ignore[no-any-return]


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="written by hand on Linux")
@pytest.mark.parametrize("python", _interpreters())
def test_written_venv_is_what_venv_makes(python: Path, tmp_path: Path) -> None:
    interpreter = probe(python, tmp_path / "cache")
    assert venv.can_write(interpreter)
    by_hand = tmp_path / "env"
    by_module = tmp_path / "ref" / "env"
    by_module.parent.mkdir()
    written = venv.by_hand(interpreter, by_hand)
    made = venv.by_module(interpreter, by_module, "tool")

    assert _tree(by_hand) == _tree(by_module)
    assert (by_hand / "pyvenv.cfg").read_text().replace(str(by_hand), "ENV") == (
        by_module / "pyvenv.cfg"
    ).read_text().replace(str(by_module), "ENV")
    assert _layout(written, by_hand) == _layout(made, by_module)
    seen = _inside(by_hand)
    assert seen == _inside(by_module)
    assert seen["prefix"] == "ENV" and seen["purelib"] == _layout(written, by_hand)["purelib"]
    assert health.pyvenv_home(by_hand) == str(interpreter.sys_executable.parent)


def test_interpreters_inside_a_venv_use_the_venv_module(tmp_path: Path) -> None:
    base = probe(Path(sys.executable), tmp_path / "cache")
    env = tmp_path / "env"
    venv.by_module(base, env, "tool")
    inner = probe(health.python_of(env), tmp_path / "cache")
    assert not venv.can_write(inner)
    layout = venv.create(inner, tmp_path / "nested", "tool")
    assert layout.purelib.is_dir()
    seen = _inside(tmp_path / "nested")
    assert (seen["prefix"], seen["base_prefix"]) == ("ENV", str(base.base_prefix))
