"""Finding an interpreter for a request: ``3.12``, ``>=3.10``, ``pypy3.10``, a path, or none.

Candidates come from PATH (version-manager shim folders are skipped for version requests:
their real folders are searched directly) and then the usual version-manager folders: pyenv,
uv, asdf and GitHub Actions' tool cache. Only candidates whose names admit the request are
probed, and probes are cached (``interpreter.probe``).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from toolcache.errors import InterpreterNotFound, InterpreterProbeFailed, ToolcacheError
from toolcache.interpreter import Interpreter, absolute_path, path_key, probe

if TYPE_CHECKING:
    from packaging.version import Version


# --- requests ----------------------------------------------------------------------------------

ACCEPTED_REQUESTS = (
    "a path (/usr/bin/python3, ./venv/bin/python, ~/py/bin/python), a version (3, 3.12, 3.12.1), "
    "a specifier (>=3.10, >=3.10,<3.13), an implementation with an optional version "
    "(cpython3.12, cp312, cpython@3.12, pypy, pypy3.10, pypy@3.10)"
)
_IMPLEMENTATIONS = {"cpython": "cpython", "cp": "cpython", "pypy": "pypy", "pp": "pypy"}
_REQUEST = re.compile(r"(?:(?P<impl>cpython|cp|pypy|pp)@?)?(?P<version>.*)")


@dataclass(frozen=True)
class PythonRequest:
    """A parsed interpreter request.

    Exactly one of: ``path`` (probe that file), ``default`` (``python3`` then ``python`` on
    PATH), or a version request: ``implementation`` (``cpython``/``pypy``, None for any with
    CPython preferred) and ``specifier`` (PEP 440 text, ``""`` for any). ``exact`` marks the
    version-number forms (``3.12``): the first match on PATH wins, else the highest patch in
    version folders. For a specifier the highest match wins, PATH first on ties.
    """

    text: str
    path: Path | None = None
    default: bool = False
    implementation: str | None = None
    specifier: str = ""
    exact: bool = False

    def matches(self, interpreter: Interpreter) -> bool:
        if self.implementation and interpreter.implementation_name != self.implementation:
            return False
        if not self.specifier:
            return True
        from packaging.specifiers import SpecifierSet

        specifier = SpecifierSet(self.specifier)
        return specifier.contains(interpreter.python_full_version, prereleases=True)

    def plausible(self, implementation: str | None, version: tuple[int, ...]) -> bool:
        """Whether a file named for ``implementation``/``version`` (partial) may match."""
        if self.implementation and implementation and implementation != self.implementation:
            return False
        if not self.specifier or not version:
            return True
        from packaging.specifiers import SpecifierSet

        specifier = SpecifierSet(self.specifier)
        if len(version) >= 3:
            candidates = [".".join(map(str, version[:3]))]
        elif len(version) == 2:
            candidates = [f"{version[0]}.{version[1]}.{micro}" for micro in range(100)]
        else:
            candidates = [f"{version[0]}.{minor}.0" for minor in range(100)]
            candidates += [f"{version[0]}.{minor}.99" for minor in range(100)]
        return any(specifier.contains(v, prereleases=True) for v in candidates)


def _version_specifier(text: str) -> str:
    """``3`` → ``==3.*``, ``3.12`` → ``==3.12.*``, ``3.12.1`` → ``==3.12.1``."""
    return f"=={text}" if text.count(".") == 2 else f"=={text}.*"


def parse_request(text: str | None) -> PythonRequest:
    """Parse a request string; a ToolcacheError names the accepted forms."""
    if text is None:
        return PythonRequest(text="python3", default=True)
    stripped = text.strip()
    separators = {os.sep, os.altsep or os.sep}
    operator = stripped.startswith(("~=", "==", "!=", "<", ">"))
    if not operator and (stripped.startswith(("~", ".")) or any(s in stripped for s in separators)):
        return PythonRequest(text=text, path=Path(stripped).expanduser())
    match = _REQUEST.fullmatch(stripped.lower())
    assert match is not None  # the pattern matches any string
    implementation = _IMPLEMENTATIONS.get(match.group("impl") or "")
    version = match.group("version")
    if not version and implementation:
        return PythonRequest(text=text, implementation=implementation)
    if implementation and re.fullmatch(r"\d+", version):
        version = f"{version[0]}.{version[1:]}" if len(version) > 1 else version
    if re.fullmatch(r"\d+(\.\d+){0,2}", version) and (
        implementation or version.count(".") or len(version) == 1
    ):
        return PythonRequest(
            text=text,
            implementation=implementation,
            specifier=_version_specifier(version),
            exact=True,
        )
    if version[:1] in {"<", ">", "=", "!", "~"}:
        from packaging.specifiers import InvalidSpecifier, SpecifierSet

        try:
            specifier = str(SpecifierSet(version))
        except InvalidSpecifier:
            pass
        else:
            return PythonRequest(text=text, implementation=implementation, specifier=specifier)
    raise ToolcacheError(f"invalid Python request {text!r}: expected {ACCEPTED_REQUESTS}")


# --- discovery ---------------------------------------------------------------------------------

#: Searched after PATH and the version-manager folders.
SYSTEM_DIRS: tuple[Path, ...] = (Path("/usr/bin"), Path("/usr/local/bin"))
_EXE = ".exe" if sys.platform == "win32" else ""
_NAME = re.compile(r"(?P<impl>python|pypy)(?P<version>\d+(?:\.\d+)?)?" + re.escape(_EXE))
_FOLDER = re.compile(
    r"(?:(?P<impl>cpython|pypy)-?)?(?P<version>\d+\.\d+(?:\.\d+)?)(?:(?:a|b|rc)\d+)?(?:-.*)?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _Candidate:
    path: Path
    on_path: bool
    implementation: str | None  # read from the name; None when unknown (``python``)
    version: tuple[int, ...]  # read from the name; partial or empty


def _name_rank(implementation: str, version: str | None) -> tuple[bool, bool, bool]:
    """Within one directory: ``python3``, ``python``, ``python3.X``, then the same for pypy.

    The plain names come first so that ``3`` means what typing ``python3`` gives.
    """
    return implementation == "pypy", bool(version and "." in version), not version


def _dir_candidates(directory: Path, *, on_path: bool) -> list[_Candidate]:
    found: list[tuple[tuple[bool, bool, bool], _Candidate]] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return []
    for entry in entries:
        match = _NAME.fullmatch(entry.name)
        if not match or not entry.is_file() or not os.access(entry.path, os.X_OK):
            continue
        version = match.group("version")
        implementation = "pypy" if match.group("impl") == "pypy" else None
        parts = tuple(int(p) for p in version.split(".")) if version else ()
        candidate = _Candidate(Path(entry.path), on_path, implementation, parts)
        found.append((_name_rank(match.group("impl"), version), candidate))
    found.sort(key=lambda item: (item[0], item[1].path.name))
    return [candidate for _, candidate in found]


def _shim_dirs() -> set[str]:
    """Version-manager shim folders: they run whichever version is active, uncached and slow."""
    home = Path.home()
    pyenv = Path(os.environ.get("PYENV_ROOT") or home / ".pyenv")
    asdf = Path(os.environ.get("ASDF_DATA_DIR") or home / ".asdf")
    shims = [pyenv / "shims", asdf / "shims", *pyenv.glob("plugins/*/shims")]
    return {path_key(p) for p in shims}


def _path_dirs() -> list[Path]:
    return [Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p]


def _version_folders() -> Iterator[tuple[Path, str | None, tuple[int, ...]]]:
    """``(bin dir, implementation, version)`` of each install a version manager made."""
    home = Path.home()
    tool_cache = os.environ.get("RUNNER_TOOL_CACHE")
    roots: list[tuple[Path, str, str | None]] = [
        (Path(os.environ.get("PYENV_ROOT") or home / ".pyenv") / "versions", "*/bin", None),
        (
            Path(os.environ.get("UV_PYTHON_INSTALL_DIR") or home / ".local/share/uv/python"),
            "*/bin",
            None,
        ),
        (
            Path(os.environ.get("ASDF_DATA_DIR") or home / ".asdf") / "installs/python",
            "*/bin",
            None,
        ),
    ]
    for base in dict.fromkeys([tool_cache, "/opt/hostedtoolcache"]):
        if base:
            roots.append((Path(base) / "Python", "*/*/bin", "cpython"))
            roots.append((Path(base) / "PyPy", "*/*/bin", "pypy"))
    for root, pattern, implementation in roots:
        for bin_dir in sorted(root.glob(pattern)):
            folder = bin_dir.relative_to(root).parts[0]
            match = _FOLDER.fullmatch(folder)
            if not match:
                continue
            named = (match.group("impl") or "").lower() or None
            impl = implementation or ("pypy" if named == "pypy" else "cpython")
            yield bin_dir, impl, tuple(int(p) for p in match.group("version").split("."))


def _folder_candidates() -> list[_Candidate]:
    found: list[_Candidate] = []
    for bin_dir, implementation, version in _version_folders():
        for name in ("python3", "python", "pypy3", "pypy"):
            exe = bin_dir / f"{name}{_EXE}"
            if exe.is_file():
                found.append(_Candidate(exe, False, implementation, version))
                break
    return found


def _default(request: PythonRequest, cache_root: Path) -> Interpreter:
    for directory in _path_dirs():
        for name in ("python3", "python"):
            exe = directory / f"{name}{_EXE}"
            if exe.is_file() and os.access(exe, os.X_OK):
                return probe(exe, cache_root)
    raise InterpreterNotFound("python3", "neither python3 nor python is on PATH")


class _Search:
    """One discovery run: probes candidates once each, remembers what it saw for errors."""

    def __init__(self, request: PythonRequest, cache_root: Path) -> None:
        self.request = request
        self.cache_root = cache_root
        self.seen: dict[str, Interpreter | None] = {}
        self.failures: list[str] = []
        self.unprobed: set[str] = set()

    def check(self, candidate: _Candidate) -> Interpreter | None:
        """The candidate's interpreter if it matches the request, else None."""
        key = path_key(candidate.path)
        if key in self.seen:
            return None  # already considered under this path
        if not self.request.plausible(candidate.implementation, candidate.version):
            if candidate.version:
                name = candidate.implementation or "cpython"
                self.unprobed.add(f"{name} {'.'.join(map(str, candidate.version))}")
            return None
        try:
            interpreter: Interpreter | None = probe(candidate.path, self.cache_root)
        except InterpreterProbeFailed as e:
            self.failures.append(str(e))
            interpreter = None
        self.seen[key] = interpreter
        return interpreter if interpreter and self.request.matches(interpreter) else None

    def not_found(self) -> InterpreterNotFound:
        versions = {
            f"{i.implementation_name} {i.python_full_version}" for i in self.seen.values() if i
        }
        versions |= {
            label for label in self.unprobed if not any(v.startswith(label) for v in versions)
        }
        detail = (
            "found " + ", ".join(sorted(versions, key=_label_key))
            if versions
            else "no Python found"
        )
        detail += " on PATH or in version-manager folders"
        if self.failures:
            detail += f"; {len(self.failures)} could not be probed, e.g. {self.failures[0]}"
        return InterpreterNotFound(self.request.text, detail)


