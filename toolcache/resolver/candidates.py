"""The requirement and candidate values the resolvelib provider works with.

An identifier is a project's normalized name (``black``) or, for one extra of it,
``name[extra]`` (``black[jupyter]``). A requirement with several extras becomes one requirement
per identifier: the base project plus one per extra, each with the declared specifier. A
candidate for ``name[extra]`` depends on the base candidate at the same version (``name==V``)
plus the requirements the extra adds, so every extra of a project lands on one version.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from packaging.requirements import Requirement
from packaging.specifiers import Specifier, SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from toolcache.index.models import DistFile


def identifier_of(name: NormalizedName, extra: NormalizedName | None) -> str:
    """``name`` or ``name[extra]``."""
    return f"{name}[{extra}]" if extra else name


@dataclass(frozen=True)
class ResolverRequirement:
    """One requirement on one identifier.

    ``source`` is the requirement as declared (by the user or in a parent's metadata), used in
    messages; ``internal`` marks the ``name==V`` link from an extra's candidate to its base.
    """

    name: NormalizedName
    extra: NormalizedName | None
    specifier: SpecifierSet
    source: Requirement
    internal: bool = False
    identifier: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "identifier", identifier_of(self.name, self.extra))

    def __str__(self) -> str:
        return describe_requirement(self.source)


@dataclass(frozen=True)
class Candidate:
    """One release of one identifier, backed by the file the finder chose for it."""

    name: NormalizedName
    extra: NormalizedName | None
    version: Version
    file: DistFile
    identifier: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "identifier", identifier_of(self.name, self.extra))

    def __str__(self) -> str:
        return f"{self.identifier}=={self.version}"


def describe_requirement(requirement: Requirement) -> str:
    """A requirement as people write it, without its marker: ``black[jupyter]>=24``."""
    extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
    if requirement.url:
        return f"{requirement.name}{extras} @ {requirement.url}"
    return f"{requirement.name}{extras}{requirement.specifier}"


def split_requirement(
    requirement: Requirement, *, internal: bool = False
) -> Iterator[ResolverRequirement]:
    """The base requirement, then one per extra (sorted), all with the declared specifier."""
    name = canonicalize_name(requirement.name)
    yield ResolverRequirement(name, None, requirement.specifier, requirement, internal)
    for extra in sorted({canonicalize_name(e) for e in requirement.extras}):
        yield ResolverRequirement(name, extra, requirement.specifier, requirement, internal)


def pin_to_base(candidate: Candidate) -> ResolverRequirement:
    """The ``name==V`` requirement linking an extra's candidate to its base."""
    source = Requirement(f"{candidate.name}=={candidate.version}")
    return ResolverRequirement(
        candidate.name, None, SpecifierSet(f"=={candidate.version}"), source, internal=True
    )


def _spec_version(spec: Specifier) -> Version | None:
    text = spec.version.removesuffix(".*")
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _is_exact(spec: Specifier) -> bool:
    """``===``, or ``==`` without a wildcard."""
    return spec.operator == "===" or (spec.operator == "==" and not spec.version.endswith(".*"))


def pins_exactly(specifier: SpecifierSet, version: Version) -> bool:
    """Whether ``specifier`` pins ``version`` with ``==`` (no wildcard) or ``===``."""
    return any(_is_exact(s) and s.contains(version, prereleases=True) for s in specifier)


def is_pinned(specifier: SpecifierSet) -> bool:
    """Whether ``specifier`` holds an exact ``==``/``===`` pin."""
    return any(_is_exact(s) for s in specifier)


def is_upper_bounded(specifier: SpecifierSet) -> bool:
    """Whether ``specifier`` caps versions from above."""
    return any(
        s.operator in ("<", "<=", "~=") or (s.operator == "==" and s.version.endswith(".*"))
        for s in specifier
    )


def mentions_prerelease(specifier: SpecifierSet) -> bool:
    """Whether ``specifier`` explicitly names a prerelease (``>=1.0b1``); ``!=`` does not count."""
    for spec in specifier:
        if spec.operator == "!=":
            continue
        version = _spec_version(spec)
        if version is not None and version.is_prerelease:
            return True
    return False


def satisfies(specifier: SpecifierSet, version: Version) -> bool:
    """PEP 440 containment with prereleases admitted; prerelease policy is applied elsewhere."""
    return specifier.contains(version, prereleases=True)
