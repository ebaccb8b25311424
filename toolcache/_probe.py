"""Describe the Python interpreter that runs this file as one JSON object on stdout.

``interpreter.py`` sends ``source()`` to the interpreter under test as
``python -E -s -S -c SOURCE``; the file can also be run directly. It uses only the standard
library and must *parse* on any Python that discovery may come across, back to 2.7, so that an
old interpreter answers "too old" instead of a SyntaxError: hence type comments, no f-strings,
and every import other than ``sys`` made after the version check. (``-I`` would be neater than
``-E -s``, but Python 2.7 rejects it with a usage error before running anything.)

On Python older than 3.8 the object is ``{"probe": N, "too_old": true, "version_info": [...]}``,
a message goes to stderr and the exit status is 3. Importing this module has no side effects.
"""

import sys

PROBE_FORMAT = 1
MINIMUM = (3, 8)
TOO_OLD_EXIT = 3

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any  # noqa: F401 - used in type comments


def source():
    # type: () -> str
    """The text of this module, to run with ``python -c``."""
    with open(__file__, encoding="utf-8") as f:
        return f.read()


def _format_full_version(info):
    # type: (Any) -> str
    """``implementation_version`` as PEP 508 defines it."""
    version = "%d.%d.%d" % (info.major, info.minor, info.micro)  # noqa: UP031
    if info.releaselevel != "final":
        version += info.releaselevel[0] + str(info.serial)
    return version


def _elf_header(executable):
    # type: (str) -> dict[str, Any] | None
    """Class, byte order, machine, flags and PT_INTERP of an ELF file, or None."""
    import os
    import struct

    try:
        with open(executable, "rb") as f:
            ident = f.read(16)
            if len(ident) < 16 or ident[:4] != b"\x7fELF":
                return None
            capacity, encoding = ident[4], ident[5]
            formats = {
                (1, 1): ("<HHIIIIIHHH", "<IIIIIIII", (0, 1, 4)),
                (1, 2): (">HHIIIIIHHH", ">IIIIIIII", (0, 1, 4)),
                (2, 1): ("<HHIQQQIHHH", "<IIQQQQQQ", (0, 2, 5)),
                (2, 2): (">HHIQQQIHHH", ">IIQQQQQQ", (0, 2, 5)),
            }
            if (capacity, encoding) not in formats:
                return None
            e_fmt, p_fmt, p_idx = formats[(capacity, encoding)]
            header = struct.unpack(e_fmt, f.read(struct.calcsize(e_fmt)))
            machine, phoff, flags, phentsize, phnum = (
                header[1],
                header[4],
                header[6],
                header[8],
                header[9],
            )
            interpreter = None
            for index in range(phnum):
                f.seek(phoff + phentsize * index)
                raw = f.read(struct.calcsize(p_fmt))
                if len(raw) < struct.calcsize(p_fmt):
                    break
                entry = struct.unpack(p_fmt, raw)
                if entry[p_idx[0]] == 3:  # PT_INTERP
                    f.seek(entry[p_idx[1]])
                    interpreter = os.fsdecode(f.read(entry[p_idx[2]])).strip("\0")
                    break
    except (OSError, ValueError, struct.error):
        return None
    return {
        "class": capacity,
        "data": encoding,
        "machine": machine,
        "flags": flags,
        "interpreter": interpreter,
    }


def _glibc_version():
    # type: () -> str | None
    import os

    try:
        value = os.confstr("CS_GNU_LIBC_VERSION")
        if value is None:
            return None
        _, version = value.rsplit()
    except (AttributeError, OSError, ValueError):
        return None
    return version


