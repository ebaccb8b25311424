"""Wheel tags and marker environments for a machine described by data, not by this process.

``packaging.tags.sys_tags()`` only answers for the running interpreter. Here the same list is
built from explicit facts (a probe of another interpreter, or a ``--python-platform`` request
for a machine that is not this one) using packaging's public ``cpython_tags``,
``generic_tags``, ``compatible_tags`` and ``mac_platforms``. The Linux platform lists
(``manylinux``/``musllinux``) are private in packaging and read the running process, so they
are rebuilt here in the same order: ``linux_<arch>`` first, then ``manylinux_2_Y`` from the
glibc minor down (with the legacy ``manylinux2014``/``2010``/``1`` aliases right after
``2_17``/``2_12``/``2_5``), then ``musllinux_1_Y``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from packaging.tags import (
    INTERPRETER_SHORT_NAMES,
    Tag,
    compatible_tags,
    cpython_tags,
    generic_tags,
    mac_platforms,
)

from toolcache.errors import ToolcacheError
from toolcache.target import Target

if TYPE_CHECKING:
    from toolcache.interpreter import Interpreter

_LEGACY_MANYLINUX = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}
_MANYLINUX_ARCHS = {"x86_64", "aarch64", "ppc64", "ppc64le", "s390x", "loongarch64", "riscv64"}
# glibc 3.x does not exist; if it ever does, packaging assumes 2.x ended at 2.50. So do we.
_LAST_GLIBC_MINOR = 50


@dataclass(frozen=True)
class Machine:
    """The facts wheel platform tags depend on.

    ``system`` is ``platform.system()`` (``Linux``, ``Darwin``, ``Windows``, ...);
    ``sysconfig_platform`` is ``sysconfig.get_platform()``. On Linux, ``glibc``/``musl`` are
    the C library's ``(major, minor)`` and ``armhf``/``i686`` say whether the interpreter's ELF
    header is a hard-float ARM or an i386 binary (packaging's manylinux ABI check). On macOS,
    ``mac_version`` and ``mac_arch`` are what ``platform.mac_ver()`` reports.
    """

    system: str
    sysconfig_platform: str
    pointer_bits: int = 64
    glibc: tuple[int, int] | None = None
    musl: tuple[int, int] | None = None
    armhf: bool = False
    i686: bool = False
    mac_version: tuple[int, int] | None = None
    mac_arch: str | None = None


def _normalize(value: str) -> str:
    return value.replace(".", "_").replace("-", "_").replace(" ", "_")


def manylinux_platforms(archs: Sequence[str], glibc: tuple[int, int]) -> Iterator[str]:
    """``manylinux_*`` tags for a glibc, best first, as ``packaging._manylinux`` orders them."""
    too_old = (2, 4) if set(archs) & {"x86_64", "i686"} else (2, 16)
    maxima = [glibc] + [(major, _LAST_GLIBC_MINOR) for major in range(glibc[0] - 1, 1, -1)]
    for arch in archs:
        for major, top_minor in maxima:
            floor = too_old[1] if major == too_old[0] else -1
            for minor in range(top_minor, floor, -1):
                yield f"manylinux_{major}_{minor}_{arch}"
                legacy = _LEGACY_MANYLINUX.get((major, minor))
                if legacy:
                    yield f"{legacy}_{arch}"


def musllinux_platforms(archs: Sequence[str], musl: tuple[int, int]) -> Iterator[str]:
    """``musllinux_*`` tags for a musl version, best first."""
    for arch in archs:
        for minor in range(musl[1], -1, -1):
            yield f"musllinux_{musl[0]}_{minor}_{arch}"


def linux_platforms(machine: Machine) -> list[str]:
    """Platform tags for a Linux machine, as ``packaging.tags`` gives them on that machine."""
    linux = _normalize(machine.sysconfig_platform)
    if not linux.startswith("linux_"):
        return [linux]
    if machine.pointer_bits == 32:
        linux = {"linux_x86_64": "linux_i686", "linux_aarch64": "linux_armv8l"}.get(linux, linux)
    arch = linux.split("_", 1)[1]
    archs = ["armv8l", "armv7l"] if arch == "armv8l" else [arch]
    platforms = [f"linux_{a}" for a in archs]
    if "armv7l" in archs:
        abi_ok = machine.armhf
    elif "i686" in archs:
        abi_ok = machine.i686
    else:
        abi_ok = any(a in _MANYLINUX_ARCHS for a in archs)
    if machine.glibc is not None and abi_ok:
        platforms.extend(manylinux_platforms(archs, machine.glibc))
    if machine.musl is not None:
        platforms.extend(musllinux_platforms(archs, machine.musl))
    return platforms


def platform_tags(machine: Machine) -> list[str]:
    """The platform part of the supported tags, best first. Never empty."""
    if machine.system == "Darwin" and machine.mac_version and machine.mac_arch:
        arch = machine.mac_arch
        if machine.pointer_bits == 32:
            arch = "ppc" if arch.startswith("ppc") else "i386"
        platforms = list(mac_platforms(machine.mac_version, arch))
    elif machine.system == "Linux":
        platforms = linux_platforms(machine)
    else:
        platforms = [_normalize(machine.sysconfig_platform)]
    if not platforms:
        # packaging would silently fall back to *this* machine's platforms.
        raise ToolcacheError(f"no wheel platform tags for {machine.sysconfig_platform!r}")
    return platforms


def cpython_abis(
    version: tuple[int, int],
    *,
    debug: bool,
    gil_disabled: bool,
) -> list[str]:
    """The CPython ABI tags (``cp312``, ``cp313t``, ``cp312d`` then ``cp312``), 3.8 and newer."""
    nodot = f"{version[0]}{version[1]}"
    threading = "t" if version >= (3, 13) and gil_disabled else ""
    abis = [f"cp{nodot}{threading}{'d' if debug else ''}"]
    if debug:
        # Debug builds also load ordinary extension modules.
        abis.append(f"cp{nodot}{threading}")
    return abis


def generic_abis(ext_suffix: str | None) -> list[str]:
    """The ABI tag of a non-CPython interpreter, read from ``EXT_SUFFIX`` as packaging does."""
    if not ext_suffix or not ext_suffix.startswith("."):
        return []
    parts = ext_suffix.split(".")
    if len(parts) < 3:
        return []
    soabi = parts[1]
    if soabi.startswith("cpython"):
        abi = "cp" + soabi.split("-")[1]
    elif soabi.startswith("cp"):
        abi = soabi.split("-")[0]
    elif soabi.startswith("pypy"):
        abi = "-".join(soabi.split("-")[:2])
    elif soabi.startswith("graalpy"):
        abi = "-".join(soabi.split("-")[:3])
    else:
        abi = soabi
    return [_normalize(abi)] if abi else []


def supported_tags(
    *,
    implementation: str,
    python_version: tuple[int, int],
    interpreter_version: str,
    abis: Sequence[str],
    platforms: Sequence[str],
) -> list[Tag]:
    """The tags ``sys_tags()`` yields for such an interpreter, best first.

    ``implementation`` is ``sys.implementation.name``; ``interpreter_version`` is the
    ``py_version_nodot`` config variable (``312``); ``abis`` come from ``cpython_abis`` for
    CPython and ``generic_abis`` otherwise.
    """
    if not platforms:
        raise ToolcacheError("no wheel platform tags given")
    short = INTERPRETER_SHORT_NAMES.get(implementation) or implementation
    tags: list[Tag] = []
    if short == "cp":
        tags.extend(cpython_tags(python_version, abis, platforms))
        compatible = f"cp{interpreter_version}"
    else:
        tags.extend(generic_tags(f"{short}{interpreter_version}", abis, platforms))
        compatible = "pp3" if short == "pp" else ""
    tags.extend(compatible_tags(python_version, compatible or None, platforms))
    return tags


# --- targets for a machine that is not this one -----------------------------------------------

#: What ``target_for`` accepts, for error messages.
ACCEPTED_PLATFORMS = (
    "linux, windows, macos, ARCH-unknown-linux-gnu, ARCH-manylinux_2_Y, ARCH-manylinux2014, "
    "ARCH-unknown-linux-musl, ARCH-musllinux_1_Y, aarch64-apple-darwin, x86_64-apple-darwin, "
    "x86_64-pc-windows-msvc, aarch64-pc-windows-msvc, i686-pc-windows-msvc"
)
_LINUX_ARCHS = {"x86_64", "aarch64", "i686", "armv7l", "ppc64le", "ppc64", "s390x", "riscv64"}
#: Defaults of ``uv pip compile --python-platform`` (uv 0.13): glibc 2.28, musl 1.2, macOS 13.0.
DEFAULT_MANYLINUX = (2, 28)
DEFAULT_MUSLLINUX = (1, 2)
DEFAULT_MACOS = (13, 0)
_ALIASES = {
    "linux": "x86_64-unknown-linux-gnu",
    "windows": "x86_64-pc-windows-msvc",
    "macos": "aarch64-apple-darwin",
}
_WINDOWS = {
    "x86_64": ("win_amd64", "AMD64"),
    "aarch64": ("win_arm64", "ARM64"),
    "i686": ("win32", "x86"),
}
_MAC_ARCH = {"aarch64": "arm64", "arm64": "arm64", "x86_64": "x86_64"}
_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


def _linux_machine(
    arch: str, glibc: tuple[int, int] | None, musl: tuple[int, int] | None
) -> Machine:
    return Machine(
        system="Linux",
        sysconfig_platform=f"linux-{arch}",
        pointer_bits=32 if arch in {"i686", "armv7l"} else 64,
        glibc=glibc,
        musl=musl,
        armhf=arch == "armv7l",
        i686=arch == "i686",
    )


def _parse_platform(platform: str) -> tuple[Machine, dict[str, str]]:
    """A ``Machine`` and its marker values for a platform string, or ToolcacheError."""
    text = _ALIASES.get(platform.strip().lower(), platform.strip().lower())
    arch, _, rest = text.partition("-")
    if arch in _LINUX_ARCHS:
        linux_markers = {
            "os_name": "posix",
            "sys_platform": "linux",
            "platform_system": "Linux",
            "platform_machine": arch,
        }
        glibc: tuple[int, int] | None = None
        musl: tuple[int, int] | None = None
        if rest in {"unknown-linux-gnu", "linux-gnu", "unknown-linux"}:
            glibc = DEFAULT_MANYLINUX
        elif rest in {"unknown-linux-musl", "linux-musl"}:
            musl = DEFAULT_MUSLLINUX
        elif legacy := {v: k for k, v in _LEGACY_MANYLINUX.items()}.get(rest):
            glibc = legacy
        elif m := re.fullmatch(r"manylinux_(\d+)_(\d+)", rest):
            glibc = (int(m.group(1)), int(m.group(2)))
        elif m := re.fullmatch(r"musllinux_(\d+)_(\d+)", rest):
            musl = (int(m.group(1)), int(m.group(2)))
        if glibc or musl:
            return _linux_machine(arch, glibc, musl), linux_markers
    if rest == "apple-darwin" and arch in _MAC_ARCH:
        mac_arch = _MAC_ARCH[arch]
        machine = Machine(
            system="Darwin",
            sysconfig_platform=f"macosx-{DEFAULT_MACOS[0]}.{DEFAULT_MACOS[1]}-{mac_arch}",
            mac_version=DEFAULT_MACOS,
            mac_arch=mac_arch,
        )
        return machine, {
            "os_name": "posix",
            "sys_platform": "darwin",
            "platform_system": "Darwin",
            "platform_machine": mac_arch,
        }
    if rest == "pc-windows-msvc" and arch in _WINDOWS:
        tag, machine_name = _WINDOWS[arch]
        machine = Machine(
            system="Windows",
            sysconfig_platform=tag.replace("_", "-"),
            pointer_bits=32 if arch == "i686" else 64,
        )
        return machine, {
            "os_name": "nt",
            "sys_platform": "win32",
            "platform_system": "Windows",
            "platform_machine": machine_name,
        }
    raise ToolcacheError(f"unknown platform {platform!r}: expected one of {ACCEPTED_PLATFORMS}")


def target_for(
    python_version: str, platform: str | None, implementation: str = "cpython"
) -> Target:
    """A resolution target for a Python version on a machine that is not this one.

    Like ``uv pip compile --python-version 3.12 --python-platform x86_64-manylinux_2_28``:
    ``python_version`` is ``X.Y`` or ``X.Y.Z`` (``X.Y`` means ``X.Y.0`` in markers, as uv does,
    and any patch release for ``requires-python``); ``platform`` is one of
    ``ACCEPTED_PLATFORMS`` (``None`` means ``linux``). The marker environment is synthesised
    with empty ``platform_release``/``platform_version``. ``implementation`` is ``cpython`` or
    ``pypy`` (PyPy's ABI is ``pp73``, every PyPy release's since 7.3).
    """
    impl = {"cp": "cpython", "pp": "pypy"}.get(implementation.lower(), implementation.lower())
    if impl not in {"cpython", "pypy"}:
        raise ToolcacheError(
            f"cannot target implementation {implementation!r} without its interpreter: "
            "only cpython and pypy can be targeted by version"
        )
    match = _VERSION.fullmatch(python_version.strip())
    if not match:
        raise ToolcacheError(
            f"invalid Python version {python_version!r}: expected X.Y or X.Y.Z, like 3.12"
        )
    major, minor = int(match.group(1)), int(match.group(2))
    full_version = f"{major}.{minor}.{int(match.group(3) or 0)}"
    machine, platform_markers = _parse_platform(platform or "linux")
    pypy = impl == "pypy"
    markers = {
        "implementation_name": impl,
        "implementation_version": PYPY_VERSION if pypy else full_version,
        "platform_python_implementation": "PyPy" if pypy else "CPython",
        "platform_release": "",
        "platform_version": "",
        "python_full_version": full_version,
        "python_version": f"{major}.{minor}",
        **platform_markers,
    }
    tags = supported_tags(
        implementation=impl,
        python_version=(major, minor),
        interpreter_version=f"{major}{minor}",
        abis=[f"pypy{major}{minor}_pp73"]
        if pypy
        else cpython_abis((major, minor), debug=False, gil_disabled=False),
        platforms=platform_tags(machine),
    )
    return Target(markers=markers, tags=tuple(tags), any_patch=match.group(3) is None)


#: ``implementation_version`` in a described PyPy target's markers.
PYPY_VERSION = "7.3.0"
_WINDOWS_ARCH = {"win_amd64": "x86_64", "win_arm64": "aarch64", "win32": "i686"}


def canonical_platform_name(platform: str) -> str:
    """One name for each platform however it was spelled: ``linux`` and
    ``x86_64-unknown-linux-gnu`` are ``x86_64-manylinux_2_28``; ``x86_64-manylinux2014`` is
    ``x86_64-manylinux_2_17``; ``x86_64-unknown-linux-musl`` is ``x86_64-musllinux_1_2``."""
    machine, _ = _parse_platform(platform)
    if machine.system == "Linux":
        arch = machine.sysconfig_platform.split("-", 1)[1]
        if machine.glibc is not None:
            return f"{arch}-manylinux_{machine.glibc[0]}_{machine.glibc[1]}"
        assert machine.musl is not None
        return f"{arch}-musllinux_{machine.musl[0]}_{machine.musl[1]}"
    if machine.system == "Darwin":
        return f"{'aarch64' if machine.mac_arch == 'arm64' else machine.mac_arch}-apple-darwin"
    return f"{_WINDOWS_ARCH[_normalize(machine.sysconfig_platform)]}-pc-windows-msvc"


def platform_of(interpreter: Interpreter) -> str:
    """The canonical platform name that covers a probed interpreter's machine.

    Linux: glibc 2.28 (or the interpreter's own glibc when older), musl 1.2 (or older);
    macOS and Windows by architecture. ToolcacheError for anything else.
    """
    markers = interpreter.markers
    system, machine = markers.get("sys_platform", ""), markers.get("platform_machine", "")
    arch = {"amd64": "x86_64", "arm64": "aarch64", "x86": "i686"}.get(machine.lower(), machine)
    if system == "linux" and interpreter.libc is not None:
        kind, version = interpreter.libc
        parts = tuple(int(p) for p in version.split(".")[:2])
        if kind == "glibc":
            glibc = min(parts, DEFAULT_MANYLINUX)
            return f"{arch}-manylinux_{glibc[0]}_{glibc[1]}"
        if kind == "musl":
            musl = min(parts, DEFAULT_MUSLLINUX)
            return f"{arch}-musllinux_{musl[0]}_{musl[1]}"
    if system == "darwin" and arch in {"x86_64", "aarch64"}:
        return f"{arch}-apple-darwin"
    if system == "win32" and arch in _WINDOWS:
        return f"{arch}-pc-windows-msvc"
    raise ToolcacheError(
        f"{interpreter.describe()}: no lock target describes its platform "
        f"({system} {machine}); expected one of {ACCEPTED_PLATFORMS}"
    )
