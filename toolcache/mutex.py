"""Exclusive locks between processes (and threads), on a small file beside what they guard.

Built on ``filelock`` (``fcntl.flock`` on POSIX, ``msvcrt.locking`` on Windows): the lock is
released by the operating system when its holder dies, so a killed build never leaves a lock
behind. Lock files are left in place after release; removing them would race with a waiter.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import filelock

#: Seconds between attempts while waiting, after the first failed try.
POLL_INTERVAL = 0.05


@contextlib.contextmanager
def exclusive(path: Path, *, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the lock on ``path`` (created when missing) for the ``with`` block.

    When another holder has it, ``on_wait`` is called once and the call blocks until the lock
    is free.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(path, thread_local=False)
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        if on_wait is not None:
            on_wait()
        lock.acquire(timeout=-1, poll_interval=POLL_INTERVAL)
    try:
        yield
    finally:
        lock.release()


def is_locked(path: Path) -> bool:
    """Whether someone holds the lock on ``path`` right now (False when there is no file)."""
    if not path.exists():
        return False
    lock = filelock.FileLock(path, thread_local=False)
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        return True
    lock.release()
    return False
