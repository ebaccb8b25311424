"""The targets a lock covers: an implementation, a Python minor version and a platform.

A ``LockTarget`` stands for every interpreter of that kind: ``cpython-3.12-x86_64-manylinux_2_28``
covers CPython 3.12.0 to 3.12.x on any Linux x86_64 with glibc 2.28 or newer. Its PEP 508
``marker`` says so without the patch release or the libc (``python_version``, not
``python_full_version``), which is what lets one lock serve a whole team. Platforms are named as
``uv pip compile --python-platform`` names them.

Without ``environments:`` in the manifest a tool is locked for every platform in
``DEFAULT_PLATFORMS`` for each of the CPython minor versions in ``SUPPORTED_PYTHONS``
that its ``python`` request allows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from toolcache.errors import ToolcacheError

if TYPE_CHECKING:
    from toolcache.interpreter import Interpreter
    from toolcache.manifest import Environments
    from toolcache.target import Target

#: What a team typically runs on: Linux runners (x86_64 and arm64), both kinds of Mac,
#: Windows. glibc 2.28 is uv's default and what every maintained Linux distribution has.
DEFAULT_PLATFORMS = (
    "x86_64-manylinux_2_28",
    "aarch64-manylinux_2_28",
    "aarch64-apple-darwin",
    "x86_64-apple-darwin",
    "x86_64-pc-windows-msvc",
)
#: CPython releases that are not end-of-life, oldest first.
SUPPORTED_PYTHONS = ((3, 10), (3, 11), (3, 12), (3, 13), (3, 14))
#: PyPy's Python versions with current releases, for a ``pypy`` request without ``environments``.
PYPY_PYTHONS = ((3, 10), (3, 11))

_IMPLEMENTATIONS = {
    "": "cpython",
    "cp": "cpython",
    "cpython": "cpython",
    "pp": "pypy",
    "pypy": "pypy",
}
_PYTHON = re.compile(r"(?P<impl>cpython|cp|pypy|pp)?(?P<major>3)\.(?P<minor>\d+)")


@dataclass(frozen=True, order=True)
class LockTarget:
    """One covered kind of interpreter. ``platform`` is a canonical ``--python-platform``."""

    implementation: str  # "cpython" or "pypy"
    python: tuple[int, int]
    platform: str

    @property
    def python_text(self) -> str:
        version = f"{self.python[0]}.{self.python[1]}"
        return version if self.implementation == "cpython" else f"pypy{version}"

    @property
    def name(self) -> str:
        """``cpython-3.12-x86_64-manylinux_2_28``: the target's name in locks and messages."""
        return f"{self.implementation}-{self.python[0]}.{self.python[1]}-{self.platform}"

    @cached_property
    def target(self) -> Target:
        """Markers and tags for resolving: any patch release of the minor version."""
        from toolcache.platforms import target_for

        version = f"{self.python[0]}.{self.python[1]}"
        return target_for(version, self.platform, self.implementation)

    @cached_property
    def marker(self) -> str:
        """The PEP 508 marker an interpreter of this target satisfies."""
        m = self.target.markers
        return (
            f"implementation_name == '{m['implementation_name']}'"
            f" and python_version == '{m['python_version']}'"
            f" and sys_platform == '{m['sys_platform']}'"
            f" and platform_machine == '{m['platform_machine']}'"
        )

    def marker_key(self) -> tuple[str, str, str, str]:
        """What the marker can tell apart (not the libc): targets with one key share a marker."""
        m = self.target.markers
        return (
            m["implementation_name"],
            m["python_version"],
            m["sys_platform"],
            m["platform_machine"],
        )


def parse_python(text: str) -> tuple[str, tuple[int, int]]:
    """``"3.12"`` → ``("cpython", (3, 12))``, ``"pypy3.10"`` → ``("pypy", (3, 10))``."""
    match = _PYTHON.fullmatch(text.strip().lower())
    if not match:
        raise ToolcacheError(f"{text!r} is not a Python minor version like 3.12 or pypy3.10")
    implementation = _IMPLEMENTATIONS[match.group("impl") or ""]
    return implementation, (int(match.group("major")), int(match.group("minor")))


