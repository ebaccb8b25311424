"""Exclusive locks between processes (and threads), on a small file beside what they guard.

The lock is ``runner.lock_fd`` on the lock file, opened anew for each holder: ``flock`` on
POSIX (a lock per open file, so two threads of one process exclude each other as two processes
do), ``LockFileEx`` on Windows, the one mechanism the in-use locks of running tools use too.
The operating system releases it when its holder dies, so a killed build never leaves a lock
behind. Lock files are left in place after release (removing them would race with a waiter)
and hold no data (a locked range on Windows blocks reads of it). Standard library only: a
restore takes this lock, and ``filelock`` cost it 35-50 ms of imports.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from toolcache.runner import lock_fd

if TYPE_CHECKING:
    from pathlib import Path

_FLAGS = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


@contextlib.contextmanager
def exclusive(path: Path, *, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the lock on ``path`` (created when missing) for the ``with`` block.

    When another holder has it, ``on_wait`` is called once and the call blocks until the lock
    is free.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, _FLAGS, 0o644)
    try:
        if not lock_fd(fd, exclusive=True, wait=False):
            if on_wait is not None:
                on_wait()
            lock_fd(fd, exclusive=True, wait=True)
        yield  # closing the descriptor releases the lock
    finally:
        os.close(fd)


def is_locked(path: Path) -> bool:
    """Whether someone holds the lock on ``path`` right now (False when there is no file)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return False
    try:
        return not lock_fd(fd, exclusive=True, wait=False)
    finally:
        os.close(fd)
