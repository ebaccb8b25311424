"""Console-script launchers run without ``realpath(1)``, directly and through symlinks.

macOS 12 and older have no ``realpath`` command (it came with macOS 13), and a launcher that
called it failed there (astral-sh/uv#13807). Here the launchers of a real environment run with
a PATH holding one folder in which only ``readlink`` is linked: no ``realpath``, no
``dirname``, nothing else. That stands in for such a Mac (``/bin/sh`` is found by the kernel
from the ``#!`` line, as there). Besides the kernel's ``/bin/sh`` (dash here), they run under
``bash --posix``, which is what ``/bin/sh`` is on macOS.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.dists import build_wheel
from toolcache.envs import install, venv
from toolcache.interpreter import probe

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX launchers")

_MAIN = (
    "import json, os, sys\n"
    "def main():\n"
    "    print(json.dumps({'argv': sys.argv[1:], 'cwd': os.getcwd(), 'prefix': sys.prefix}))\n"
    "    return 3\n"
)
#: The launcher header before this change, which needs ``realpath`` and ``dirname``.
_OLD_HEADER = (
    b"#!/bin/sh\n"
    b'\'\'\'exec\' "$(dirname -- "$(realpath -- "$0")")"/\'python\' "$0" "$@"\n'
    b"' '''\n"
)


class Installed:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = root / "env"
        self.tools = root / "only-readlink"


@pytest.fixture
def installed(tmp_path: Path) -> Installed:
    """An environment of this interpreter with ``where`` (console script) installed, and a
    PATH folder with nothing in it but ``readlink``."""
    if sys.prefix != sys.base_prefix:
        pytest.skip("needs an interpreter outside a virtual environment")
    made = Installed(tmp_path)
    interpreter = probe(Path(sys.executable), tmp_path / "cache")
    layout = venv.create(interpreter, made.env, "where")
    wheel = build_wheel(
        tmp_path / "dists",
        "where",
        "1.0",
        console_scripts={"where": "where:main"},
        files={"where/__init__.py": _MAIN},
    )
    install.install_wheel(wheel, layout, layout.scripts / "python")
    readlink = shutil.which("readlink")
    assert readlink is not None
    made.tools.mkdir()
    (made.tools / "readlink").symlink_to(readlink)
    return made


def _run(
    command: list[str], path: str, cwd: Path, *, check: bool = True
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        command,
        cwd=cwd,
        env={"PATH": path, "PWD": str(cwd), "LC_ALL": "C"},
        capture_output=True,
        text=True,
        check=False,
    )
    if check:
        assert proc.returncode == 3, proc.stderr
    return proc


def _shells() -> list[object]:
    shells: list[object] = [pytest.param([], id="kernel-/bin/sh")]
    bash = shutil.which("bash")
    shells.append(
        pytest.param(
            [bash, "--posix"] if bash else [],
            id="bash-posix",
            marks=pytest.mark.skipif(bash is None, reason="no bash"),
        )
    )
    return shells


@pytest.mark.parametrize("shell", _shells())
def test_a_launcher_runs_without_realpath_directly_and_through_symlinks(
    installed: Installed, shell: list[str]
) -> None:
    """Stands in for a console script run on macOS 12 (no realpath): by its path, through
    absolute, relative and chained symlinks, through a symlinked folder, found on PATH (also
    by a relative PATH entry) and by a relative path."""
    root, env, tools = installed.root, installed.env, installed.tools
    path = str(tools)
    assert shutil.which("realpath", path=path) is None
    assert shutil.which("dirname", path=path) is None
    launcher = env / "bin" / "where"
    links = root / "links"
    links.mkdir()
    (links / "absolute").symlink_to(launcher)
    (links / "relative").symlink_to(Path("..") / "env" / "bin" / "where")
    (root / "more").mkdir()
    (root / "more" / "chain").symlink_to(Path("..") / "links" / "relative")
    (root / "env-link").symlink_to(env, target_is_directory=True)
    (links / "where").symlink_to(Path("..") / "more" / "chain")

    elsewhere = root / "work"
    elsewhere.mkdir()
    cases: list[tuple[list[str], str, Path]] = [
        ([str(launcher)], path, elsewhere),
        ([str(links / "absolute")], path, elsewhere),
        ([str(links / "relative")], path, elsewhere),
        ([str(root / "more" / "chain")], path, elsewhere),
        ([str(root / "env-link" / "bin" / "where")], path, elsewhere),
        (["./where"], path, env / "bin"),
        (["../links/relative"], path, elsewhere),
    ]
    if not shell:  # found on PATH by the kernel's exec, not by a shell given a file
        cases += [
            (["where"], os.pathsep.join([path, str(links)]), elsewhere),
            (["where"], os.pathsep.join([path, "../links"]), elsewhere),
        ]
    for command, search, cwd in cases:
        proc = _run([*shell, *command, "a b", "-c"], search, cwd)
        seen = json.loads(proc.stdout)
        assert seen["argv"] == ["a b", "-c"], command
        assert seen["cwd"] == str(cwd), command  # the launcher changed no folder
        assert Path(seen["prefix"]).resolve() == env.resolve(), command


def test_the_old_launcher_needed_realpath(installed: Installed) -> None:
    """The same PATH is enough to break the launcher this one replaced: the test above would
    fail on it."""
    new = (installed.env / "bin" / "where").read_bytes()
    assert new.startswith(install.RELOCATABLE_HEADER)
    old = installed.env / "bin" / "where-old"
    old.write_bytes(_OLD_HEADER + new[len(install.RELOCATABLE_HEADER) :])
    old.chmod(0o755)
    proc = _run([str(old)], str(installed.tools), installed.root, check=False)
    assert proc.returncode != 3
    assert "realpath" in proc.stderr


def test_the_header_is_inert_python() -> None:
    """No escape sequence or triple quote inside the literal: warnings-as-errors compile it."""
    import warnings

    text = install.RELOCATABLE_HEADER.decode() + "value = 1\n"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code = compile(text, "launcher", "exec")
    namespace: dict[str, object] = {}
    exec(code, namespace)
    assert namespace["value"] == 1
    assert b"\\" not in install.RELOCATABLE_HEADER
