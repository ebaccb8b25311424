"""What a resolution is for: a PEP 508 marker environment and the wheel tags it accepts.

A ``Target`` is built either from a probed interpreter (``interpreter.py``) or from a
``--python-version``/``--platform`` request for a machine that is not this one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

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
    _rank: dict[Tag, int] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        rank: dict[Tag, int] = {}
        for i, tag in enumerate(self.tags):
            rank.setdefault(tag, i)
        object.__setattr__(self, "_rank", rank)

    @cached_property
    def python_full_version(self) -> Version:
        return Version(self.markers["python_full_version"])

    def tag_rank(self, tags: frozenset[Tag]) -> int | None:
        """The rank of the best of ``tags`` (0 is best), or None if none is supported."""
        ranks = [self._rank[t] for t in tags if t in self._rank]
        return min(ranks) if ranks else None
