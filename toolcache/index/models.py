"""Values shared by the index client, the finder and the resolver.

These are the contract between ``toolcache.index`` (which talks HTTP) and
``toolcache.resolver`` (which only sees these values).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName
from packaging.version import Version

DEFAULT_INDEX_URL = "https://pypi.org/simple"


@dataclass(frozen=True)
class IndexSettings:
    """Where packages come from and what may be chosen.

    URLs may carry credentials (``https://user:token@host/simple``); every place that shows,
    hashes or writes a URL must pass it through ``toolcache.index.urls.redact`` first.
    ``exclude_newer`` drops every file uploaded after it (PEP 700 ``upload-time``).
    """

    index_url: str = DEFAULT_INDEX_URL
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    exclude_newer: datetime | None = None


@dataclass(frozen=True)
class DistFile:
    """One file of one release on an index, already known to suit the target.

    ``url`` never carries credentials (the client adds them by origin). ``yanked`` is None when
    the file is not yanked, else the reason ("" when none was given). ``tag_rank`` is the
    target's preference for a wheel (0 best) and None for an sdist. A local project folder
    (``resolver.local``) is ``kind="directory"``, its ``sha256`` the content hash of its sources.
    """

    project: NormalizedName
    version: Version
    filename: str
    url: str
    index: str
    kind: Literal["wheel", "sdist", "directory"]
    sha256: str | None
    size: int | None
    upload_time: datetime | None
    requires_python: SpecifierSet | None
    yanked: str | None
    tag_rank: int | None
    metadata_sha256: str | None
    has_metadata_file: bool


@dataclass(frozen=True)
class DistMetadata:
    """The core metadata fields resolution needs; ``name`` and ``provides_extra`` normalized."""

    name: NormalizedName
    version: Version
    requires_dist: tuple[Requirement, ...]
    requires_python: SpecifierSet | None
    provides_extra: frozenset[NormalizedName]


class Finder(Protocol):
    """What the resolver asks of the index side.

    ``find`` returns, for every release of ``name`` that has a file suiting the target (tags,
    ``requires-python`` of the file, ``exclude-newer``), the one best file of that release
    (best wheel by ``tag_rank``, else the sdist), newest release first. Yanked releases are
    included with ``yanked`` set; prereleases are included; the resolver applies PEP 440/592
    policy. ``metadata`` returns the release's core metadata (PEP 658 file, else the wheel's
    METADATA, else a PEP 517 metadata build of the sdist), for the file's name and version.
    What was downloaded is verified against the sha256 the index gives for it (the PEP 658
    file, or the whole wheel or sdist); a PEP 658 file without a hash and METADATA read from
    a wheel by HTTP ranges cannot be, and are fit for resolving only.
    ``prefetch`` starts fetching project pages in the background; it never raises.
    """

    def find(self, name: NormalizedName) -> Sequence[DistFile]: ...

    def metadata(self, file: DistFile) -> DistMetadata: ...

    def prefetch(self, names: Iterable[NormalizedName]) -> None: ...
