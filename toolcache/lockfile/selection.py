"""What to install from a lock for one interpreter: ``packaging.pylock.Pylock.select``.

Installing is selecting, never resolving. The selected set (each release with the one file
chosen for the interpreter's tags) gives the resolution hash, so environments and CI keys stay
exact per runner while the lock file is shared by all of them. An interpreter that none of the
lock's ``environments`` covers, or for which a release has no usable file, is not covered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, cast

from toolcache import keys
from toolcache.errors import LockError
from toolcache.lockfile.document import LockedPackage, ToolLock
from toolcache.target import Target

if TYPE_CHECKING:
    from packaging.markers import Environment
    from packaging.pylock import Package, PackageDirectory


class NotCovered(LockError):
    """The lock has nothing for this interpreter; ``reason`` says why."""

    def __init__(self, lock: ToolLock, described: str, reason: str) -> None:
        self.lock = lock
        self.reason = reason
        targets = ", ".join(t.name for t in lock.targets) or "none"
        super().__init__(
            f"{lock.path} does not cover {described} ({reason}); its targets: {targets}"
        )


@dataclass(frozen=True)
class Selection:
    """The packages a lock gives one interpreter, and the environment they make there."""

    path: Path
    tool: str
    interpreter: keys.InterpreterHash
    resolution: keys.ResolutionHash
    packages: tuple[LockedPackage, ...]
    inputs: Mapping[str, Any]

    @property
    def env_id(self) -> str:
        return keys.env_id(self.interpreter, self.resolution)


def select(
    lock: ToolLock, target: Target, interpreter: keys.InterpreterHash, described: str
) -> Selection:
    """Select from ``lock`` for ``target`` (whose hash is ``interpreter``), or ``NotCovered``."""
    from packaging.pylock import (
        PackageDirectory,
        PackageSdist,
        PackageWheel,
        Pylock,
        PylockSelectError,
        PylockValidationError,
    )

    try:
        pylock = Pylock.from_dict(dict(lock.document))
    except PylockValidationError as exc:
        raise LockError(f"{lock.path}: not a valid PEP 751 lock: {exc}") from None
    rows: list[LockedPackage] = []
    try:
        for package, source in pylock.select(
            environment=cast("Environment", dict(target.markers)), tags=target.tags
        ):
            if isinstance(source, PackageDirectory):
                rows.append(_directory(lock, package, source))
                continue
            if not isinstance(source, (PackageWheel, PackageSdist)):
                raise LockError(f"{lock.path}: {package.name} is not a wheel, an sdist or a folder")
            sha256 = source.hashes.get("sha256")
            if not sha256 or package.version is None:
                raise LockError(f"{lock.path}: {package.name} has no version or sha256")
            filename = source.filename
            rows.append(
                LockedPackage(
                    name=str(package.name),
                    version=str(package.version),
                    kind="wheel" if isinstance(source, PackageWheel) else "sdist",
                    filename=filename,
                    url=source.url,
                    path=source.path,
                    sha256=sha256,
                    size=source.size,
                )
            )
    except PylockSelectError as exc:
        raise NotCovered(lock, described, str(exc)) from None
    rows.sort(key=lambda p: p.name)
    resolution = keys.resolution_hash((p.name, p.version, p.sha256) for p in rows)
    return Selection(lock.path, lock.tool, interpreter, resolution, tuple(rows), lock.inputs)


def _directory(lock: ToolLock, package: Package, source: PackageDirectory) -> LockedPackage:
    """A local project folder (``toolcache.local``): its "sha256" is the content hash of its
    sources, so the resolution hash, and the environment, change when they do."""
    meta = (package.tool or {}).get("toolcache")
    content = meta.get("content-hash") if isinstance(meta, Mapping) else None
    if not isinstance(content, str) or not content or package.version is None:
        raise LockError(f"{lock.path}: folder {package.name} has no version or content-hash")
    return LockedPackage(
        name=str(package.name),
        version=str(package.version),
        kind="directory",
        filename=PurePosixPath(source.path).name,
        url=None,
        path=source.path,
        sha256=content,
        size=None,
    )
