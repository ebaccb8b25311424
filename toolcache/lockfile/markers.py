"""The shortest marker that holds on exactly some of a lock's targets.

A package release used by some targets only gets a ``marker`` in the lock. Over the lock's
targets it must hold exactly where the release is used; off them it does not matter (an
interpreter no target covers is refused before packages are looked at). So the simplest of
``sys_platform == 'win32'``, ``python_version < '3.11'``, a conjunction or disjunction of two such
atoms, or, failing all, the disjunction of the targets' own markers, is chosen: each candidate
is checked against every target, so the result is right by construction.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from packaging.version import Version

from toolcache.lockfile.targets import LockTarget

_VARIABLES = ("implementation_name", "sys_platform", "platform_machine")


def _atoms(targets: Sequence[LockTarget]) -> list[tuple[str, int]]:
    """Candidate atoms with the set of targets (as a bit mask) each holds on."""
    everything = (1 << len(targets)) - 1
    atoms: list[tuple[str, int]] = []
    for variable in _VARIABLES:
        for value in sorted({t.target.markers[variable] for t in targets}):
            same = _mask(targets, [t.target.markers[variable] == value for t in targets])
            atoms.append((f"{variable} == '{value}'", same))
            atoms.append((f"{variable} != '{value}'", everything & ~same))
    versions = sorted({t.python for t in targets})
    for version in versions:
        text = f"{version[0]}.{version[1]}"
        if version != versions[0]:
            below = _mask(targets, [t.python < version for t in targets])
            atoms.append((f"python_version < '{text}'", below))
            atoms.append((f"python_version >= '{text}'", everything & ~below))
    for version in versions:
        text = f"{version[0]}.{version[1]}"
        atoms.append(
            (f"python_version == '{text}'", _mask(targets, [t.python == version for t in targets]))
        )
    return atoms


def _mask(targets: Sequence[LockTarget], holds: Sequence[bool]) -> int:
    return sum(1 << i for i in range(len(targets)) if holds[i])


def marker_for(used: Sequence[LockTarget], targets: Sequence[LockTarget]) -> str | None:
    """A marker that holds on the targets in ``used`` and on no other of ``targets``; None
    when ``used`` is all of them."""
    ordered = sorted(set(targets))
    index = {t: i for i, t in enumerate(ordered)}
    want = sum(1 << index[t] for t in set(used))
    if want == (1 << len(ordered)) - 1:
        return None
    atoms = _atoms(ordered)
    for text, mask in atoms:
        if mask == want:
            return text
    for (a, ma), (b, mb) in itertools.combinations(atoms, 2):
        if ma & mb == want:
            return f"{a} and {b}"
    for (a, ma), (b, mb) in itertools.combinations(atoms, 2):
        if ma | mb == want:
            return f"{a} or {b}"
    return " or ".join(f"({t.marker})" for t in sorted(set(used)))


def requires_python(targets: Sequence[LockTarget]) -> str:
    """``>=X.Y`` for the oldest Python among ``targets``."""
    oldest = min(t.python for t in targets)
    return f">={Version(f'{oldest[0]}.{oldest[1]}')}"