def canonical_platform(text: str) -> str:
    """The platform's canonical name (aliases such as ``linux`` resolved), or ToolcacheError."""
    from toolcache.platforms import canonical_platform_name

    return canonical_platform_name(text)


def parse(name: str) -> LockTarget:
    """A target from its ``name`` (as recorded in a lock)."""
    implementation, _, rest = name.partition("-")
    version, _, platform = rest.partition("-")
    impl, python = parse_python(("pypy" if implementation == "pypy" else "") + version)
    if impl != implementation or not platform:
        raise ToolcacheError(f"{name!r} is not a lock target name")
    return LockTarget(impl, python, canonical_platform(platform))


def _allowed(request: str | None, implementation: str, python: tuple[int, int]) -> bool:
    """Whether an interpreter request can be met by ``implementation`` ``python``.``x``."""
    from toolcache.discovery import parse_request

    parsed = parse_request(request)
    if parsed.path is not None or parsed.default:
        return True
    if parsed.implementation and parsed.implementation != implementation:
        return False
    return parsed.plausible(implementation, python)


def for_tool(request: str | None, environments: Environments | None) -> tuple[LockTarget, ...]:
    """The targets of a tool: its ``environments`` (or the defaults) narrowed to its request.

    A request naming a version (``python: "3.12"``, ``">=3.11"``, ``pypy3.10``) keeps only the
    Python versions it allows; a path or no request keeps them all. A PyPy request with no
    PyPy in ``environments`` gets that PyPy's own versions.
    """
    from toolcache.discovery import parse_request

    pythons: list[tuple[str, tuple[int, int]]]
    if environments is not None and environments.python is not None:
        pythons = [parse_python(p) for p in environments.python]
    else:
        pythons = [("cpython", v) for v in SUPPORTED_PYTHONS]
        parsed = parse_request(request)
        if parsed.implementation == "pypy":
            pythons = [("pypy", v) for v in PYPY_PYTHONS]
    platforms = (
        [canonical_platform(p) for p in environments.platforms]
        if environments is not None and environments.platforms is not None
        else list(DEFAULT_PLATFORMS)
    )
    kept = [p for p in pythons if _allowed(request, *p)]
    if not kept:
        wanted = ", ".join(sorted({python_text(i, v) for i, v in pythons}))
        raise ToolcacheError(
            f"python request {request!r} allows none of the lock's Python versions ({wanted})"
        )
    return tuple(sorted({LockTarget(i, v, p) for i, v in kept for p in platforms}))


def python_text(implementation: str, python: tuple[int, int]) -> str:
    """``3.12`` for CPython, ``pypy3.10`` for PyPy: how the manifest names a Python."""
    return LockTarget(implementation, python, "").python_text


def for_interpreter(interpreter: Interpreter) -> LockTarget:
    """The target to add to a lock so that it covers ``interpreter`` (an uncovered runner).

    Described, not copied: any patch release of its minor version, and on Linux glibc 2.28
    (or the interpreter's own glibc when older), so the lock stays the same whichever runner
    of that kind adds it.
    """
    from toolcache.platforms import platform_of

    implementation = interpreter.implementation_name
    if implementation not in ("cpython", "pypy"):
        raise ToolcacheError(f"{interpreter.describe()}: only CPython and PyPy can be locked for")
    return LockTarget(implementation, interpreter.version, platform_of(interpreter))


def names(targets: Iterable[LockTarget]) -> list[str]:
    return [t.name for t in sorted(targets)]


def describe(targets: Sequence[LockTarget]) -> str:
    """A short summary for messages: ``CPython 3.11, 3.12 on x86_64-manylinux_2_28, ...``."""
    pythons = sorted({(t.implementation, t.python) for t in targets})
    platforms = sorted({t.platform for t in targets})
    return (
        ", ".join(python_text(i, v) for i, v in pythons) + " on " + ", ".join(platforms)
        if targets
        else "nothing"
    )
