"""Running a tool's command inside its environment. ``os`` and ``sys`` only (the hit path).

The process is replaced where the OS allows (POSIX ``execve``), so the tool's exit code,
signals and terminal are its own; on Windows it runs as a child and its code is returned.

A running tool holds a shared lock on its environment's in-use file
(``envs/<interp16>/<res16>.inuse``, beside the environment like its build lock) for as long as
it runs: the descriptor is moved to a high number (``IN_USE_FD`` or above, clear of the
descriptors programs open, redirect or pass on) and left open across ``execve``, so the tool
process itself holds the lock and the operating system releases it when the tool exits, however
it exits (a ``SIGKILL`` included). On Windows the parent holds it while the child runs. What
removes or replaces an environment takes the lock exclusively without waiting first and leaves
the environment alone when it cannot (``toolcache.inventory.claim``). The file is beside the
environment, not in it: it outlives the folder being moved aside or replaced (a remover and a
starting tool always meet on the same file), it is never in an exported archive, and the
environment holds only what its file list names.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing and collections.abc cost milliseconds on the cache-hit path
if TYPE_CHECKING:
    from collections.abc import Sequence


#: Beside the environment folder: ``<env>.inuse``.
IN_USE_SUFFIX = ".inuse"
#: The lowest descriptor number the in-use lock is held on in the tool's process.
IN_USE_FD = 100


def _fail(message: str) -> BaseException:
    from toolcache.errors import ToolcacheError

    return ToolcacheError(message)


def tool_environ(env_dir: str, bin_dir: str) -> dict[str, str]:
    environ = dict(os.environ)
    environ["VIRTUAL_ENV"] = env_dir
    environ["PATH"] = bin_dir + os.pathsep + environ.get("PATH", "")
    environ.pop("PYTHONHOME", None)
    return environ


def resolve_command(command: str, bin_dir: str) -> str | None:
    """The environment's own script, or a path the manifest gives (``./scripts/lint.sh``).

    Never a program found on PATH: a command the tool's packages do not install (a typo, an
    empty environment) must fail, not run whatever another installation put first on PATH.
    """
    for suffix in ("", ".exe", ".cmd") if sys.platform == "win32" else ("",):
        candidate = os.path.join(bin_dir, command + suffix)
        if os.path.isfile(candidate):
            return candidate
    if os.sep in command or (os.altsep and os.altsep in command):
        return command
    return None


def scripts(bin_dir: str) -> list[str]:
    """The commands the environment's packages installed (not its interpreter links)."""
    try:
        names = os.listdir(bin_dir)
    except OSError:
        return []
    return sorted(
        name.removesuffix(".exe")
        for name in names
        if not name.startswith(("python", "pypy", "activate", "Activate"))
        and os.path.isfile(os.path.join(bin_dir, name))
    )


def in_use_path(env_dir: str) -> str:
    """The environment's in-use file: ``<env_dir>.inuse``, beside it."""
    return env_dir + IN_USE_SUFFIX


def lock_fd(fd: int, *, exclusive: bool, wait: bool) -> bool:
    """Lock the open file ``fd`` (``flock``; ``LockFileEx`` on Windows): shared or exclusive,
    waiting or not. False when ``wait`` is off and another holder is in the way; OSError when
    the file system has no such locks."""
    if sys.platform == "win32":  # pragma: no cover - tested on POSIX only
        from toolcache._winlock import lock_file

        return lock_file(fd, exclusive=exclusive, wait=wait)
    import fcntl

    operation = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    try:
        fcntl.flock(fd, operation if wait else operation | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def hold_in_use(env_dir: str) -> int | None:
    """Take the shared lock on the environment's in-use file and return its descriptor.

    On POSIX the descriptor is ``IN_USE_FD`` or above and inheritable, so ``execve`` hands it
    (and the lock) to the tool. Waits only while a remover holds the lock (the time of one
    rename). None when the file cannot be opened or locked (a read-only cache, a file system
    without locks): the tool runs all the same, guarded only by its last-used time.
    """
    try:
        fd = os.open(in_use_path(env_dir), os.O_RDONLY | os.O_CREAT, 0o666)
    except OSError:
        return None
    try:
        if sys.platform != "win32":
            import fcntl

            try:
                high = fcntl.fcntl(fd, fcntl.F_DUPFD, IN_USE_FD)
            except OSError:  # a descriptor limit under IN_USE_FD: keep the one we have
                high = fd
            else:
                os.close(fd)
            fd = high
            os.set_inheritable(fd, True)  # F_DUPFD clears close-on-exec; os.open sets it
        lock_fd(fd, exclusive=False, wait=True)
    except OSError:
        os.close(fd)
        return None
    return fd


def exec_tool(env_dir: str, bin_dir: str, argv: Sequence[str], tool: str) -> int:
    """Run ``argv`` in the environment, holding its in-use lock for as long as the tool runs;
    returns only on Windows (the tool's exit code)."""
    environ = tool_environ(env_dir, bin_dir)
    program = resolve_command(argv[0], bin_dir)
    if program is None:
        found = scripts(bin_dir)
        has = f"it has {', '.join(found)}" if found else "it has no scripts"
        raise _fail(
            f"tool {tool!r}: command {argv[0]!r} is not in its environment: {has} "
            "(the tool's `run:` names one of them, or a path for another program)"
        )
    sys.stdout.flush()
    sys.stderr.flush()
    # After resolving: an environment removed meanwhile makes execve fail (the hit path then
    # takes the long way, which builds it again) rather than run a stale program.
    held = hold_in_use(env_dir)
    if sys.platform == "win32":  # pragma: no cover - no exec on Windows
        import subprocess

        try:
            return subprocess.call([program, *argv[1:]], env=environ)
        finally:
            if held is not None:
                os.close(held)
    try:
        os.execve(program, [argv[0], *argv[1:]], environ)  # noqa: S606 - the point of run
    except OSError as exc:
        if held is not None:
            os.close(held)
        raise _fail(f"tool {tool!r}: cannot run {program}: {exc.strerror}") from None
    raise AssertionError("unreachable")  # pragma: no cover