def _musl_version(loader):
    # type: (str | None) -> str | None
    """``major.minor`` of the musl loader, which prints its version when run bare."""
    import re
    import subprocess

    if not loader or "musl" not in loader:
        return None
    try:
        proc = subprocess.run(
            [loader], check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
    except OSError:
        return None
    lines = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
    if len(lines) < 2 or not lines[0].startswith("musl"):
        return None
    match = re.match(r"Version (\d+)\.(\d+)", lines[1])
    return match.group(1) + "." + match.group(2) if match else None


def _real_mac_version():
    # type: () -> str | None
    """The macOS version with compatibility mode off, as packaging.tags asks for it."""
    import subprocess

    try:
        out = subprocess.run(
            [sys.executable, "-sS", "-c", "import platform; print(platform.mac_ver()[0])"],
            check=True,
            env={"SYSTEM_VERSION_COMPAT": "0"},
            stdout=subprocess.PIPE,
            text=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out or None


def _mac_version():
    # type: () -> dict[str, str]
    """The macOS version packaging.tags reads, what macOS told this build, the real version,
    and the CPU architecture.

    A build linked against an SDK older than the running macOS is told a compatibility
    version: ``10.16`` on macOS 11 and later, ``16.0`` on macOS 26 and later (cpython#135675).
    packaging asks again with ``SYSTEM_VERSION_COMPAT=0`` for ``10.16`` only, and takes
    ``16.0`` as it is (macOS 16 down to 11, then 10.x), so ``version`` does the same; ``system``
    is the real version either way, kept for a later packaging that reads ``16.0`` otherwise.
    """
    import platform

    reported, _, machine = platform.mac_ver()
    compat = reported.split(".")[:2]
    system = reported
    if compat in (["10", "16"], ["16", "0"]):
        system = _real_mac_version() or reported
    version = system if compat == ["10", "16"] else reported
    return {"version": version, "reported": reported, "system": system, "arch": machine}


def collect():
    # type: () -> dict[str, Any]
    """Everything ``interpreter.py`` needs, as JSON-ready values."""
    import os
    import platform
    import struct
    import sysconfig
    from importlib.machinery import EXTENSION_SUFFIXES

    impl = sys.implementation
    markers = {
        "implementation_name": impl.name,
        "implementation_version": _format_full_version(impl.version),
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_python_implementation": platform.python_implementation(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }
    config = {}
    # PYTHONFRAMEWORK: "Python" in macOS framework builds (python.org, Homebrew), else "".
    names = (
        "SOABI",
        "EXT_SUFFIX",
        "Py_GIL_DISABLED",
        "Py_DEBUG",
        "py_version_nodot",
        "PYTHONFRAMEWORK",
    )
    for name in names:
        value = sysconfig.get_config_var(name)
        config[name] = value if value is None or isinstance(value, (int, str)) else str(value)
    libc = None  # type: dict[str, Any] | None
    elf = None
    mac = None
    if sys.platform.startswith("linux"):
        elf = _elf_header(sys.executable)
        glibc = _glibc_version()
        musl = _musl_version(elf["interpreter"] if elf else None)
        if glibc:
            libc = {"kind": "glibc", "version": glibc}
        elif musl:
            libc = {"kind": "musl", "version": musl}
    elif sys.platform == "darwin":
        mac = _mac_version()
    paths = sysconfig.get_paths()
    return {
        "probe": PROBE_FORMAT,
        "implementation_name": impl.name,
        "implementation_version": markers["implementation_version"],
        "version_info": list(sys.version_info),
        "python_full_version": markers["python_full_version"],
        "markers": markers,
        "abiflags": getattr(sys, "abiflags", ""),
        "config": config,
        "has_gettotalrefcount": hasattr(sys, "gettotalrefcount"),
        "extension_suffixes": list(EXTENSION_SUFFIXES),
        "sysconfig_platform": sysconfig.get_platform(),
        "pointer_bits": struct.calcsize("P") * 8,
        "libc": libc,
        "elf": elf,
        "mac": mac,
        "executable": sys.executable,
        # What venv links an environment's python to, as seen without site (which, in a
        # macOS framework build, may replace it by the stub launcher's __PYVENV_LAUNCHER__).
        "base_executable": getattr(sys, "_base_executable", None),
        "prefix": sys.prefix,
        "base_prefix": getattr(sys, "base_prefix", sys.prefix),
        "purelib": paths.get("purelib"),
        "scripts": paths.get("scripts"),
    }


def main():
    # type: () -> int
    # With ``-c`` the current directory is first on sys.path; a json.py there must not win.
    sys.path[:] = [entry for entry in sys.path if entry]
    import json

    if tuple(sys.version_info[:2]) < MINIMUM:
        found = "%d.%d" % tuple(sys.version_info[:2])  # noqa: UP031
        sys.stdout.write(
            json.dumps(
                {"probe": PROBE_FORMAT, "too_old": True, "version_info": list(sys.version_info)}
            )
            + "\n"
        )
        sys.stderr.write(
            "Python " + found + " is too old: toolcache environments need 3.8 or newer\n"
        )
        return TOO_OLD_EXIT
    sys.stdout.write(json.dumps(collect(), sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
