"""The index client's on-disk cache: simple-API pages with their freshness and validators,
a streaming sha256 of a file, and temp files beside where a download belongs."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from toolcache import atomic

PAGE_MAGIC = b"toolcache-page-v1\n"
CHUNK = 1 << 16


def max_age(headers: Mapping[str, str]) -> float | None:
    """Seconds the response stays fresh; None when it must not be stored."""
    directives = [d.strip().lower() for d in headers.get("cache-control", "").split(",")]
    if "no-store" in directives:
        return None
    if "no-cache" in directives:
        return 0.0
    for directive in directives:
        name, _, value = directive.partition("=")
        if name.strip() == "max-age":
            with contextlib.suppress(ValueError):
                return max(0.0, float(value.strip().strip('"')))
    return 0.0


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class CachedPage:
    status: int
    url: str
    content_type: str
    etag: str | None
    last_modified: str | None
    max_age: float
    fetched: float
    body: bytes

    def is_fresh(self, now: float) -> bool:
        return now - self.fetched < self.max_age

    def dump(self) -> bytes:
        header = {
            "status": self.status,
            "url": self.url,
            "content_type": self.content_type,
            "etag": self.etag,
            "last_modified": self.last_modified,
            "max_age": self.max_age,
            "fetched": self.fetched,
        }
        return PAGE_MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n" + self.body

    @classmethod
    def load(cls, data: bytes) -> CachedPage | None:
        if not data.startswith(PAGE_MAGIC):
            return None
        header_line, _, body = data[len(PAGE_MAGIC) :].partition(b"\n")
        try:
            h = json.loads(header_line)
            return cls(
                status=int(h["status"]),
                url=str(h["url"]),
                content_type=str(h["content_type"]),
                etag=h["etag"],
                last_modified=h["last_modified"],
                max_age=float(h["max_age"]),
                fetched=float(h["fetched"]),
                body=body,
            )
        except (ValueError, KeyError, TypeError):
            return None


@contextlib.contextmanager
def temp_beside(directory: Path) -> Iterator[tuple[Path, IO[bytes]]]:
    """A temp file in ``directory`` removed unless it was moved away by the caller."""
    fd, name = tempfile.mkstemp(dir=directory, prefix=".download-")
    atomic.follow_umask(fd)
    tmp = Path(name)
    f = os.fdopen(fd, "wb")
    try:
        yield tmp, f
    finally:
        f.close()
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
