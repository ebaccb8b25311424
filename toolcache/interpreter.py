"""Interpreters: what a Python on this machine is, what it hashes to, and how to find one.

``probe()`` runs ``_probe.py`` inside an interpreter once and caches the answer beside the
interpreter file's identity (realpath, size, mtime), so later calls spawn nothing. The
interpreter hash and the supported wheel tags are computed when probing and stored in that
cache file: reading a cached ``Interpreter`` needs only the standard library.

``find_interpreter()`` turns a request (``3.12``, ``>=3.10``, ``pypy3.10``, a path, ...) into
an ``Interpreter``, looking on PATH and then in version-manager folders.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NewType

from toolcache import _probe, paths
from toolcache.errors import InterpreterNotFound, InterpreterProbeFailed, ToolcacheError

if TYPE_CHECKING:
    from packaging.version import Version

    from toolcache.platforms import Machine
    from toolcache.target import Target

InterpreterHash = NewType("InterpreterHash", str)

#: Version of the hashed JSON: bump it when what goes into the interpreter hash changes.
HASH_FORMAT = 1
#: Version of the cache files under ``paths.interpreter_cache_dir``.
CACHE_FORMAT = 1
PROBE_TIMEOUT = 30.0
MINIMUM_VERSION = (3, 8)


@dataclass(frozen=True)
class Interpreter:
    """A probed Python interpreter.

    ``executable`` is the path as found (absolute, symlinks kept); ``realpath`` is the file it
    resolves to. ``sys_executable``, ``prefix`` and ``base_prefix`` are what the interpreter
    itself reports (a venv's ``prefix`` is the venv). ``tags`` are the supported wheel tags,
    best first, exactly as ``packaging.tags.sys_tags()`` lists them inside that interpreter.
    ``hash`` is the full sha256 of ``hash_payload()``: see ``interpreter_hash``.
    """

    executable: Path
    realpath: Path
    implementation_name: str
    implementation_version: str
    python_full_version: str
    version_info: tuple[int, int, int, str, int]
    markers: Mapping[str, str] = field(hash=False)
    abiflags: str
    soabi: str | None
    sysconfig_platform: str
    pointer_bits: int
    libc: tuple[str, str] | None
    sys_executable: Path
    prefix: Path
    base_prefix: Path
    purelib: Path | None
    scripts: Path | None
    tags: tuple[str, ...] = field(repr=False)
    hash: InterpreterHash
    probe_data: Mapping[str, Any] = field(repr=False, compare=False, hash=False)

    @property
    def version(self) -> tuple[int, int]:
        return self.version_info[0], self.version_info[1]

    def interpreter_hash(self) -> InterpreterHash:
        """sha256 hex of what makes an environment built by this interpreter valid.

        Covers implementation and version, ABI flags, SOABI, free-threading and debug builds,
        pointer size, ``sys_platform``, ``platform_machine``, libc kind and version,
        ``sysconfig.get_platform()`` (which carries the macOS deployment target) and the tag
        list. Never paths, host names, kernel release or anything about the user, so the same
        interpreter on two machines or behind two paths hashes the same. ``hash[:16]`` is
        enough to name a directory.
        """
        return self.hash

    def target(self) -> Target:
        """The resolution target of this interpreter: its marker environment and tags."""
        from packaging.tags import Tag

        from toolcache.target import Target

        tags = tuple(Tag(*text.split("-")) for text in self.tags)
        return Target(markers=dict(self.markers), tags=tags)

    def describe(self) -> str:
        """``CPython 3.12.1 at /usr/bin/python3.12``."""
        name = self.markers.get("platform_python_implementation", self.implementation_name)
        return f"{name} {self.python_full_version} at {self.executable}"


# --- tags and hash from probe data -------------------------------------------------------------


def _major_minor(text: str | None) -> tuple[int, int] | None:
    match = re.match(r"(\d+)\.(\d+)", text or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def _machine(data: Mapping[str, Any]) -> Machine:
    from toolcache.platforms import Machine

    libc = data.get("libc") or {}
    elf = data.get("elf") or {}
    mac = data.get("mac") or {}
    flags = int(elf.get("flags") or 0)
    is_32bit_lsb = elf.get("class") == 1 and elf.get("data") == 1
    return Machine(
        system=data["markers"]["platform_system"],
        sysconfig_platform=data["sysconfig_platform"],
        pointer_bits=data["pointer_bits"],
        glibc=_major_minor(libc.get("version")) if libc.get("kind") == "glibc" else None,
        musl=_major_minor(libc.get("version")) if libc.get("kind") == "musl" else None,
        # packaging's manylinux ABI checks: EF_ARM_ABI_VER5 with hard float; EM_386.
        armhf=is_32bit_lsb
        and elf.get("machine") == 40
        and flags & 0xFF000000 == 0x05000000
        and flags & 0x400 == 0x400,
        i686=is_32bit_lsb and elf.get("machine") == 3,
        mac_version=_major_minor(mac.get("version")),
        mac_arch=mac.get("arch") or None,
    )


def compute_tags(data: Mapping[str, Any]) -> list[str]:
    """The tags ``sys_tags()`` gives inside the probed interpreter, best first, as strings."""
    from toolcache import platforms

    config = data["config"]
    version = (int(data["version_info"][0]), int(data["version_info"][1]))
    implementation = data["implementation_name"]
    if implementation == "cpython":
        py_debug = config.get("Py_DEBUG")
        debug = bool(py_debug) or (
            py_debug is None
            and (data["has_gettotalrefcount"] or "_d.pyd" in data["extension_suffixes"])
        )
        abis = platforms.cpython_abis(
            version, debug=debug, gil_disabled=bool(config.get("Py_GIL_DISABLED"))
        )
    else:
        abis = platforms.generic_abis(config.get("EXT_SUFFIX"))
    tags = platforms.supported_tags(
        implementation=implementation,
        python_version=version,
        interpreter_version=str(config.get("py_version_nodot") or f"{version[0]}{version[1]}"),
        abis=abis,
        platforms=platforms.platform_tags(_machine(data)),
    )
    return [str(tag) for tag in tags]


def hash_payload(data: Mapping[str, Any], tags: list[str]) -> dict[str, Any]:
    """The canonical, versioned content of the interpreter hash (see ``interpreter_hash``)."""
    markers = data["markers"]
    config = data["config"]
    libc = data.get("libc")
    mac = data.get("mac")
    return {
        "format": HASH_FORMAT,
        "implementation_name": data["implementation_name"],
        "implementation_version": data["implementation_version"],
        "python_full_version": data["python_full_version"],
        "abiflags": data["abiflags"],
        "soabi": config.get("SOABI"),
        "py_gil_disabled": bool(config.get("Py_GIL_DISABLED")),
        "py_debug": bool(config.get("Py_DEBUG")),
        "pointer_bits": data["pointer_bits"],
        "sys_platform": markers["sys_platform"],
        "platform_machine": markers["platform_machine"],
        "libc": [libc["kind"], libc["version"]] if libc else None,
        "mac_arch": mac["arch"] if mac else None,
        "sysconfig_platform": data["sysconfig_platform"],
        "tags": tags,
    }


def _hash(payload: Mapping[str, Any]) -> InterpreterHash:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return InterpreterHash(hashlib.sha256(text.encode()).hexdigest())


def _optional_path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _from_data(executable: Path, realpath: Path, entry: Mapping[str, Any]) -> Interpreter:
    data = entry["probe"]
    libc = data.get("libc")
    version_info = data["version_info"]
    return Interpreter(
        executable=executable,
        realpath=realpath,
        implementation_name=data["implementation_name"],
        implementation_version=data["implementation_version"],
        python_full_version=data["python_full_version"],
        version_info=(
            int(version_info[0]),
            int(version_info[1]),
            int(version_info[2]),
            str(version_info[3]),
            int(version_info[4]),
        ),
        markers=dict(data["markers"]),
        abiflags=data["abiflags"],
        soabi=data["config"].get("SOABI"),
        sysconfig_platform=data["sysconfig_platform"],
        pointer_bits=data["pointer_bits"],
        libc=(libc["kind"], libc["version"]) if libc else None,
        sys_executable=Path(data["executable"] or executable),
        prefix=Path(data["prefix"]),
        base_prefix=Path(data["base_prefix"]),
        purelib=_optional_path(data.get("purelib")),
        scripts=_optional_path(data.get("scripts")),
        tags=tuple(entry["tags"]),
        hash=InterpreterHash(entry["hash"]),
        probe_data=data,
    )


# --- probing and its cache ---------------------------------------------------------------------


def _packaging_version() -> str:
    import packaging  # only its small __init__: no tag code

    return str(packaging.__version__)


def _identity(executable: Path) -> dict[str, Any]:
    real = os.path.realpath(executable)
    st = Path(real).stat()
    return {
        "path": str(executable),
        "realpath": real,
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
    }


def _cache_file(executable: Path, cache_root: Path) -> Path:
    key = hashlib.sha256(os.fsencode(executable)).hexdigest()
    return paths.interpreter_cache_dir(cache_root) / f"{key}.json"


def _read_cache(file: Path) -> dict[str, Any] | None:
    try:
        entry = json.loads(file.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("format") != CACHE_FORMAT:
        return None
    return entry


def _write_cache(file: Path, entry: Mapping[str, Any]) -> None:
    """Write atomically: a temp file beside the target, then ``os.replace``."""
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(entry, sort_keys=True, indent=1), encoding="utf-8")
        tmp.replace(file)
    except OSError:
        tmp.unlink(missing_ok=True)  # a read-only cache only costs a re-probe next time


def _run_probe(executable: Path, timeout: float) -> dict[str, Any]:
    """Run ``_probe.py`` in ``executable``; its JSON, or InterpreterProbeFailed."""
    try:
        proc = subprocess.run(
            [str(executable), "-E", "-s", "-S", "-c", _probe.source()],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise InterpreterProbeFailed(
            f"cannot probe Python at {executable}: no answer within {timeout:g}s"
        ) from None
    except OSError as e:
        raise InterpreterProbeFailed(
            f"cannot probe Python at {executable}: {e.strerror or e}"
        ) from None
    try:
        data = json.loads(proc.stdout.decode("utf-8", "surrogateescape").strip() or "null")
    except ValueError:
        data = None
    if isinstance(data, dict) and data.get("too_old"):
        found = ".".join(str(part) for part in data["version_info"][:2])
        raise InterpreterProbeFailed(
            f"Python {found} at {executable} is too old: toolcache environments need 3.8 or newer"
        )
    if proc.returncode != 0 or not isinstance(data, dict) or data.get("probe") != 1:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = lines[-1].strip() if lines else f"exit status {proc.returncode}, no answer"
        raise InterpreterProbeFailed(
            f"cannot probe Python at {executable}: not a working Python 3 ({reason})"
        )
    return data


def _absolute(executable: Path) -> Path:
    """Absolute and normalised, symlinks kept."""
    return Path(os.path.normpath(executable.expanduser().absolute()))


def _key(path: Path) -> str:
    return os.path.normcase(_absolute(path))


def probe(executable: Path, cache_root: Path, *, timeout: float = PROBE_TIMEOUT) -> Interpreter:
    """The interpreter at ``executable``, from the cache when its file is unchanged.

    The cache file is keyed by the absolute path as given, not by its realpath: a venv's
    ``bin/python`` is a symlink to the base interpreter but reports a different ``prefix``.
    It holds the file identity (realpath, size, mtime_ns); any change re-probes. A wrapper
    (a pyenv shim, a launcher script) that runs some other interpreter is never cached under
    its own path, since what it runs can change without the wrapper changing; the interpreter
    it ran is cached under its own path instead.
    """
    executable = _absolute(executable)
    try:
        identity = _identity(executable)
    except OSError as e:
        raise InterpreterProbeFailed(
            f"cannot probe Python at {executable}: {e.strerror or e}"
        ) from None
    file = _cache_file(executable, cache_root)
    packaging_version = _packaging_version()
    entry = _read_cache(file)
    if entry is not None and entry.get("identity") == identity:
        if entry.get("packaging") == packaging_version:
            return _from_data(executable, Path(identity["realpath"]), entry)
        data = entry["probe"]  # same interpreter, newer tag code: recompute, don't spawn
    else:
        data = _run_probe(executable, timeout)
    tags = compute_tags(data)
    entry = {
        "format": CACHE_FORMAT,
        "identity": identity,
        "packaging": packaging_version,
        "hash": _hash(hash_payload(data, tags)),
        "tags": tags,
        "probe": data,
    }
    reported = _absolute(Path(data["executable"])) if data.get("executable") else executable
    if os.path.realpath(reported) == identity["realpath"]:
        _write_cache(file, entry)
    else:
        try:
            inner = {**entry, "identity": _identity(reported)}
        except OSError:
            pass
        else:
            _write_cache(_cache_file(reported, cache_root), inner)
    return _from_data(executable, Path(identity["realpath"]), entry)


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
    if stripped.startswith(("~", ".")) or any(s in stripped for s in separators):
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
    return {_key(p) for p in shims}


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
        key = _key(candidate.path)
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
        if _key(directory) not in shims
        for candidate in _dir_candidates(directory, on_path=True)
    ]
    folders = sorted(
        _folder_candidates(),
        key=lambda c: (c.implementation == "cpython", c.version),
        reverse=True,
    )
    system = [c for d in SYSTEM_DIRS for c in _dir_candidates(d, on_path=False)]
    return on_path, folders, system


def find_interpreter_with_hash(
    request: str | None, interpreter_hash: str, cache_root: Path
) -> Interpreter | None:
    """An interpreter that satisfies ``request`` and has exactly ``interpreter_hash``, if any.

    Used to keep the interpreter a lock was made for when several on the machine satisfy the
    request and another one happens to come first (PATH differs between a shell and a hook,
    for example), so the lock does not flip between them.
    """
    parsed = parse_request(request)
    if parsed.default or parsed.path is not None:
        return None  # these name one interpreter; there is nothing to choose between
    search = _Search(parsed, cache_root)
    on_path, folders, system = _candidates()
    for candidate in [*on_path, *folders, *system]:
        found = search.check(candidate)
        if found is not None and found.hash == interpreter_hash:
            return found
    return None


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
        exe = _absolute(parsed.path)
        if not exe.exists():
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
