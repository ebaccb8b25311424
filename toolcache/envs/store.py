"""Environments in the cache: ``CACHE/envs/<interpreter16>/<resolution16>``.

One environment per (interpreter, resolution): every tool whose lock resolves to the same
files on the same interpreter shares it. ``lookup`` imports only the standard library and our
small modules, so a full ``run``, ``export`` or ``restore`` that finds its environment pays for
nothing more (``run``'s own cache-hit path, ``toolcache._hit``, does not come here);
``ensure`` builds on a miss (see ``toolcache.envs.build``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from toolcache import keys, paths
from toolcache.envs import health
from toolcache.envs import receipt as receipt_mod
from toolcache.envs.receipt import Receipt

if TYPE_CHECKING:
    from toolcache.envs.build import DownloadProgress
    from toolcache.interpreter import Interpreter
    from toolcache.lockfile.selection import Selection


@dataclass(frozen=True)
class Environment:
    path: Path  # CACHE/envs/<interp16>/<res16>
    bin_dir: Path  # path/"bin" (Scripts on Windows)
    python: Path  # bin_dir/"python"
    receipt: Receipt

    @classmethod
    def at(cls, path: Path, receipt: Receipt) -> Environment:
        return cls(path, health.bin_dir(path), health.python_of(path), receipt)


def env_path(cache_root: Path, interpreter_hash: str, resolution_hash: str) -> Path:
    return paths.envs_dir(cache_root) / keys.env_id(interpreter_hash, resolution_hash)


def lookup(cache_root: Path, interpreter_hash: str, resolution_hash: str) -> Environment | None:
    """The environment if it is present, complete and healthy (and marks it used), else None.

    A receipt for other full hashes (two hashes sharing their first 16 characters) is a miss.
    """
    path = env_path(cache_root, interpreter_hash, resolution_hash)
    try:
        found = receipt_mod.read(path)
    except receipt_mod.ReceiptError:
        return None
    if found.interpreter_hash != interpreter_hash or found.resolution_hash != resolution_hash:
        return None
    if health.check_receipt(path, found) is not None:
        return None
    receipt_mod.touch_last_used(path)
    return Environment.at(path, found)


def ensure(
    lock: Selection,
    interpreter: Interpreter,
    cache_root: Path,
    *,
    index_urls: Sequence[str] = (),
    offline: bool = False,
    progress: Callable[[str], None] | None = None,
    downloads: DownloadProgress | None = None,
) -> Environment:
    """The environment of ``lock`` on ``interpreter``: looked up, else built from the lock.

    Never resolves: the lock's files are downloaded (or taken from the cache), verified against
    their sha256 and installed. ``index_urls`` (possibly with credentials) are registered with
    the HTTP client first, since locks store URLs without credentials. Raises a
    ``ToolcacheError`` (``HashMismatch``, ``IndexError_``, ``BuildError``, ...) on failure,
    leaving the cache as it was apart from verified downloads. ``progress`` is told each step
    of a build, ``downloads`` sees each file downloaded (see ``build.DownloadProgress``).
    """
    found = lookup(cache_root, lock.interpreter, lock.resolution)
    if found is not None:
        return found
    from toolcache.envs import build

    return build.build(
        lock,
        interpreter,
        cache_root,
        index_urls=index_urls,
        offline=offline,
        progress=progress,
        downloads=downloads,
    )
