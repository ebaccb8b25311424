"""The resolvelib provider: PEP 440/592/508 policy over what the finder returns.

Contract with resolvelib (see ``resolvelib.providers.AbstractProvider``):

- ``identify`` gives ``name`` or ``name[extra]`` (see ``candidates``).
- ``find_matches`` returns, lazily and newest first, the candidates that satisfy every
  requirement on the identifier (and, for an extra, on its base project), minus known
  incompatibilities, minus releases whose ``requires-python`` (file or metadata) excludes the
  target, minus yanked releases not pinned exactly by ``==``/``===``. Prereleases follow the
  policy: ``allow`` keeps them in version order; ``disallow`` drops them;
  ``if-necessary-or-explicit`` keeps them in version order when an active requirement on the
  project names a prerelease (``>=1.0b1``), and otherwise offers them only after every final
  release, so one is chosen only when no final release works.
- ``get_dependencies`` evaluates markers against the target (with ``extra`` set for an
  extra's candidate), drops a project's requirements on itself, and asks the finder to
  prefetch the projects it names.
- ``get_preference`` works on exact pins first, then shallower projects, then tighter
  requirements, then by identifier, so the answer does not depend on input order;
  ``narrow_requirement_selection`` keeps only the identifiers behind the last backtrack.

Index answers and metadata are cached for the life of the provider (one resolution).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Literal

from packaging.utils import NormalizedName
from packaging.version import Version
from resolvelib import AbstractProvider
from resolvelib.structs import RequirementInformation

from toolcache.index.models import DistFile, DistMetadata, Finder
from toolcache.resolver.candidates import (
    Candidate,
    ResolverRequirement,
    identifier_of,
    is_pinned,
    is_upper_bounded,
    mentions_prerelease,
    pin_to_base,
    pins_exactly,
    satisfies,
    split_requirement,
)
from toolcache.target import Target

if TYPE_CHECKING:
    from resolvelib.providers import Preference

PrereleasePolicy = Literal["if-necessary-or-explicit", "allow", "disallow"]

Information = RequirementInformation[ResolverRequirement, Candidate]


def split_identifier(identifier: str) -> tuple[NormalizedName, NormalizedName | None]:
    """``"black[d]"`` → ``("black", "d")``; ``"black"`` → ``("black", None)``."""
    name, bracket, rest = identifier.partition("[")
    if not bracket:
        return NormalizedName(name), None
    return NormalizedName(name), NormalizedName(rest.rstrip("]"))


class Provider(AbstractProvider[ResolverRequirement, Candidate, str]):
    """Answers resolvelib's questions from a ``Finder`` for one ``Target``."""

    def __init__(self, finder: Finder, target: Target, *, prereleases: PrereleasePolicy) -> None:
        self._finder = finder
        self._target = target
        self._prereleases: PrereleasePolicy = prereleases
        self._files: dict[NormalizedName, tuple[DistFile, ...]] = {}
        self._metadata: dict[tuple[NormalizedName, Version, str], DistMetadata] = {}
        self._candidates: dict[str, dict[Version, Candidate]] = {}
        self._dependencies: dict[tuple[str, Version], tuple[ResolverRequirement, ...]] = {}
        self._depths: dict[str, float] = {}

    @property
    def target(self) -> Target:
        return self._target

    # --- index access, cached --------------------------------------------------------------

    def files(self, name: NormalizedName) -> tuple[DistFile, ...]:
        """One file per release of ``name``, newest release first (the ``Finder`` contract)."""
        try:
            return self._files[name]
        except KeyError:
            files = self._files[name] = tuple(self._finder.find(name))
            return files

    def metadata(self, file: DistFile) -> DistMetadata:
        key = (file.project, file.version, file.filename)
        try:
            return self._metadata[key]
        except KeyError:
            metadata = self._metadata[key] = self._finder.metadata(file)
            return metadata

    def python_mismatch(self, file: DistFile) -> str | None:
        """Why the target's Python cannot use this release, or None when it can.

        The file's ``requires-python`` is checked first (free), then the metadata's.
        """
        target = self._target
        if file.requires_python is not None and not target.allows_python(file.requires_python):
            return f"requires Python {file.requires_python}"
        declared = self.metadata(file).requires_python
        if declared is not None and not target.allows_python(declared):
            return f"requires Python {declared}"
        return None

    def _candidate(
        self, name: NormalizedName, extra: NormalizedName | None, file: DistFile
    ) -> Candidate:
        """The one ``Candidate`` object for this identifier and release (interned)."""
        interned = self._candidates.setdefault(identifier_of(name, extra), {})
        try:
            return interned[file.version]
        except KeyError:
            candidate = interned[file.version] = Candidate(name, extra, file.version, file)
            return candidate

    # --- resolvelib hooks --------------------------------------------------------------------

    def identify(self, requirement_or_candidate: ResolverRequirement | Candidate) -> str:
        return requirement_or_candidate.identifier

    def allows_prereleases(
        self, name: NormalizedName, requirements: Iterable[ResolverRequirement]
    ) -> bool | None:
        """True: prereleases in version order; False: never; None: only after finals."""
        if self._prereleases == "allow":
            return True
        if self._prereleases == "disallow":
            return False
        if any(r.name == name and mentions_prerelease(r.specifier) for r in requirements):
            return True
        return None

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[ResolverRequirement]],
        incompatibilities: Mapping[str, Iterator[Candidate]],
    ) -> Callable[[], Iterator[Candidate]]:
        name, extra = split_identifier(identifier)
        same_project = [
            r for key in requirements if split_identifier(key)[0] == name for r in requirements[key]
        ]
        binding = [r for r in same_project if r.identifier in (identifier, name)]
        # resolvelib repeats incompatibilities as it backtracks; candidates are interned, so
        # comparing identities is exact and much cheaper than hashing versions.
        excluded_ids = set(map(id, incompatibilities.get(identifier, iter(()))))
        excluded = frozenset(
            version
            for version, candidate in self._candidates.get(identifier, {}).items()
            if id(candidate) in excluded_ids
        )
        prereleases = self.allows_prereleases(name, same_project)

        def matches() -> Iterator[Candidate]:
            for file in self.viable_files(name, binding, prereleases, excluded):
                yield self._candidate(name, extra, file)

        return matches

    def viable_files(
        self,
        name: NormalizedName,
        binding: Sequence[ResolverRequirement],
        prereleases: bool | None,
        excluded: frozenset[Version] = frozenset(),
    ) -> Iterator[DistFile]:
        """Releases of ``name`` that every requirement in ``binding`` accepts, in offer order.

        ``prereleases`` is the answer of ``allows_prereleases``. Metadata is fetched lazily,
        only for the releases the caller gets to.
        """
        deferred: list[DistFile] = []
        for file in self.files(name):
            if self.rejection(file, binding, prereleases, excluded) is not None:
                continue
            if file.version.is_prerelease and prereleases is None:
                deferred.append(file)
            elif self.python_mismatch(file) is None:
                yield file
        for file in deferred:
            if self.python_mismatch(file) is None:
                yield file

    @staticmethod
    def rejection(
        file: DistFile,
        binding: Sequence[ResolverRequirement],
        prereleases: bool | None,
        excluded: frozenset[Version] = frozenset(),
    ) -> str | None:
        """Why ``file`` cannot be offered for ``binding`` (index data only), or None."""
        version = file.version
        if version in excluded:
            return "conflicts with other requirements"
        if not all(satisfies(r.specifier, version) for r in binding):
            return "does not match"
        if file.yanked is not None and not any(pins_exactly(r.specifier, version) for r in binding):
            return f"is yanked ({file.yanked})" if file.yanked else "is yanked"
        if version.is_prerelease and prereleases is False:
            return "is a prerelease"
        return None

    def is_satisfied_by(self, requirement: ResolverRequirement, candidate: Candidate) -> bool:
        return satisfies(requirement.specifier, candidate.version)

    def dependencies(self, candidate: Candidate) -> tuple[ResolverRequirement, ...]:
        """The requirements ``candidate`` brings in for the target (cached)."""
        key = (candidate.identifier, candidate.version)
        try:
            return self._dependencies[key]
        except KeyError:
            pass
        declared = self.metadata(candidate.file).requires_dist
        found: list[ResolverRequirement] = []
        if candidate.extra is None:
            chosen = [r for r in declared if self._target.marker_matches(r.marker)]
        else:
            found.append(pin_to_base(candidate))
            chosen = [
                r
                for r in declared
                if self._target.marker_matches(r.marker, candidate.extra)
                and not self._target.marker_matches(r.marker)
            ]
        for requirement in chosen:
            for dependency in split_requirement(requirement):
                if dependency.name == candidate.name and dependency.extra in (
                    None,
                    candidate.extra,
                ):
                    continue  # a project's requirement on itself adds nothing
                found.append(dependency)
        result = self._dependencies[key] = tuple(found)
        names = sorted({d.name for d in result if d.name != candidate.name})
        if names:
            self._finder.prefetch(names)
        return result

    def get_dependencies(self, candidate: Candidate) -> Iterable[ResolverRequirement]:
        return self.dependencies(candidate)

    def extra_is_provided(self, candidate: Candidate) -> bool:
        """Whether the release declares ``candidate.extra`` (or its metadata uses it)."""
        if candidate.extra is None:
            return True
        metadata = self.metadata(candidate.file)
        if candidate.extra in metadata.provides_extra:
            return True
        return len(self.dependencies(candidate)) > 1

    def _depth(
        self,
        identifier: str,
        information: Mapping[str, Iterator[Information]],
        visiting: frozenset[str] = frozenset(),
    ) -> float:
        """How far ``identifier`` is from the top-level requirements (1 for those)."""
        if identifier not in information or identifier in visiting:
            return self._depths.get(identifier, math.inf)
        depth = math.inf
        for info in information[identifier]:
            if info.parent is None:
                depth = 1.0
                break
            parent = info.parent.identifier
            known = self._depths.get(parent)
            if known is None:
                known = self._depth(parent, information, visiting | {identifier})
            depth = min(depth, known + 1)
        self._depths[identifier] = depth
        return depth

    def get_preference(
        self,
        identifier: str,
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[Information]],
        backtrack_causes: Sequence[Information],
    ) -> Preference:
        infos = list(information[identifier]) if identifier in information else []
        specifiers = [info.requirement.specifier for info in infos]
        pinned = any(is_pinned(s) for s in specifiers)
        upper_bounded = any(is_upper_bounded(s) for s in specifiers)
        unfree = any(len(s) for s in specifiers)
        depth = self._depth(identifier, information)
        return (not pinned, depth, not upper_bounded, not unfree, identifier)

    def narrow_requirement_selection(
        self,
        identifiers: Iterable[str],
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[Information]],
        backtrack_causes: Sequence[Information],
    ) -> Iterable[str]:
        causes: set[str] = set()
        for cause in backtrack_causes:
            causes.add(cause.requirement.identifier)
            if cause.parent is not None:
                causes.add(cause.parent.identifier)
        identifiers = list(identifiers)
        narrowed = [i for i in identifiers if i in causes]
        return narrowed or identifiers
