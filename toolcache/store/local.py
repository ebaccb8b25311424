"""A folder of archives: ``<folder>/<interp16>-<res16>.tar.zst`` (``--to``, ``file://``).

The folder a CI cache step saves and restores (``paths.archives_dir`` by default). Archives are
written beside their final name and moved into place with ``os.replace``, so a reader never
sees half of one; two writers of the same archive both succeed and the last rename wins (both
wrote the same environment).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

from toolcache import atomic
from toolcache.archive.contents import is_archive_name
from toolcache.store import ArchiveKey, Download, Store, StoredArchive, StoreError


@dataclass(frozen=True)
class _FileDownload:
    file: BinaryIO
    path: Path

    @property
    def stream(self) -> BinaryIO:
        return self.file

    @property
    def where(self) -> str:
        return str(self.path)

    def verify(self) -> None:
        """Nothing to compare with: the archive's own receipt and hashes are checked."""


class FolderStore(Store):
    def __init__(self, root: Path, *, read_only: bool = False) -> None:
        self.root = root
        self.read_only = read_only

    @property
    def description(self) -> str:
        return str(self.root)

    def path(self, key: ArchiveKey) -> Path:
        return self.root / key.name

    def contains(self, key: ArchiveKey) -> bool:
        return self.path(key).is_file()

    @contextlib.contextmanager
    def open(self, key: ArchiveKey) -> Iterator[Download | None]:
        path = self.path(key)
        try:
            file = path.open("rb")
        except FileNotFoundError:
            yield None
            return
        except OSError as exc:
            raise StoreError(self.description, f"cannot read {path.name} ({exc})") from None
        with file:
            yield _FileDownload(file, path)

    def scratch_dir(self) -> Path | None:
        return None if self.read_only else self.root

    def put(self, key: ArchiveKey, archive: Path) -> None:
        if self.read_only:
            raise StoreError(self.description, "it is read-only")
        target = self.path(key)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            if archive.parent.resolve() == self.root.resolve():
                archive.replace(target)
                return
            fd, name = tempfile.mkstemp(prefix=f".tmp-{target.name}-", dir=self.root)
            atomic.follow_umask(fd)
            os.close(fd)
            tmp = Path(name)
            try:
                shutil.copyfile(archive, tmp)  # keeps tmp's mode: the umask's, as every file
                tmp.replace(target)
            finally:
                tmp.unlink(missing_ok=True)
        except OSError as exc:
            raise StoreError(self.description, f"cannot write {target.name} ({exc})") from None

    def names(self) -> Iterator[str]:
        try:
            entries = sorted(os.listdir(self.root))
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StoreError(self.description, f"cannot list it ({exc})") from None
        yield from (name for name in entries if is_archive_name(name))

    def archives(self) -> Iterator[StoredArchive]:
        for name in self.names():
            try:
                st = (self.root / name).stat()
            except FileNotFoundError:
                continue  # removed since it was listed
            except OSError as exc:
                raise StoreError(self.description, f"cannot read {name} ({exc})") from None
            modified = datetime.fromtimestamp(st.st_mtime, timezone.utc)
            yield StoredArchive(name, st.st_size, modified)

    def remove(self, name: str) -> None:
        if self.read_only:
            raise StoreError(self.description, "it is read-only")
        if not is_archive_name(name):
            raise StoreError(self.description, f"{name!r} is not an archive name")
        try:
            (self.root / name).unlink(missing_ok=True)
        except OSError as exc:
            raise StoreError(self.description, f"cannot remove {name} ({exc})") from None
