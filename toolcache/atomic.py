"""Writing a file so that readers see the old content or the new, never half of it.

The data goes to a temporary file beside the target, which then replaces the target in one
``os.replace``; on any failure the temporary file is removed. ``os`` only at import time
(``tempfile`` is imported when writing), so the cache-hit path of ``run`` may use it.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing costs milliseconds on the cache-hit path
if TYPE_CHECKING:
    from os import PathLike


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: Read once, on import (``os.umask`` is process-wide): files follow it, not mkstemp's 0600,
#: so a cache shared by two users of one group works as their umask says.
UMASK = _read_umask()
FILE_MODE = 0o666 & ~UMASK


def follow_umask(fd: int) -> None:
    """Give a file made by ``mkstemp`` (0600) the mode a plain ``open`` would have."""
    if os.name != "nt":
        os.fchmod(fd, FILE_MODE)


def write_bytes(path: str | PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically, creating its folder when needed."""
    import contextlib
    import tempfile

    target = os.fspath(path)
    folder = os.path.dirname(target) or "."
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=folder)
    try:
        follow_umask(fd)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def move_aside(path: str | PathLike[str], prefix: str) -> str:
    """Rename ``path`` into a new folder ``<prefix>...`` beside it and return that folder.

    Readers see the whole of ``path`` or nothing at all. The folder is left for the caller to
    delete (``discard`` does both); one left by a killed process carries ``prefix``, so the
    cleaner of that folder's temporaries removes it later.
    """
    import tempfile

    source = os.fspath(path)
    aside = tempfile.mkdtemp(prefix=prefix, dir=os.path.dirname(source) or ".")
    try:
        os.replace(source, os.path.join(aside, os.path.basename(source)))
    except BaseException:
        os.rmdir(aside)
        raise
    return aside


def discard(path: str | PathLike[str], prefix: str) -> None:
    """Move ``path`` aside (``move_aside``), then delete it."""
    import shutil

    shutil.rmtree(move_aside(path, prefix), ignore_errors=True)
