"""Fake interpreters for discovery tests: shell scripts that print a probe's answer.

``probe_output`` is what ``toolcache._probe.collect()`` prints in a CPython on macOS (the keys
are checked against a simulated run of the real probe in ``tests/test_macos_discovery.py``);
``fake_python`` writes an executable script at a path that prints such an answer, whatever it
is asked, and appends its own path to a log file each time it runs, so a test can tell which
files were run and which never were.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any


def probe_output(
    *,
    version: str,
    executable: Path,
    arch: str = "arm64",
    macos: str = "15.3",
    framework: str = "",
    deployment_target: str = "11.0",
) -> dict[str, Any]:
    """The probe's answer for CPython ``version`` (``3.12.8``) at ``executable`` on macOS."""
    major, minor, micro = (int(p) for p in version.split("."))
    nodot = f"{major}{minor}"
    prefix = executable.parent.parent
    platform = f"macosx-{deployment_target}-{'universal2' if framework else arch}"
    return {
        "probe": 1,
        "implementation_name": "cpython",
        "implementation_version": version,
        "version_info": [major, minor, micro, "final", 0],
        "python_full_version": version,
        "markers": {
            "implementation_name": "cpython",
            "implementation_version": version,
            "os_name": "posix",
            "platform_machine": arch,
            "platform_python_implementation": "CPython",
            "platform_release": "24.3.0",
            "platform_system": "Darwin",
            "platform_version": "Darwin Kernel Version 24.3.0",
            "python_full_version": version,
            "python_version": f"{major}.{minor}",
            "sys_platform": "darwin",
        },
        "abiflags": "",
        "config": {
            "SOABI": f"cpython-{nodot}-darwin",
            "EXT_SUFFIX": f".cpython-{nodot}-darwin.so",
            "Py_GIL_DISABLED": 0,
            "Py_DEBUG": 0,
            "py_version_nodot": nodot,
            "PYTHONFRAMEWORK": framework,
        },
        "has_gettotalrefcount": False,
        "extension_suffixes": [f".cpython-{nodot}-darwin.so", ".abi3.so", ".so"],
        "sysconfig_platform": platform,
        "pointer_bits": 64,
        "libc": None,
        "elf": None,
        "mac": {"version": macos, "reported": macos, "system": macos, "arch": arch},
        "executable": str(executable),
        "base_executable": str(executable),
        "prefix": str(prefix),
        "base_prefix": str(prefix),
        "purelib": str(prefix / f"lib/python{major}.{minor}/site-packages"),
        "scripts": str(prefix / "bin"),
    }


def fake_python(path: Path, answer: dict[str, Any] | None, log: Path) -> Path:
    """An executable script at ``path`` printing ``answer`` as JSON (nothing when None), that
    first appends ``path`` to ``log``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(answer) if answer is not None else ""
    # Shell builtins only: the tests run these with a PATH of empty folders.
    path.write_text(
        "#!/bin/sh\n"
        f"echo {shlex.quote(str(path))} >> {shlex.quote(str(log))}\n"
        f"printf '%s\\n' {shlex.quote(text)}\n",
        encoding="utf-8",
    )
    path.chmod(0o755)
    return path


def runs(log: Path) -> list[str]:
    """The paths of the fake interpreters that ran, in order."""
    try:
        return log.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
