"""Resolve one tool for several targets, resolving again only where an answer may differ.

The resolver sees a target only through three questions: does this marker hold
(``Target.marker_matches``), does this ``requires-python`` admit it (``Target.allows_python``),
and which releases of a project does the index offer it (``Finder.find``: versions, yanked
flags, the chosen file's ``requires-python``). Resolving for one target records every answer it
was given. Another target that gives the same answer to every recorded question would lead
the resolver, which is deterministic, down exactly the same path: the first answer is reused
for it, with that target's own files. So a pure-Python tool locked for 25 targets is resolved
a handful of times (once per distinct set of marker outcomes), not 25.

Releases are assumed to declare the same dependencies in all their wheels, as uv assumes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName
from packaging.version import Version

from toolcache.errors import ResolutionError
from toolcache.resolver.resolve import Resolution, resolve
from toolcache.target import Target

if TYPE_CHECKING:
    from toolcache.index.models import DistFile, DistMetadata
    from toolcache.lockfile.targets import LockTarget
    from toolcache.resolver.provider import PrereleasePolicy


class UniversalFinder(Protocol):
    """What resolving for several targets asks of a finder: an ``IndexFinder``, or a
    ``resolver.local.LocalFinder`` over one."""

    def for_target(self, target: Target) -> UniversalFinder: ...

    def find(self, name: NormalizedName) -> Sequence[DistFile]: ...

    def metadata(self, file: DistFile) -> DistMetadata: ...

    def prefetch(self, names: Iterable[NormalizedName]) -> None: ...

    def usable_files(self, name: NormalizedName, version: Version) -> list[DistFile]: ...


#: What ``find`` offered for a project, as far as the resolver can tell targets apart.
Offer = tuple[tuple[str, str | None, str], ...]


class _Recording(Target):
    """A target that remembers every question the resolver asked it, and its answer."""

    def __init__(self, base: Target) -> None:
        super().__init__(markers=base.markers, tags=base.tags, any_patch=base.any_patch)
        object.__setattr__(self, "seen_markers", {})
        object.__setattr__(self, "seen_pythons", {})

    seen_markers: dict[tuple[str, str], tuple[Marker | None, str, bool]]
    seen_pythons: dict[str, tuple[SpecifierSet, bool]]

    def marker_matches(self, marker: Marker | None, extra: str = "") -> bool:
        answer = super().marker_matches(marker, extra)
        self.seen_markers[(str(marker), extra)] = (marker, extra, answer)
        return answer

    def allows_python(self, requires_python: SpecifierSet) -> bool:
        answer = super().allows_python(requires_python)
        self.seen_pythons[str(requires_python)] = (requires_python, answer)
        return answer


class _Watching:
    """A ``Finder`` that remembers which projects were looked up."""

    def __init__(self, inner: UniversalFinder) -> None:
        self.inner = inner
        self.names: set[NormalizedName] = set()

    def find(self, name: NormalizedName) -> Sequence[DistFile]:
        self.names.add(name)
        return self.inner.find(name)

    def metadata(self, file: DistFile) -> DistMetadata:
        return self.inner.metadata(file)

    def prefetch(self, names: Iterable[NormalizedName]) -> None:
        self.inner.prefetch(names)


def offer(files: Sequence[DistFile]) -> Offer:
    return tuple((str(f.version), f.yanked, str(f.requires_python)) for f in files)


@dataclass
class _Answer:
    """One resolution and the questions it was given."""

    target: _Recording
    offers: dict[NormalizedName, Offer]
    resolution: Resolution | None
    error: str | None = None

    def patch_sensitive(self) -> list[str]:
        """Markers the resolver asked about whose answer differs between the first and a late
        patch release of the target's Python: the lock holds the ``X.Y.0`` answer."""
        markers = self.target.markers
        major_minor = markers["python_version"]
        late = Target(markers={**markers, "python_full_version": f"{major_minor}.99"}, tags=())
        return sorted(
            str(marker)
            for marker, extra, answer in list(self.target.seen_markers.values())
            if marker is not None
            and "python_full_version" in str(marker)
            and late.marker_matches(marker, extra) != answer
        )

    def holds_on(self, other: Target, finder: UniversalFinder) -> bool:
        """Whether resolving for ``other`` would give the same releases (see module doc)."""
        for marker, extra, answer in list(self.target.seen_markers.values()):
            if other.marker_matches(marker, extra) != answer:
                return False
        for spec, answer in list(self.target.seen_pythons.values()):
            if other.allows_python(spec) != answer:
                return False
        return all(offer(finder.find(n)) == o for n, o in self.offers.items())