def _label_key(label: str) -> tuple[str, tuple[int, ...]]:
    """Sort ``cpython 3.9.18`` before ``cpython 3.10.13``."""
    name, _, version = label.partition(" ")
    return name, tuple(int(part) for part in re.findall(r"\d+", version))


def _rank(interpreter: Interpreter) -> tuple[bool, bool, Version]:
    from packaging.version import Version

    version = Version(interpreter.python_full_version)
    return interpreter.implementation_name == "cpython", not version.is_prerelease, version


def _candidates() -> tuple[list[_Candidate], list[_Candidate], list[_Candidate]]:
    """Candidates on PATH (shim folders skipped), in version folders (best first), system."""
    shims = _shim_dirs()
    on_path = [
        candidate
        for directory in _path_dirs()
        if path_key(directory) not in shims
        for candidate in _dir_candidates(directory, on_path=True)
    ]
    folders = sorted(
        _folder_candidates(),
        key=lambda c: (c.implementation == "cpython", c.version),
        reverse=True,
    )
    system = [c for d in SYSTEM_DIRS for c in _dir_candidates(d, on_path=False)]
    return on_path, folders, system


def find_interpreter(request: str | None, cache_root: Path) -> Interpreter:
    """The interpreter a request names.

    ``None`` is whatever ``python3`` (else ``python``) is first on PATH: the interpreter the
    user gets by typing it, shims included. Paths are probed as they are. Version requests look
    on PATH (``pythonX.Y``, ``python3``, ``python``, ``pypy3.X``, ``pypy3``, ``pypy``; version-
    manager shim folders are skipped because their folders are searched directly), then in
    pyenv, uv, asdf and GitHub Actions tool-cache folders, then ``SYSTEM_DIRS``. Only
    candidates whose names admit the request are probed. Without an implementation, CPython
    is preferred over others. Raises InterpreterNotFound (listing what was found),
    InterpreterProbeFailed for a broken path, ToolcacheError for a malformed request.
    """
    parsed = parse_request(request)
    if parsed.default:
        return _default(parsed, cache_root)
    if parsed.path is not None:
        exe = absolute_path(parsed.path)
        try:
            exists = exe.exists()
        except OSError as exc:  # a path too long for the file system, say
            raise InterpreterNotFound(
                parsed.text, f"{exe} cannot be used ({exc.strerror})"
            ) from None
        if not exists:
            raise InterpreterNotFound(parsed.text, f"{exe} does not exist")
        if exe.is_dir():
            raise InterpreterNotFound(parsed.text, f"{exe} is a directory, not an interpreter")
        return probe(exe, cache_root)

    search = _Search(parsed, cache_root)
    on_path, folders, system = _candidates()
    matches: list[Interpreter] = []
    for candidate in on_path:
        found = search.check(candidate)
        if found and parsed.exact and (parsed.implementation or _rank(found)[0]):
            return found  # first on PATH wins for a version number
        if found:
            matches.append(found)
    for candidate in [*folders, *system]:
        found = search.check(candidate)
        if found:
            matches.append(found)
            if found.implementation_name == "cpython" or parsed.implementation:
                break  # folders are sorted best first; PATH matches may still rank higher
    if not matches:
        raise search.not_found()
    # For a version number, only fallbacks got here (no CPython on PATH): rank them too.
    return max(matches, key=_rank)  # max keeps the first of equals: PATH before folders
