"""Virtual environments without pip or activate scripts, for ``toolcache.envs.build``.

Written directly when ``venv``'s result is known (``by_hand``, no process started: CPython and
PyPy on Linux, CPython on macOS unless it is a framework build), else made by the
interpreter's own ``venv`` module (``by_module``). Either way the result is the environment
and its install ``Layout``.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from toolcache import host as host_mod
from toolcache.envs import health, install
from toolcache.errors import ToolcacheError

if TYPE_CHECKING:
    from toolcache.interpreter import Interpreter

TIMEOUT = 120.0

# Runs inside the target interpreter (3.8+, CPython or PyPy): creates the environment without
# pip or activate scripts and prints its install paths. Computing the paths here, for the new
# prefix, saves starting the new environment's python (checked equal on CPython 3.8-3.13 and
# PyPy 3.9).
_CREATE = """\
import json, os, sys, sysconfig, venv

class Builder(venv.EnvBuilder):
    def setup_scripts(self, context):
        pass

target = os.path.abspath(sys.argv[1])
Builder(symlinks=os.name != "nt", with_pip=False).create(target)
names = sysconfig.get_scheme_names()
scheme = "venv" if "venv" in names else ("nt" if os.name == "nt" else "posix_prefix")
v = {"base": target, "platbase": target, "installed_base": target, "installed_platbase": target}
found = sysconfig.get_paths(scheme, vars=v)
found["python_tag"] = "python" + sysconfig.get_config_var("py_version_short")
print(json.dumps(found))
"""


class VenvError(ToolcacheError):
    """The interpreter's ``venv`` module failed; ``detail`` says what was seen."""

    def __init__(self, tool: str, detail: str) -> None:
        self.tool = tool
        self.detail = detail
        super().__init__(
            f"cannot build the environment of {tool!r}: creating the virtual environment: {detail}"
        )


def create(interpreter: Interpreter, dest: Path, tool: str) -> install.Layout:
    """A fresh environment of ``interpreter`` at ``dest`` (which may exist, empty), and its
    install layout: written directly when ``venv``'s result is known (see ``by_hand``),
    else made by the interpreter's own ``venv`` module."""
    if can_write(interpreter):
        return by_hand(interpreter, dest)
    return by_module(interpreter, dest, tool)


def can_write(interpreter: Interpreter) -> bool:
    """Whether ``by_hand`` knows what ``venv`` makes for ``interpreter``: an interpreter of
    this host, 3.8+, not free-threaded, not itself in a virtual environment, and CPython or
    PyPy on Linux or a CPython on macOS that is not a framework build (uv's, pyenv's, conda's).

    Framework builds (python.org's and Homebrew's, ``PYTHONFRAMEWORK`` set) are left to
    ``venv``: their ``bin/python3.X`` is a stub that runs ``Resources/Python.app`` with
    ``__PYVENV_LAUNCHER__`` naming the stub, and what ``venv`` links the environment's
    ``python`` to (``sys._base_executable``: the framework's ``bin/python3.X``, never
    ``Python.app``) is worked out from that by the C startup, by ``getpath`` (whose framework
    rules changed between releases) and on darwin by ``site``, which a probe run without
    ``site`` does not see. Nor can it be checked but on a Mac. One ``venv`` run per build (tens
    of milliseconds) buys an environment that is right by construction. So does PyPy on macOS,
    which nothing here has checked either.
    """
    here = host_mod.current()
    system = interpreter.markers.get("sys_platform", "")
    exe = interpreter.sys_executable
    if not here.symlinks or host_mod.family(system) != here.sys_platform:
        return False
    if system == "darwin":
        known = (
            interpreter.implementation_name == "cpython"
            and interpreter.framework == ""
            and interpreter.base_executable == exe
        )
    else:
        known = system == "linux" and interpreter.implementation_name in ("cpython", "pypy")
    return (
        known
        and interpreter.version >= (3, 8)
        and "t" not in interpreter.abiflags
        and interpreter.prefix == interpreter.base_prefix
        and exe.is_absolute()
        and exe.is_file()
        and not (exe.parent / "pyvenv.cfg").exists()
        and not (exe.parent.parent / "pyvenv.cfg").exists()
    )


def by_hand(interpreter: Interpreter, dest: Path) -> install.Layout:
    """What ``EnvBuilder(symlinks=True, with_pip=False)`` makes, without starting a process.

    ``pyvenv.cfg`` (``home``, ``version``; from 3.11 ``executable`` and ``command``), the
    interpreter's file name linked to the base executable and ``python``, ``python3``,
    ``python3.X`` (PyPy: also ``pypy3``, ``pypy``) linked to it, ``include``,
    ``lib/<python|pypy>X.Y/site-packages`` and, where the interpreter's host has one (Linux,
    not macOS), the ``lib64`` link. Checked against ``venv`` on CPython 3.8-3.13 and PyPy by
    the tests (on Linux; macOS differs only by ``lib64``, as ``venv``'s source says).
    """
    host = host_mod.for_platform(interpreter.markers.get("sys_platform", ""))
    exe = str(interpreter.sys_executable)
    major, minor = interpreter.version
    impl = "pypy" if interpreter.implementation_name == "pypy" else "python"
    site = dest / "lib" / f"{impl}{major}.{minor}" / "site-packages"
    site.mkdir(parents=True, exist_ok=True)
    include = dest / "include"
    if interpreter.implementation_name == "cpython" and (major, minor) >= (3, 11):
        include /= f"python{major}.{minor}{interpreter.abiflags}"
    include.mkdir(parents=True, exist_ok=True)
    if interpreter.pointer_bits == 64 and host.lib64:
        (dest / "lib64").symlink_to("lib")
    bin_dir = dest / host.bin_dir
    bin_dir.mkdir(exist_ok=True)
    name = os.path.basename(exe)
    (bin_dir / name).symlink_to(exe)
    names = ["python", "python3"]
    if (major, minor) >= (3, 9):
        names.append(f"python3.{minor}")
    if impl == "pypy":
        names += ["pypy3", "pypy"]
    for other in names:
        if other != name:
            (bin_dir / other).symlink_to(name)
    lines = [
        f"home = {os.path.dirname(exe)}",
        "include-system-site-packages = false",
        "version = {}.{}.{}".format(*interpreter.version_info[:3]),
    ]
    if (major, minor) >= (3, 11):
        options = "--without-pip --without-scm-ignore-files" if minor >= 13 else "--without-pip"
        lines.append(f"executable = {os.path.realpath(exe)}")
        lines.append(f"command = {exe} -m venv {options} {dest}")
    (dest / "pyvenv.cfg").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return install.Layout(
        purelib=site,
        platlib=site,
        headers=dest / "include" / "site" / f"python{major}.{minor}",
        scripts=bin_dir,
        data=dest,
    )


def by_module(interpreter: Interpreter, dest: Path, tool: str) -> install.Layout:
    """The environment made by the interpreter's own ``venv`` module, and its layout."""
    try:
        proc = subprocess.run(
            [str(interpreter.executable), "-I", "-c", _CREATE, str(dest)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise VenvError(tool, str(exc)) from None
    if proc.returncode != 0:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise VenvError(tool, "\n".join(lines[-10:]) or "no output")
    try:
        found: Mapping[str, str] = json.loads(proc.stdout)
        layout = install.Layout.from_paths(found, found["python_tag"])
    except (ValueError, KeyError, TypeError) as exc:
        raise VenvError(tool, f"bad answer: {exc}") from None
    if not health.python_of(dest).exists():
        raise VenvError(tool, "no python was created")
    return layout
