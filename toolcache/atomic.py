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


def write_bytes(path: str | PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically, creating its folder when needed."""
    import contextlib
    import tempfile

    target = os.fspath(path)
    folder = os.path.dirname(target) or "."
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
