"""An in-memory ``Finder`` for fast unit tests of the resolver's logic.

``Finder`` is our own seam between the index side and the resolver; this test double stands in
for the HTTP finder so the resolution rules can be tested without a server. It answers from a
dict such as ``{"a": {"1.0": ["b>=1"], "2.0": ["b>=2", "c; extra == 'x'"]}}`` and follows the
``Finder`` contract: one file per release, newest release first, yanked and prerelease
releases included, files whose ``requires-python`` excludes the target dropped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from toolcache.index.models import DistFile, DistMetadata
from toolcache.target import Target


def make_target(python: str = "3.11.4", **markers: str) -> Target:
    """A Linux x86-64 CPython target for ``python``, with ``markers`` overridden."""
    major_minor = ".".join(python.split(".")[:2])
    environment = {
        "implementation_name": "cpython",
        "implementation_version": python,
        "os_name": "posix",
        "platform_machine": "x86_64",
        "platform_python_implementation": "CPython",
        "platform_release": "6.1.0",
        "platform_system": "Linux",
        "platform_version": "#1 SMP",
        "python_full_version": python,
        "python_version": major_minor,
        "sys_platform": "linux",
    }
    environment.update(markers)
    return Target(markers=environment, tags=(Tag("py3", "none", "any"),))


@dataclass(frozen=True)
class Release:
    """Options for one release beyond its requirements."""

    requires: Sequence[str] = ()
    yanked: str | None = None
    requires_python: str | None = None  # in the metadata
    file_requires_python: str | None = None  # on the index page
    extras: Sequence[str] | None = None  # Provides-Extra; None: taken from the markers
    upload_time: datetime | None = None


Spec = Mapping[str, Mapping[str, "Sequence[str] | Release"]]


@dataclass
class FakeFinder:
    """Answers ``find``/``metadata``/``prefetch`` from ``packages``; records the calls."""

    packages: Spec
    target: Target = field(default_factory=make_target)
    drop_by_requires_python: bool = True
    find_calls: list[NormalizedName] = field(default_factory=list)
    metadata_calls: list[tuple[NormalizedName, Version]] = field(default_factory=list)
    prefetched: list[NormalizedName] = field(default_factory=list)

    def _releases(self, name: NormalizedName) -> dict[Version, Release]:
        for project, releases in self.packages.items():
            if canonicalize_name(project) == name:
                return {
                    Version(v): (r if isinstance(r, Release) else Release(requires=tuple(r)))
                    for v, r in releases.items()
                }
        return {}

    def find(self, name: NormalizedName) -> Sequence[DistFile]:
        self.find_calls.append(name)
        files: list[DistFile] = []
        python = self.target.python_full_version
        for version, release in sorted(self._releases(name).items(), reverse=True):
            file_rp = SpecifierSet(release.file_requires_python or "")
            if (
                self.drop_by_requires_python
                and release.file_requires_python
                and not file_rp.contains(python, prereleases=True)
            ):
                continue
            filename = f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
            files.append(
                DistFile(
                    project=name,
                    version=version,
                    filename=filename,
                    url=f"https://files.example/{filename}",
                    index="https://index.example/simple",
                    kind="wheel",
                    sha256=hashlib.sha256(filename.encode()).hexdigest(),
                    size=1000,
                    upload_time=release.upload_time or datetime(2024, 1, 1, tzinfo=timezone.utc),
                    requires_python=file_rp if release.file_requires_python else None,
                    yanked=release.yanked,
                    tag_rank=0,
                    metadata_sha256=None,
                    has_metadata_file=True,
                )
            )
        return files

    def metadata(self, file: DistFile) -> DistMetadata:
        self.metadata_calls.append((file.project, file.version))
        release = self._releases(file.project)[file.version]
        requires = tuple(Requirement(r) for r in release.requires)
        if release.extras is None:
            extras = frozenset(
                canonicalize_name(e)
                for r in requires
                if r.marker is not None
                for e in _marker_extras(str(r.marker))
            )
        else:
            extras = frozenset(canonicalize_name(e) for e in release.extras)
        return DistMetadata(
            name=file.project,
            version=file.version,
            requires_dist=requires,
            requires_python=SpecifierSet(release.requires_python)
            if release.requires_python
            else None,
            provides_extra=extras,
        )

    def prefetch(self, names: Iterable[NormalizedName]) -> None:
        self.prefetched.extend(names)


def _marker_extras(marker: str) -> list[str]:
    """The extra names compared against in a marker string (``extra == "x"``)."""
    found: list[str] = []
    parts = marker.split("extra == ")[1:]
    for part in parts:
        quote = part[0]
        found.append(part[1 : part.index(quote, 1)])
    return found
