"""``LockFileEx`` on an open file descriptor, for ``runner.lock_fd`` on Windows.

Kept out of ``runner`` so that the cache-hit path on POSIX never parses it. Standard library
only.
"""

from __future__ import annotations

import sys

assert sys.platform == "win32"  # imported on Windows only (mypy checks the rest there)


def lock_file(fd: int, *, exclusive: bool, wait: bool) -> bool:  # pragma: no cover - Windows
    """Lock one byte of ``fd``'s file; False when ``wait`` is off and another holds it."""
    import ctypes
    import msvcrt
    from ctypes import wintypes

    class Overlapped(ctypes.Structure):
        _fields_ = [
            ("internal", ctypes.c_size_t),
            ("internal_high", ctypes.c_size_t),
            ("offset", wintypes.DWORD),
            ("offset_high", wintypes.DWORD),
            ("event", wintypes.HANDLE),
        ]

    lock_file_ex = ctypes.WinDLL("kernel32", use_last_error=True).LockFileEx
    lock_file_ex.argtypes = [
        wintypes.HANDLE,
        wintypes.DWORD,
        wintypes.DWORD,
        wintypes.DWORD,
        wintypes.DWORD,
        ctypes.POINTER(Overlapped),
    ]
    lock_file_ex.restype = wintypes.BOOL
    # LOCKFILE_EXCLUSIVE_LOCK = 2, LOCKFILE_FAIL_IMMEDIATELY = 1; one byte at offset 0
    flags = (2 if exclusive else 0) | (0 if wait else 1)
    handle = msvcrt.get_osfhandle(fd)
    if lock_file_ex(handle, flags, 0, 1, 0, ctypes.byref(Overlapped())):
        return True
    if ctypes.get_last_error() == 33:  # ERROR_LOCK_VIOLATION: another holder
        return False
    raise ctypes.WinError()
