"""Restore an environment into the cache from an archive, crash-safe.

1. Extract into ``envs/<interp16>/.restore-<res16>-<random>``, beside the target, checking
   everything (``unpack``) and the download's own sha256 when the store gave one.
2. Relocate it to the local interpreter (``toolcache.relocate``) and health-check it: the base
   interpreter, and the environment's file list against the receipt's entries, sha256s
   included (each file was checked against its entry as it was written: no second walk).
3. Take the environment's lock (the one builds take), look again, and publish with a rename.

Extraction happens before the lock is taken, so a refused archive never creates a lock file:
on any failure the temporary folder is removed, and so are ``envs/<interp16>`` and ``envs``
when this call created them (and the mtime of the folder that held them is put back),
leaving the cache as it was. Builds remove ``.tmp-*`` folders of
the environment they lock; restores use their own prefix, and remove their own leftovers once
they are an hour old.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Literal

from toolcache import atomic, mutex
from toolcache.archive.contents import ArchiveError, Contents, package_rows
from toolcache.archive.unpack import Expected, Readable, unpack
from toolcache.envs import files, health
from toolcache.envs.store import Environment, env_path, lookup
from toolcache.relocate import RelocationError, relocate

TMP_PREFIX = ".restore-"
STALE_AFTER = 3600.0

Outcome = Literal["restored", "hit"]


def _created_dirs(path: Path) -> list[Path]:
    """The folders ``mkdir(parents=True)`` of ``path`` would create, outermost first."""
    missing: list[Path] = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    return missing[::-1]


def clean_stale(parent: Path) -> list[Path]:
    """Remove what killed restores left in ``parent`` (an ``envs/<interp16>`` folder) over an
    hour ago; return what was removed."""
    now = time.time()
    removed: list[Path] = []
    with contextlib.suppress(OSError), os.scandir(parent) as entries:
        for entry in entries:
            if not entry.name.startswith(TMP_PREFIX):
                continue
            with contextlib.suppress(OSError):
                if now - entry.stat(follow_symlinks=False).st_mtime > STALE_AFTER:
                    shutil.rmtree(entry.path, ignore_errors=True)
                    removed.append(Path(entry.path))
    return removed


def _listing_problem(env_dir: Path, contents: Contents) -> str | None:
    """What ``files.check(full=True)`` would find wrong with the environment just extracted
    and relocated, known from the receipt's entries (each file was checked against its sha256
    as it was written) instead of walking and reading the folder again."""
    present = (
        (e.path, e.type == "file", e.type in ("symlink", "interpreter"), e.size, e.sha256)
        for e in contents.entries
        if e.type != "dir"
    )
    problems = files.check_listing(files.read(env_dir), present)
    return files.describe(problems) if problems else None


def restore_environment(
    source: BinaryIO | Readable,
    *,
    archive: str,
    cache_root: Path,
    interpreter_hash: str,
    resolution_hash: str,
    packages: tuple[tuple[str, str, str], ...] | None,
    executable: Path,
    interpreter_description: str = "",
    size_limit: int,
    verify_download: Callable[[], None] | None = None,
) -> tuple[Outcome, Environment]:
    """Restore the environment (``interpreter_hash``, ``resolution_hash``) from ``source``.

    ``executable`` is the local interpreter with that hash, as found (symlinks kept).
    ``packages`` (name, version, sha256), when given, must be what the archive holds.
    ``verify_download`` is called once the archive has been read to its end and raises when
    the bytes read are not the ones the store promised. Returns ``("hit", env)`` when the
    environment appeared meanwhile. Raises ArchiveError, RelocationError, what
    ``verify_download`` raises (``HashMismatch``, ``StoreError``) or OSError, the cache as it
    was.
    """
    target = env_path(cache_root, interpreter_hash, resolution_hash)
    parent = target.parent
    created = _created_dirs(parent)
    anchor = (created[0] if created else parent).parent
    anchor_times = anchor.stat()
    parent.mkdir(parents=True, exist_ok=True)
    if not created:
        clean_stale(parent)
    expected = Expected(
        interpreter_hash,
        resolution_hash,
        interpreter=interpreter_description,
        packages=tuple(sorted(packages)) if packages is not None else None,
    )
    tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{target.name}-", dir=parent))
    try:
        contents = unpack(source, tmp, archive=archive, expected=expected, size_limit=size_limit)
        if verify_download is not None:
            verify_download()
        made = relocate(
            tmp,
            executable=executable,
            interpreter_hash=interpreter_hash,
            final_path=target,
            interpreter_links=contents.interpreter_links,
        )
        if made.resolution_hash != resolution_hash or (
            packages is not None and package_rows(made.packages) != expected.packages
        ):
            raise ArchiveError(archive, "its environment's receipt does not match its own")
        reason = health.check_base(tmp, made) or _listing_problem(tmp, contents)
        if reason is not None:
            raise ArchiveError(archive, f"the restored environment is unusable: {reason}")
        tmp.chmod(0o755)
        with mutex.exclusive(parent / f"{target.name}.lock"):
            found = lookup(cache_root, interpreter_hash, resolution_hash)
            if found is not None:
                return "hit", found
            if target.exists() or target.is_symlink():
                atomic.discard(target, f"{TMP_PREFIX}{target.name}-old-")
            tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                folder.rmdir()
        with contextlib.suppress(OSError):
            if created and not created[0].exists():  # as it was, to the timestamp
                os.utime(anchor, ns=(anchor_times.st_atime_ns, anchor_times.st_mtime_ns))
        raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return "restored", Environment.at(target, made)


__all__ = ["ArchiveError", "RelocationError", "restore_environment"]
