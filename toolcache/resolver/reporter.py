"""A resolvelib reporter that hands progress to a callback and prints nothing."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from resolvelib import BaseReporter
from resolvelib.structs import RequirementInformation, State

from toolcache.resolver.candidates import Candidate, ResolverRequirement


@dataclass(frozen=True)
class Progress:
    """Where a resolution is: rounds done, identifiers pinned now, backtracks so far."""

    rounds: int
    pinned: int
    backtracks: int
    done: bool = False


ProgressCallback = Callable[[Progress], None]


class ProgressReporter(BaseReporter[ResolverRequirement, Candidate, str]):
    """Calls ``callback`` after every round and once at the end (with ``done=True``)."""

    def __init__(self, callback: ProgressCallback | None = None) -> None:
        self._callback = callback
        self.rounds = 0
        self.backtracks = 0

    def ending_round(self, index: int, state: State[ResolverRequirement, Candidate, str]) -> None:
        self.rounds = index + 1
        if self._callback is not None:
            self._callback(Progress(self.rounds, len(state.mapping), self.backtracks))

    def resolving_conflicts(
        self, causes: Collection[RequirementInformation[ResolverRequirement, Candidate]]
    ) -> None:
        self.backtracks += 1

    def ending(self, state: State[ResolverRequirement, Candidate, str]) -> None:
        if self._callback is not None:
            self._callback(Progress(self.rounds, len(state.mapping), self.backtracks, done=True))
