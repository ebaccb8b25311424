"""Running a tool's command inside its environment. Standard library only.

The process is replaced where the OS allows (POSIX ``execve``), so the tool's exit code,
signals and terminal are its own; on Windows it runs as a child and its code is returned.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from toolcache.errors import ToolcacheError


def tool_environ(env_dir: Path, bin_dir: Path) -> dict[str, str]:
    environ = dict(os.environ)
    environ["VIRTUAL_ENV"] = str(env_dir)
    environ["PATH"] = str(bin_dir) + os.pathsep + environ.get("PATH", "")
    environ.pop("PYTHONHOME", None)
    return environ


def resolve_command(command: str, bin_dir: Path, environ: dict[str, str]) -> str:
    """The environment's own script first, then the PATH (e.g. ``run: git ...``)."""
    for suffix in ("", ".exe", ".cmd") if sys.platform == "win32" else ("",):
        candidate = bin_dir / (command + suffix)
        if candidate.is_file():
            return str(candidate)
    if os.sep in command or (os.altsep and os.altsep in command):
        return command
    import shutil

    found = shutil.which(command, path=environ["PATH"])
    if found is None:
        raise ToolcacheError(
            f"command {command!r} is not in the environment ({bin_dir}) nor on PATH"
        )
    return found


def exec_tool(env_dir: Path, bin_dir: Path, argv: Sequence[str], tool: str) -> int:
    """Run ``argv`` in the environment; returns only on Windows (the tool's exit code)."""
    environ = tool_environ(env_dir, bin_dir)
    try:
        program = resolve_command(argv[0], bin_dir, environ)
    except ToolcacheError as exc:
        raise ToolcacheError(f"tool {tool!r}: {exc}") from None
    sys.stdout.flush()
    sys.stderr.flush()
    if sys.platform == "win32":  # pragma: no cover - no exec on Windows
        import subprocess

        return subprocess.call([program, *argv[1:]], env=environ)
    try:
        os.execve(program, [argv[0], *argv[1:]], environ)  # noqa: S606 - the point of run
    except OSError as exc:
        raise ToolcacheError(f"tool {tool!r}: cannot run {program}: {exc.strerror}") from None
    raise AssertionError("unreachable")  # pragma: no cover
