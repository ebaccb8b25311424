"""Finding an interpreter for a request: ``3.12``, ``>=3.10``, ``pypy3.10``, a path, or none.

Candidates come from PATH (version-manager shim folders are skipped for version requests:
their real folders are searched directly), then the folders where uv, pyenv, asdf, Homebrew,
python.org's installers and GitHub Actions' tool cache put Pythons, then the system folders.
Which folders those are on this operating system is ``toolcache.host``'s answer; the order is
``find_interpreter``'s docstring. Only candidates whose names admit the request are probed,
never one the host refuses to run, and probes are cached (``interpreter.probe``).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from toolcache import host as host_mod
from toolcache.errors import InterpreterNotFound, InterpreterProbeFailed, ToolcacheError
from toolcache.host import SOURCES, Host
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

_FOLDER = re.compile(
    r"(?:(?P<impl>cpython|pypy|python@)-?)?(?P<version>\d+\.\d+(?:\.\d+)?)(?:(?:a|b|rc)\d+)?(?:-.*)?",
    re.IGNORECASE,
)
#: The rank of PATH and system-folder candidates among ``host.SOURCES``: after all of them.
_NO_SOURCE = len(SOURCES)


@functools.cache
def _name_pattern(exe_suffix: str) -> re.Pattern[str]:
    return re.compile(r"(?P<impl>python|pypy)(?P<version>\d+(?:\.\d+)?)?" + re.escape(exe_suffix))


@dataclass(frozen=True)
class _Candidate:
    path: Path
    implementation: str | None  # read from the name; None when unknown (``python``)
    version: tuple[int, ...]  # read from the name; partial or empty
    source: int = _NO_SOURCE  # index in ``host.SOURCES`` of the folder it was found in


def _name_rank(implementation: str, version: str | None) -> tuple[bool, bool, bool]:
    """Within one directory: ``python3``, ``python``, ``python3.X``, then the same for pypy.

    The plain names come first so that ``3`` means what typing ``python3`` gives.
    """
    return implementation == "pypy", bool(version and "." in version), not version


def _dir_candidates(directory: Path, host: Host) -> list[_Candidate]:
    found: list[tuple[tuple[bool, bool, bool], _Candidate]] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return []
    pattern = _name_pattern(host.exe_suffix)
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if not match or not entry.is_file() or not os.access(entry.path, os.X_OK):
            continue
        version = match.group("version")
        implementation = "pypy" if match.group("impl") == "pypy" else None
        parts = tuple(int(p) for p in version.split(".")) if version else ()
        candidate = _Candidate(Path(entry.path), implementation, parts)
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


def _version_folders(host: Host) -> Iterator[tuple[Path, str, tuple[int, ...], int]]:
    """``(bin dir, implementation, version, source rank)`` of each install found in the
    host's interpreter roots (see ``Host.interpreter_roots``)."""
    for root in host.interpreter_roots(os.environ, Path.home()):
        for bin_dir in sorted(root.path.glob(root.pattern)):
            folder = bin_dir.relative_to(root.path).parts[0]
            match = _FOLDER.fullmatch(folder)
            if not match:
                continue  # ``Current``, a free-threaded build, something else
            named = (match.group("impl") or "").lower() or None
            impl = root.implementation or ("pypy" if named == "pypy" else "cpython")
            version = tuple(int(p) for p in match.group("version").split("."))
            yield bin_dir, impl, version, SOURCES.index(root.source)


def _folder_candidates(host: Host) -> list[_Candidate]:
    found: list[_Candidate] = []
    for bin_dir, implementation, version, source in _version_folders(host):
        versioned = ".".join(map(str, version[:2]))
        # Homebrew's opt/python@X.Y/bin has python3.X only, unless X.Y is its default.
        for name in ("python3", "python", f"python{versioned}", "pypy3", "pypy"):
            exe = bin_dir / host.executable(name)
            if exe.is_file():
                found.append(_Candidate(exe, implementation, version, source))
                break
    return found


def _default(request: PythonRequest, cache_root: Path, host: Host) -> Interpreter:
    refused: list[str] = []
    for directory in _path_dirs():
        for name in ("python3", "python"):
            exe = directory / host.executable(name)
            if exe.is_file() and os.access(exe, os.X_OK):
                reason = host.refuses(exe, os.environ)
                if reason is None:
                    return probe(exe, cache_root)
                refused.append(reason)
    detail = "neither python3 nor python is on PATH"
    if refused:
        detail = f"no python3 or python on PATH can be used: {refused[0]}"
    raise InterpreterNotFound(request.text, detail)