@dataclass(frozen=True)
class TargetResolution:
    """A target's releases, and for each the files the lock lists for it: every wheel the
    target can use, or the sdist when it can use none."""

    target: LockTarget
    resolution: Resolution
    files: dict[NormalizedName, tuple[DistFile, ...]] = field(compare=False)


def _files_for(
    resolution: Resolution, finder: UniversalFinder
) -> dict[NormalizedName, tuple[DistFile, ...]]:
    out: dict[NormalizedName, tuple[DistFile, ...]] = {}
    for package in resolution.packages:
        usable = finder.usable_files(package.name, package.version)
        wheels = sorted((f for f in usable if f.kind == "wheel"), key=lambda f: f.filename)
        sdists = sorted((f for f in usable if f.kind != "wheel"), key=lambda f: f.filename)
        out[package.name] = tuple(wheels) if wheels else tuple(sdists[:1])  # or its folder
    return out


def _transfer(resolution: Resolution, finder: UniversalFinder) -> Resolution:
    """``resolution``'s releases with ``finder``'s target's best file of each."""
    packages = []
    for package in resolution.packages:
        file = next(f for f in finder.find(package.name) if f.version == package.version)
        packages.append(dataclasses.replace(package, file=file))
    return dataclasses.replace(resolution, packages=tuple(packages))


def resolve_targets(
    requirements: Sequence[Requirement],
    targets: Sequence[LockTarget],
    finder: UniversalFinder,
    *,
    prereleases: PrereleasePolicy,
    required: Callable[[LockTarget], bool] = lambda _: True,
    progress: Callable[[str], None] | None = None,
) -> tuple[list[TargetResolution], list[tuple[LockTarget, str]]]:
    """Resolve ``requirements`` for each target; returns the resolutions and the targets left
    out, each with the resolver's explanation (only targets for which ``required`` is False
    may be left out; a required target that cannot be resolved raises ``ResolutionError``
    naming it). A failure, like an answer, is reused for every target it provably holds on."""
    answers: list[_Answer] = []
    done: list[TargetResolution] = []
    dropped: list[tuple[LockTarget, str]] = []
    for lock_target in targets:
        view = finder.for_target(lock_target.target)
        reused = next((a for a in answers if a.holds_on(lock_target.target, view)), None)
        if reused is None:
            if progress is not None:
                progress(f"resolving for {lock_target.name}")
            recording = _Recording(lock_target.target)
            watching = _Watching(finder.for_target(recording))
            try:
                found: Resolution | None = resolve(
                    requirements, watching, recording, prereleases=prereleases
                )
                error = None
            except ResolutionError as exc:
                found, error = None, str(exc)
            offers = {name: offer(watching.inner.find(name)) for name in sorted(watching.names)}
            answer = _Answer(recording, offers, found, error)
            answers.append(answer)
            resolution = found
            if found is not None and (sensitive := answer.patch_sensitive()):
                resolution = dataclasses.replace(
                    found,
                    warnings=(
                        *found.warnings,
                        *(
                            f"{marker!r} holds on some {lock_target.python_text} releases only: "
                            f"locked as for {lock_target.python_text}.0"
                            for marker in sensitive
                        ),
                    ),
                )
        else:
            resolution, error = reused.resolution, reused.error
        if resolution is None:
            assert error is not None
            if required(lock_target):
                raise ResolutionError(f"for {lock_target.name}: {error}")
            dropped.append((lock_target, error))
            continue
        if reused is not None:
            resolution = _transfer(resolution, view)
        done.append(TargetResolution(lock_target, resolution, _files_for(resolution, view)))
    return done, dropped
