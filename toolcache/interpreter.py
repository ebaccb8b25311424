"""Interpreters: what a Python on this machine is, what it hashes to, and how to find one.

``probe()`` runs ``_probe.py`` inside an interpreter once and caches the answer beside the
interpreter file's identity (realpath, size, mtime), so later calls spawn nothing. The
interpreter hash and the supported wheel tags are computed when probing and stored in that
cache file: reading a cached ``Interpreter`` needs only the standard library.

Finding an interpreter for a request is ``discovery``'s job.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NewType

from toolcache import _probe, atomic, paths
from toolcache.errors import InterpreterProbeFailed

if TYPE_CHECKING:
    from toolcache.platforms import Machine
    from toolcache.target import Target

InterpreterHash = NewType("InterpreterHash", str)

#: Version of the hashed JSON: bump it when what goes into the interpreter hash changes.
HASH_FORMAT = 1
#: Version of the cache files under ``paths.interpreter_cache_dir``.
CACHE_FORMAT = 1
PROBE_TIMEOUT = 30.0


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

    @property
    def framework(self) -> str | None:
        """``PYTHONFRAMEWORK``: ``Python`` for a macOS framework build (python.org's,
        Homebrew's), ``""`` for any other build, None when the probe did not say."""
        value = self.probe_data.get("config", {}).get("PYTHONFRAMEWORK")
        return value if isinstance(value, str) else None

    @property
    def base_executable(self) -> Path | None:
        """``sys._base_executable`` as the probe saw it (without ``site``); None if unknown."""
        value = self.probe_data.get("base_executable")
        return Path(value) if isinstance(value, str) and value else None

    def interpreter_hash(self) -> InterpreterHash:
        """sha256 hex of what makes an environment built by this interpreter valid.

        Covers implementation and version, ABI flags, SOABI, free-threading and debug builds,
        pointer size, ``sys_platform``, ``platform_machine``, libc kind and version,
        ``sysconfig.get_platform()`` (which carries the macOS deployment target) and the tag
        list. Never paths, host names, kernel release or anything about the user, so the same
        interpreter on two machines or behind two paths hashes the same. ``hash[:16]`` is
        enough to name a directory. On macOS the tag list starts at the running macOS version
        (``macosx_15_0_arm64``), so the hash changes with a macOS upgrade: environments are
        rebuilt then (locks are not: they hold every platform's wheels).
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
    """Write atomically; a read-only cache only costs a re-probe next time."""
    with contextlib.suppress(OSError):
        atomic.write_bytes(file, json.dumps(entry, sort_keys=True, indent=1).encode())


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


def absolute_path(executable: Path) -> Path:
    """Absolute and normalised, symlinks kept."""
    return Path(os.path.normpath(executable.expanduser().absolute()))


def path_key(path: Path) -> str:
    return os.path.normcase(absolute_path(path))


def probe(executable: Path, cache_root: Path, *, timeout: float = PROBE_TIMEOUT) -> Interpreter:
    """The interpreter at ``executable``, from the cache when its file is unchanged.

    The cache file is keyed by the absolute path as given, not by its realpath: a venv's
    ``bin/python`` is a symlink to the base interpreter but reports a different ``prefix``.
    It holds the file identity (realpath, size, mtime_ns); any change re-probes. A wrapper
    (a pyenv shim, a launcher script) that runs some other interpreter is never cached under
    its own path, since what it runs can change without the wrapper changing; the interpreter
    it ran is cached under its own path instead.
    """
    executable = absolute_path(executable)
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
    reported = absolute_path(Path(data["executable"])) if data.get("executable") else executable
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