class _Search:
    """One discovery run: probes candidates once each, remembers what it saw for errors."""

    def __init__(self, request: PythonRequest, cache_root: Path, host: Host) -> None:
        self.request = request
        self.cache_root = cache_root
        self.host = host
        self.seen: dict[str, Interpreter | None] = {}
        self.failures: list[str] = []
        self.refused: list[str] = []
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
        reason = self.host.refuses(candidate.path, os.environ)
        if reason is not None:
            self.refused.append(reason)
            self.seen[key] = None
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
        if self.refused:
            detail += f"; not run: {self.refused[0]}"
        return InterpreterNotFound(self.request.text, detail)

    def in_folders(self, folders: list[_Candidate]) -> tuple[list[Interpreter], bool]:
        """Matches among version folders (sorted best first by the version in their names),
        in order of preference, and whether one settles the search (a CPython, or any when
        an implementation was asked for).

        After the first settling match only folders of its ``X.Y`` are still probed: one of
        them may hold a higher patch release, since ``python@3.12`` and python.org's ``3.12``
        name none. They come in ``SOURCES`` order, so that among equal versions (``max``
        keeps the first of equals) uv's wins over pyenv's, Homebrew's, python.org's..."""
        matches: list[tuple[int, Interpreter]] = []
        line: tuple[int, int] | None = None
        for candidate in folders:
            if line is not None and candidate.version[:2] != line:
                break
            found = self.check(candidate)
            if found is None:
                continue
            matches.append((candidate.source, found))
            if line is None and (
                found.implementation_name == "cpython" or self.request.implementation
            ):
                line = found.version
        matches.sort(key=lambda match: match[0])
        return [found for _, found in matches], line is not None


def _label_key(label: str) -> tuple[str, tuple[int, ...]]:
    """Sort ``cpython 3.9.18`` before ``cpython 3.10.13``."""
    name, _, version = label.partition(" ")
    return name, tuple(int(part) for part in re.findall(r"\d+", version))


def _rank(interpreter: Interpreter) -> tuple[bool, bool, Version]:
    from packaging.version import Version

    version = Version(interpreter.python_full_version)
    return interpreter.implementation_name == "cpython", not version.is_prerelease, version


def _candidates(host: Host) -> tuple[list[_Candidate], list[_Candidate], list[_Candidate]]:
    """Candidates on PATH (shim folders skipped), in version folders (best first), then in
    the host's late PATH folders (in PATH order) and system folders."""
    shims = _shim_dirs()
    late = {path_key(host.path(d)) for d in host.late_path_dirs}
    on_path: list[_Candidate] = []
    late_on_path: list[_Candidate] = []
    for directory in _path_dirs():
        key = path_key(directory)
        if key not in shims:
            (late_on_path if key in late else on_path).extend(_dir_candidates(directory, host))
    folders = sorted(
        _folder_candidates(host),
        key=lambda c: (c.implementation == "cpython", c.version, -c.source),
        reverse=True,
    )
    system = [c for d in host.system_dirs for c in _dir_candidates(host.path(d), host)]
    return on_path, folders, [*late_on_path, *system]


def find_interpreter(
    request: str | None, cache_root: Path, *, host: Host | None = None
) -> Interpreter:
    """The interpreter a request names, on ``host`` (this machine's by default).

    ``None`` is whatever ``python3`` (else ``python``) is first on PATH: the interpreter the
    user gets by typing it, shims included. Paths are probed as they are. Version requests look:

    1. on PATH (``pythonX.Y``, ``python3``, ``python``, ``pypy3.X``, ``pypy3``, ``pypy``;
       version-manager shim folders are skipped because their folders are searched directly,
       and on macOS ``/usr/bin`` waits for step 3): for a version number the first match wins;
    2. in version folders (``Host.interpreter_roots``): uv, pyenv, asdf, Homebrew's
       ``opt/python@X.Y``, python.org's framework builds, GitHub Actions' tool cache. The
       highest version wins; among equal versions, the source listed first;
    3. only when no folder matched: the late PATH folders, then the host's system folders
       (macOS: ``/opt/homebrew/bin``, ``/usr/local/bin``, ``/usr/bin``).

    Only candidates whose names admit the request are probed, and never one the host refuses
    to run (Apple's ``/usr/bin/python3`` stub without the Command Line Tools). Without an
    implementation, CPython is preferred over others; between equal matches, PATH wins.
    Raises InterpreterNotFound (listing what was found), InterpreterProbeFailed for a broken
    path, ToolcacheError for a malformed request.
    """
    host = host or host_mod.current()
    parsed = parse_request(request)
    if parsed.default:
        return _default(parsed, cache_root, host)
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
        reason = host.refuses(exe, os.environ)
        if reason is not None:
            raise InterpreterNotFound(parsed.text, reason)
        return probe(exe, cache_root)

    search = _Search(parsed, cache_root, host)
    on_path, folders, system = _candidates(host)
    matches: list[Interpreter] = []
    for candidate in on_path:
        found = search.check(candidate)
        if found and parsed.exact and (parsed.implementation or _rank(found)[0]):
            return found  # first on PATH wins for a version number
        if found:
            matches.append(found)
    in_folders, settled = search.in_folders(folders)
    matches.extend(in_folders)
    if not settled:
        for candidate in system:
            found = search.check(candidate)
            if found:
                matches.append(found)
                if found.implementation_name == "cpython" or parsed.implementation:
                    break
    if not matches:
        raise search.not_found()
    # For a version number, only fallbacks got here (no CPython on PATH): rank them too.
    return max(matches, key=_rank)  # max keeps the first of equals: PATH, then folders
