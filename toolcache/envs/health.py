"""Is a cached environment still usable? A reason string when not, None when it is.

Checked on every ``lookup`` of an environment (not on the cache-hit path of ``run``): the
receipt, the ``home`` recorded in ``pyvenv.cfg``, the base interpreter file (its size and
mtime against the receipt), the environment's own ``python``, and every file against the
environment's file list by type and size (``toolcache.envs.files``: a few milliseconds).
Standard library only.
"""

from __future__ import annotations

import sys
from pathlib import Path

from toolcache.envs import receipt as receipt_mod

_WINDOWS = sys.platform == "win32"


def bin_dir(env_dir: Path) -> Path:
    """Where the environment's executables are: ``bin`` (``Scripts`` on Windows)."""
    return env_dir / ("Scripts" if _WINDOWS else "bin")


def python_of(env_dir: Path) -> Path:
    return bin_dir(env_dir) / ("python.exe" if _WINDOWS else "python")


def pyvenv_home(env_dir: Path) -> str | None:
    """The ``home`` key of ``pyvenv.cfg``; None when the file or the key is missing."""
    try:
        text = (env_dir / "pyvenv.cfg").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip().lower() == "home":
            return value.strip()
    return None


def check_receipt(env_dir: Path, receipt: receipt_mod.Receipt) -> str | None:
    """The checks that need the receipt already read (see ``check``)."""
    reason = check_base(env_dir, receipt)
    if reason is not None:
        return reason
    from toolcache.envs import files

    problems = files.check(env_dir)
    return files.describe(problems) if problems else None


def check_base(env_dir: Path, receipt: receipt_mod.Receipt) -> str | None:
    """``check_receipt`` but the files: ``pyvenv.cfg``'s home, the base interpreter and the
    environment's ``python`` (a restore checks the files it wrote without a walk)."""
    home = pyvenv_home(env_dir)
    if home is None:
        return "its pyvenv.cfg is missing or has no home"
    if not Path(home).is_dir():
        return f"its base interpreter's folder {home} is gone"
    changed = receipt.base.changed()
    if changed is not None:
        return changed
    if not python_of(env_dir).exists():  # follows the link: a dangling one is missing
        return f"{python_of(env_dir)} is missing"
    return None


def check(env_path: Path, *, full: bool = False) -> str | None:
    """Why the environment at ``env_path`` cannot be used, or None when it can.

    Reasons: no directory, no (or an unreadable, or another format's) receipt, no ``home`` in
    ``pyvenv.cfg`` or that folder gone, the base interpreter file gone or changed (size or
    mtime) since the build, the environment's ``python`` missing, a file missing, added or of
    another size than its list says; with ``full``, also of another sha256 (reads every file).
    """
    if not env_path.is_dir():
        return "it does not exist"
    if not full:
        try:
            found = receipt_mod.read(env_path)
        except receipt_mod.ReceiptError as exc:
            return str(exc)
        return check_receipt(env_path, found)
    from toolcache.envs import files

    problems = files.check(env_path, full=True)  # one walk, reading every file
    if problems:
        return files.describe(problems)
    try:
        found = receipt_mod.read(env_path)
    except receipt_mod.ReceiptError as exc:
        return str(exc)
    return check_base(env_path, found)
