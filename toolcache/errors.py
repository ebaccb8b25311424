"""The one root error and its kinds. Errors carry data; ``output`` formats them once.

Every ``ToolcacheError`` becomes one line (or one line per problem for a manifest) on stderr
and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


class ToolcacheError(Exception):
    """A failure the user can act on. ``str()`` is the message shown to them."""

    exit_code = 1


@dataclass(frozen=True)
class Problem:
    """One problem in a file, located by line (1-based; 0 when the file as a whole is wrong)."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


class ManifestError(ToolcacheError):
    """The manifest has one or more problems; all of them are reported at once."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class InterpreterNotFound(ToolcacheError):
    """No interpreter on this machine satisfies a request."""

    def __init__(self, request: str, detail: str = "") -> None:
        self.request = request
        message = f"no Python interpreter found for {request!r}"
        super().__init__(f"{message}: {detail}" if detail else message)


class InterpreterProbeFailed(ToolcacheError):
    """An interpreter exists but could not be probed (not Python, too old, broken)."""


class IndexError_(ToolcacheError):
    """The package index could not be reached or answered something unusable."""


class HashMismatch(ToolcacheError):
    """A downloaded file does not have the sha256 the index or the lock promised."""

    def __init__(self, what: str, expected: str, actual: str) -> None:
        self.what = what
        self.expected = expected
        self.actual = actual
        super().__init__(f"sha256 mismatch for {what}: expected {expected}, got {actual}")


class ResolutionError(ToolcacheError):
    """No set of packages satisfies the requirements; the message explains the conflict."""


class MetadataError(ToolcacheError):
    """A distribution's metadata could not be read or built."""


class LockError(ToolcacheError):
    """A lock file is missing, unreadable, or stale where that is not allowed."""
