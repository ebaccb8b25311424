"""What a resolution is for: a PEP 508 marker environment and the wheel tags it accepts.

A ``Target`` is built either from a probed interpreter (``interpreter.py``) or from a
``--python-version``/``--platform`` request for a machine that is not this one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from packaging.markers import Marker, UndefinedComparison, UndefinedEnvironmentName
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag
from packaging.version import Version


@dataclass(frozen=True)
class Target:
    """A resolution target.

    ``markers`` is the full PEP 508 marker environment (``python_version``,
    ``python_full_version``, ``sys_platform``, ``platform_machine``, ...). ``tags`` are the wheel
    tags the target accepts, best first, as ``packaging.tags.sys_tags()`` would order them.
    """

    markers: Mapping[str, str]
    tags: tuple[Tag, ...]
    #: Only ``X.Y`` was asked for (a described target): like uv, a ``requires-python`` that
    #: only excludes single patch releases (``!=3.9.0, !=3.9.1``) still fits ``X.Y``.
    any_patch: bool = False
    _rank: dict[Tag, int] = field(init=False, repr=False, compare=False, hash=False)
    _ranks: dict[frozenset[Tag], int | None] = field(
        init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        rank: dict[Tag, int] = {}
        for i, tag in enumerate(self.tags):
            rank.setdefault(tag, i)
        object.__setattr__(self, "_rank", rank)
        object.__setattr__(self, "_ranks", {})

    @cached_property
    def python_full_version(self) -> Version:
        return Version(self.markers["python_full_version"])

    def marker_matches(self, marker: Marker | None, extra: str = "") -> bool:
        """Whether ``marker`` holds on the target with ``extra`` set; no marker holds.

        A marker that cannot be evaluated (a version comparison on a non-version) does not hold.
        """
        if marker is None:
            return True
        try:
            return marker.evaluate({**self.markers, "extra": extra})
        except (UndefinedComparison, UndefinedEnvironmentName):
            return False

    def allows_python(self, requires_python: SpecifierSet) -> bool:
        """Whether ``requires-python`` admits the target's Python (prereleases included).

        For a target given as ``X.Y`` only, uv's rule: what counts is the lower bound, so
        exclusions of single releases above it do not matter: ``>=3.8,!=3.9.0,!=3.9.1`` fits
        ``3.9`` while ``>=3.9,!=3.9.0`` (whose lower bound is above 3.9.0) does not.
        """
        version = self.python_full_version
        if not self.any_patch:
            return requires_python.contains(version, prereleases=True)
        exclusions = [
            s for s in requires_python if s.operator == "!=" and not s.version.endswith(".*")
        ]
        base = SpecifierSet(",".join(str(s) for s in requires_python if s not in exclusions))
        if not base.contains(version, prereleases=True):
            return False
        lowers = [
            Version(s.version)
            for s in base
            if s.operator in (">=", "==", "~=", "===") and not s.version.endswith(".*")
        ]
        at_floor = bool(lowers) and max(lowers) == version
        return not (at_floor and any(Version(s.version) == version for s in exclusions))

    def tag_rank(self, tags: frozenset[Tag]) -> int | None:
        """The rank of the best of ``tags`` (0 is best), or None if none is supported."""
        try:
            return self._ranks[tags]
        except KeyError:
            ranks = [self._rank[t] for t in tags if t in self._rank]
            best = self._ranks[tags] = min(ranks) if ranks else None
            return best
