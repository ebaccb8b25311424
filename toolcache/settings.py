"""Index settings from the manifest, overridden by the usual environment variables.

Precedence, highest first: ``TOOLCACHE_*``, then uv's (``UV_DEFAULT_INDEX``, ``UV_INDEX_URL``,
``UV_INDEX``/``UV_EXTRA_INDEX_URL``, ``UV_FIND_LINKS``), then pip's (``PIP_INDEX_URL``,
``PIP_EXTRA_INDEX_URL``), then the manifest, then PyPI. ``PIP_FIND_LINKS`` is not read: it is
often set machine-wide to a folder of local wheels, which would make a lock depend on the
machine. Every setting here is recorded in the lock, with credentials redacted.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from toolcache.errors import ToolcacheError
from toolcache.index.models import DEFAULT_INDEX_URL, IndexSettings
from toolcache.manifest import Manifest, parse_timestamp


def _first(environ: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = environ.get(name, "").strip()
        if value:
            return value
    return None


def _split(value: str | None) -> tuple[str, ...] | None:
    return tuple(value.split()) if value else None


def _local(link: str, base: Path) -> str:
    """A find-links entry with a relative folder made absolute against ``base``."""
    if "://" in link:
        return link
    path = Path(link).expanduser()
    return str(path if path.is_absolute() else base / path)


def index_settings(
    manifest: Manifest,
    environ: Mapping[str, str] | None = None,
    *,
    exclude_newer: datetime | None = None,
) -> IndexSettings:
    env = os.environ if environ is None else environ
    index_url = (
        _first(env, "TOOLCACHE_INDEX_URL", "UV_DEFAULT_INDEX", "UV_INDEX_URL", "PIP_INDEX_URL")
        or manifest.index_url
        or DEFAULT_INDEX_URL
    )
    extra = _split(
        _first(
            env,
            "TOOLCACHE_EXTRA_INDEX_URL",
            "UV_INDEX",
            "UV_EXTRA_INDEX_URL",
            "PIP_EXTRA_INDEX_URL",
        )
    )
    links = _split(_first(env, "TOOLCACHE_FIND_LINKS", "UV_FIND_LINKS"))
    newer = exclude_newer
    if newer is None:
        raw = _first(env, "TOOLCACHE_EXCLUDE_NEWER", "UV_EXCLUDE_NEWER")
        if raw is not None:
            newer = parse_timestamp(raw)
            if newer is None:
                raise ToolcacheError(
                    f"TOOLCACHE_EXCLUDE_NEWER/UV_EXCLUDE_NEWER: {raw!r} is not a date or timestamp"
                )
    return IndexSettings(
        index_url=index_url.rstrip("/"),
        extra_index_urls=tuple(
            u.rstrip("/") for u in (extra if extra is not None else manifest.extra_index_urls)
        ),
        find_links=tuple(_local(link, Path.cwd()) for link in links)
        if links is not None
        else tuple(_local(link, manifest.path.parent.absolute()) for link in manifest.find_links),
        exclude_newer=newer if newer is not None else manifest.exclude_newer,
    )
