"""Resolve requirements for one target into pinned releases, with their chosen files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from packaging.requirements import Requirement
from packaging.utils import NormalizedName
from packaging.version import Version
from resolvelib import ResolutionImpossible, ResolutionTooDeep, Resolver

from toolcache.errors import ResolutionError
from toolcache.index.models import DistFile, Finder
from toolcache.local import local_path
from toolcache.resolver.candidates import (
    Candidate,
    ResolverRequirement,
    describe_requirement,
    split_requirement,
)
from toolcache.resolver.explain import format_impossible, format_too_deep
from toolcache.resolver.provider import Information, PrereleasePolicy, Provider
from toolcache.resolver.reporter import ProgressCallback, ProgressReporter
from toolcache.target import Target


@dataclass(frozen=True)
class ResolvedPackage:
    """One pinned release.

    ``requires_dist`` is the release's metadata as declared (all markers, all extras);
    ``dependencies`` are the projects it pulled in for this target, including through the
    extras that were asked of it, sorted, without itself.
    """

    name: NormalizedName
    version: Version
    file: DistFile
    requires_dist: tuple[Requirement, ...]
    dependencies: tuple[NormalizedName, ...]


@dataclass(frozen=True)
class Resolution:
    """Every pinned release, sorted by name, and warnings worth showing (yanked, bad extras)."""

    packages: tuple[ResolvedPackage, ...]
    warnings: tuple[str, ...]


def _roots(requirements: Sequence[Requirement], target: Target) -> list[ResolverRequirement]:
    """Top-level requirements for the target, split per identifier, deduplicated and sorted.

    Sorting makes the answer independent of the order the requirements were given in.
    """
    roots: dict[tuple[str, str], ResolverRequirement] = {}
    for requirement in sorted(requirements, key=str):
        if requirement.url and local_path(requirement) is None:
            raise ResolutionError(
                f"direct URL requirements are not supported: {describe_requirement(requirement)}"
            )
        if not target.marker_matches(requirement.marker):
            continue
        for root in split_requirement(requirement):
            roots.setdefault((root.identifier, str(root.specifier)), root)
    return [roots[key] for key in sorted(roots)]


def resolve(
    requirements: Sequence[Requirement],
    finder: Finder,
    target: Target,
    *,
    prereleases: PrereleasePolicy = "if-necessary-or-explicit",
    max_rounds: int = 20000,
    progress: ProgressCallback | None = None,
) -> Resolution:
    """Pick one release of every project ``requirements`` need on ``target``.

    Newest compatible versions win, the same way for the same inputs whatever their order.
    Requirements whose markers do not hold for the target are dropped. ``progress`` is
    called after every round. Raises ``ResolutionError`` with an explanation when no set
    of releases works, or when ``max_rounds`` is exhausted.
    """
    roots = _roots(requirements, target)
    if not roots:
        return Resolution(packages=(), warnings=())
    finder.prefetch(sorted({r.name for r in roots}))
    provider = Provider(finder, target, prereleases=prereleases)
    resolver: Resolver[ResolverRequirement, Candidate, str] = Resolver(
        provider, ProgressReporter(progress)
    )
    try:
        result = resolver.resolve(roots, max_rounds=max_rounds)
    except ResolutionImpossible as exc:
        causes = cast("list[Information]", list(cast("Any", exc).causes))
        raise ResolutionError(format_impossible(causes, provider)) from exc
    except ResolutionTooDeep as exc:
        raise ResolutionError(format_too_deep(exc.round_count)) from exc
    return _resolution(result.mapping, provider)


def _resolution(mapping: dict[str, Candidate], provider: Provider) -> Resolution:
    by_name: dict[NormalizedName, list[Candidate]] = {}
    for candidate in mapping.values():
        by_name.setdefault(candidate.name, []).append(candidate)

    packages: list[ResolvedPackage] = []
    warnings: list[str] = []
    for name in sorted(by_name):
        chosen = sorted(by_name[name], key=lambda c: c.extra or "")
        base = chosen[0]
        if base.extra is not None:  # pragma: no cover - an extra always pins its base
            raise AssertionError(f"{base} resolved without its base project")
        names = {d.name for c in chosen for d in provider.dependencies(c)} - {name}
        packages.append(
            ResolvedPackage(
                name=name,
                version=base.version,
                file=base.file,
                requires_dist=provider.metadata(base.file).requires_dist,
                dependencies=tuple(sorted(names)),
            )
        )
        if base.file.yanked is not None:
            reason = f" (reason: {base.file.yanked})" if base.file.yanked else ""
            warnings.append(f"{base} is yanked{reason}")
        warnings.extend(
            f"{base} does not provide the extra '{c.extra}'"
            for c in chosen[1:]
            if not provider.extra_is_provided(c)
        )
    return Resolution(packages=tuple(packages), warnings=tuple(warnings))
