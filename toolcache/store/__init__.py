"""Where exported archives are kept: a folder (``local``), an HTTP cache (``http``) or an
object store: S3 and S3-compatible, Google Cloud Storage, Azure Blob Storage (``object``).

The ``Store`` contract, for every implementation:

- archives are named by their environment (``ArchiveKey``): one archive per (interpreter,
  resolution), never replaced by different contents under the same key;
- ``put`` publishes atomically: a reader sees the whole archive or nothing, and two writers
  of the same key at once both succeed; a failed ``put`` leaves nothing a reader would take;
- ``open`` yields a ``Download`` (or None when absent) whose ``verify`` raises once the
  stream has been read to its end if the bytes were not the ones published (stores that
  record a sha256 check it; a folder relies on the archive's own hashes);
- a ``read_only`` store never writes: ``put`` and ``remove`` raise ``StoreError``;
- ``archives`` lists what is held (name, size, last-modified) where the store can list, for
  ``toolcache store ls`` and ``prune``; ``remove`` takes one away, the pointer before the
  archive, so a reader never finds a pointer to a removed archive except in a race, which
  reads as a miss.

Stores are opened from a ``--store`` value by ``open_store``, and for a command by
``store_or_folder`` (its ``--store``, else its folder, else the cache's archives folder).
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from toolcache import keys, paths
from toolcache.archive.contents import archive_name
from toolcache.errors import ToolcacheError

if TYPE_CHECKING:
    from toolcache.archive.unpack import Readable

KEY_FORMAT = "toolcache-archive/1"


class StoreError(ToolcacheError):
    """A store could not be read or written; ``store`` names it (without credentials)."""

    def __init__(self, store: str, reason: str) -> None:
        self.store = store
        self.reason = reason
        super().__init__(f"archive store {store}: {reason}")


@dataclass(frozen=True)
class ArchiveKey:
    """The environment an archive holds."""

    interpreter_hash: str
    resolution_hash: str

    @property
    def name(self) -> str:
        """The archive's file name: ``<interp16>-<res16>.tar.zst``."""
        return archive_name(self.interpreter_hash, self.resolution_hash)

    @property
    def digest(self) -> str:
        """A sha256 hex over the full hashes (an HTTP cache's ``/ac/`` key)."""
        return keys.digest(
            {
                "format": KEY_FORMAT,
                "interpreter": self.interpreter_hash,
                "resolution": self.resolution_hash,
            }
        )


@dataclass(frozen=True)
class StoredArchive:
    """An archive a store holds: its name (``<interp16>-<res16>.tar.zst``), size in bytes,
    and when it was written (UTC)."""

    name: str
    size: int
    modified: datetime


class Download(Protocol):
    @property
    def stream(self) -> Readable: ...

    @property
    def where(self) -> str:
        """Where the archive comes from, for messages (no credentials)."""
        ...

    def verify(self) -> None:
        """Raise (``HashMismatch``, ``StoreError``) if what was read is not what was stored."""
        ...


class Store(abc.ABC):
    read_only: bool

    @property
    @abc.abstractmethod
    def description(self) -> str:
        """The store for messages: a folder, or a URL without credentials."""

    @abc.abstractmethod
    def contains(self, key: ArchiveKey) -> bool:
        """Whether an archive for ``key`` can be downloaded."""

    @abc.abstractmethod
    def open(self, key: ArchiveKey) -> AbstractContextManager[Download | None]:
        """The archive for ``key`` as a stream, or None when there is none."""

    @abc.abstractmethod
    def put(self, key: ArchiveKey, archive: Path) -> None:
        """Publish the archive file ``archive`` under ``key`` (it may be moved or consumed)."""

    def scratch_dir(self) -> Path | None:
        """Where an archive about to be ``put`` is best written (None: anywhere)."""
        return None

    def archives(self) -> Iterator[StoredArchive]:
        """The archives held, by name."""
        raise StoreError(self.description, "listing archives is not supported here")

    def names(self) -> Iterator[str]:
        """The names of the archives held (for pruning)."""
        return (archive.name for archive in self.archives())

    def remove(self, name: str) -> None:
        """Remove the archive ``name`` (and its pointer); nothing when there is none."""
        raise StoreError(self.description, "removing archives is not supported here")

    def leftovers(self) -> Iterator[StoredArchive]:
        """Archive blobs that no pointer names (``cas/<sha256>``): an upload whose pointer was
        never written, or the loser's of two exports of one environment when it could not
        delete. None where archives are named by their environment (folders) or where the
        store cannot be listed."""
        return iter(())

    def remove_leftover(self, name: str) -> None:
        """Remove the leftover blob ``name`` (as ``leftovers`` names it)."""
        raise StoreError(self.description, "removing archives is not supported here")

    def close(self) -> None:  # noqa: B027 (most stores hold nothing)
        """Release connections."""


def store_or_folder(
    spec: str | None, folder: Path | None, *, cache_root: Path, read_only: bool
) -> Store:
    """The store a command uses: ``spec`` (``--store``) when given, else the folder (``--to``,
    ``--from``), by default ``paths.archives_dir(cache_root)``."""
    if spec is not None:
        return open_store(spec, read_only=read_only)
    from toolcache.store.local import FolderStore

    return FolderStore(folder or paths.archives_dir(cache_root), read_only=read_only)


def open_store(spec: str, *, read_only: bool = False) -> Store:
    """A store from a ``--store`` value: ``s3://``, ``gs://`` or ``az://bucket/prefix``,
    ``http(s)://...``, ``file://...`` or a folder path."""
    lowered = spec.lower()
    if lowered.startswith(("http://", "https://")):
        from toolcache.store.http import HttpStore

        return HttpStore(spec, read_only=read_only)
    if lowered.startswith(("s3://", "gs://", "az://")):
        from toolcache.store.object import ObjectStore

        return ObjectStore(spec, read_only=read_only)
    from toolcache.store.local import FolderStore

    if lowered.startswith("file:"):
        from toolcache.index.urls import file_url_to_path

        return FolderStore(file_url_to_path(spec), read_only=read_only)
    if "://" in spec:
        raise StoreError(
            spec.split("://", 1)[0] + "://", "unknown scheme: use a folder, http(s), s3, gs or az"
        )
    return FolderStore(Path(spec).expanduser().absolute(), read_only=read_only)
