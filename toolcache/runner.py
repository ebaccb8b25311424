"""Running a tool's command inside its environment. ``os`` and ``sys`` only (the hit path).

The process is replaced where the OS allows (POSIX ``execve``), so the tool's exit code,
signals and terminal are its own; on Windows it runs as a child and its code is returned.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing and collections.abc cost milliseconds on the cache-hit path
if TYPE_CHECKING:
    from collections.abc import Sequence


def _fail(message: str) -> BaseException:
    from toolcache.errors import ToolcacheError

    return ToolcacheError(message)


def tool_environ(env_dir: str, bin_dir: str) -> dict[str, str]:
    environ = dict(os.environ)
    environ["VIRTUAL_ENV"] = env_dir
    environ["PATH"] = bin_dir + os.pathsep + environ.get("PATH", "")
    environ.pop("PYTHONHOME", None)
    return environ


def resolve_command(command: str, bin_dir: str, environ: dict[str, str]) -> str | None:
    """The environment's own script first, then the PATH (e.g. ``run: git ...``)."""
    for suffix in ("", ".exe", ".cmd") if sys.platform == "win32" else ("",):
        candidate = os.path.join(bin_dir, command + suffix)
        if os.path.isfile(candidate):
            return candidate
    if os.sep in command or (os.altsep and os.altsep in command):
        return command
    import shutil

    return shutil.which(command, path=environ["PATH"])


def exec_tool(env_dir: str, bin_dir: str, argv: Sequence[str], tool: str) -> int:
    """Run ``argv`` in the environment; returns only on Windows (the tool's exit code)."""
    environ = tool_environ(env_dir, bin_dir)
    program = resolve_command(argv[0], bin_dir, environ)
    if program is None:
        raise _fail(
            f"tool {tool!r}: command {argv[0]!r} is not in its environment ({bin_dir}) nor on PATH"
        )
    sys.stdout.flush()
    sys.stderr.flush()
    if sys.platform == "win32":  # pragma: no cover - no exec on Windows
        import subprocess

        return subprocess.call([program, *argv[1:]], env=environ)
    try:
        os.execve(program, [argv[0], *argv[1:]], environ)  # noqa: S606 - the point of run
    except OSError as exc:
        raise _fail(f"tool {tool!r}: cannot run {program}: {exc.strerror}") from None
    raise AssertionError("unreachable")  # pragma: no cover
