"""The operating system toolcache runs on, as data: the one place that knows how they differ.

A ``Host`` answers what the rest of the code would otherwise learn by testing ``sys.platform``
or ``os.name``: where an environment keeps its executables (``bin``; ``Scripts`` on Windows)
and their suffix, what kind of launcher a console script gets, how files are placed from the
unpacked-wheel cache, where interpreters are installed and in which order of preference, which
file must never be run to probe it (Apple's ``xcode-select`` stub), and which environment
variables change the wheel a backend builds from an sdist.

``current()`` is the host of this process. ``for_platform("darwin", root=tmp)`` is another
one, its system folders (``/usr/bin``, ``/opt/homebrew``, ``/Library/Frameworks``) looked up
under ``root``: that is how macOS discovery is tested on Linux. Windows fills in the same
fields (see ``docs/windows.md``); nothing else should grow a platform branch.

Standard library only and cheap to import; nothing here runs at import time.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

#: Launcher kinds: a POSIX ``sh``/Python polyglot that runs the ``python`` beside it (see
#: ``toolcache.envs.install``), or a Windows ``.exe`` trampoline.
SH_LAUNCHER = "sh"
EXE_LAUNCHER = "exe"

#: Link strategies for files placed from the unpacked-wheel cache: a reflink by the
#: ``FICLONE`` ioctl (btrfs, xfs; else ``copy_file_range``), ``clonefile(2)`` (APFS), a copy.
REFLINK = "reflink"
CLONEFILE = "clonefile"
COPY = "copy"

#: Where installs of Python are found, in order of preference between equal versions.
SOURCES = ("uv", "pyenv", "asdf", "homebrew", "python.org", "toolcache")


@dataclass(frozen=True)
class Root:
    """A folder of Python installs: each match of ``pattern`` below ``path`` is a ``bin``
    folder, named (at its first level) for the version it holds: ``3.12.1``,
    ``cpython-3.12.4-macos-aarch64-none``, ``python@3.12``, ``pypy3.10-7.3.17``.

    ``source`` is one of ``SOURCES``; ``implementation`` is set when the whole root holds one
    (GitHub's tool cache keeps ``Python`` and ``PyPy`` apart), else read from the folder name.
    """

    source: str
    path: Path
    pattern: str = "*/bin"
    implementation: str | None = None


@dataclass(frozen=True)
class Host:
    """One operating system's answers (see the module docstring).

    ``sys_platform`` is the family (``linux``, ``darwin``, ``win32``); ``bin_dir`` and
    ``exe_suffix`` name an environment's executables; ``launcher`` is ``SH_LAUNCHER`` or
    ``EXE_LAUNCHER``; ``link`` is ``REFLINK``, ``CLONEFILE`` or ``COPY``; ``symlinks`` says
    whether environments link to their base interpreter (else copy it, as ``venv`` does on
    Windows); ``lib64`` whether ``venv`` adds a ``lib64`` link on 64-bit (Linux only).
    ``system_dirs`` are searched for interpreters after every version-manager folder,
    ``late_path_dirs`` are PATH entries searched only then too (macOS's ``/usr/bin``);
    ``homebrew_prefixes``, ``framework_versions`` and ``tool_cache`` are where Homebrew,
    python.org's framework builds and GitHub's runners install Pythons; ``xcode_stub_dir``
    holds Apple's ``xcode-select`` stubs; ``build_variables`` are the environment variables
    read by sdist builds that change the wheel they make. Paths are absolute, under ``root``.
    """

    sys_platform: str
    bin_dir: str = "bin"
    exe_suffix: str = ""
    launcher: str = SH_LAUNCHER
    link: str = COPY
    symlinks: bool = True
    lib64: bool = False
    system_dirs: tuple[str, ...] = ("/usr/bin", "/usr/local/bin")
    late_path_dirs: tuple[str, ...] = ()
    build_variables: tuple[str, ...] = ("_PYTHON_HOST_PLATFORM",)
    homebrew_prefixes: tuple[str, ...] = ()
    framework_versions: str | None = None
    tool_cache: str | None = None
    xcode_stub_dir: str | None = None
    root: Path = field(default=Path("/"))

    def path(self, absolute: str) -> Path:
        """A system path (``/usr/bin``) on this host, under ``root``."""
        return self.root / absolute.lstrip("/")

    def executable(self, name: str) -> str:
        """``python3`` as a file name here (``python3.exe`` on Windows)."""
        return name + self.exe_suffix

    def interpreter_roots(self, environ: Mapping[str, str], home: Path) -> list[Root]:
        """Folders of Python installs, in ``SOURCES`` order: uv's (``UV_PYTHON_INSTALL_DIR``,
        else ``$XDG_DATA_HOME/uv/python``, else ``~/.local/share/uv/python``), pyenv's
        (``PYENV_ROOT``), asdf's (``ASDF_DATA_DIR``), Homebrew's ``opt/python@X.Y`` (macOS:
        ``HOMEBREW_PREFIX``, ``/opt/homebrew``, ``/usr/local``), python.org's framework builds
        (macOS) and GitHub Actions' tool cache (``RUNNER_TOOL_CACHE`` and the runner's
        default folder)."""
        data_home = environ.get("XDG_DATA_HOME")
        uv_default = Path(data_home) / "uv" if data_home else home / ".local/share/uv"
        roots = [
            Root("uv", Path(environ.get("UV_PYTHON_INSTALL_DIR") or uv_default / "python")),
            Root("pyenv", Path(environ.get("PYENV_ROOT") or home / ".pyenv") / "versions"),
            Root(
                "asdf",
                Path(environ.get("ASDF_DATA_DIR") or home / ".asdf") / "installs/python",
            ),
        ]
        if self.homebrew_prefixes:
            prefixes = [environ.get("HOMEBREW_PREFIX"), *self.homebrew_prefixes]
            for prefix in dict.fromkeys(p for p in prefixes if p):
                opt = self.path(prefix) / "opt"
                roots.append(Root("homebrew", opt, "python@*/bin", "cpython"))
                roots.append(Root("homebrew", opt, "pypy3*/bin", "pypy"))
        if self.framework_versions:
            versions = self.path(self.framework_versions)
            roots.append(Root("python.org", versions, "*/bin", "cpython"))
        for base in dict.fromkeys([environ.get("RUNNER_TOOL_CACHE"), self.tool_cache]):
            if base:
                where = Path(base) if base != self.tool_cache else self.path(base)
                roots.append(Root("toolcache", where / "Python", "*/*/bin", "cpython"))
                roots.append(Root("toolcache", where / "PyPy", "*/*/bin", "pypy"))
        return roots

    def developer_dir(self, environ: Mapping[str, str]) -> Path | None:
        """macOS: the developer folder ``xcode-select -p`` would print, when it has a Python.

        Read without running anything: ``DEVELOPER_DIR``, else the link ``xcode-select -s``
        writes (``/var/db/xcode_select_link``), else Xcode's, else the Command Line Tools'
        folder, as ``xcrun`` looks them up. None when none exists with ``usr/bin/python3``."""
        candidates: list[Path] = []
        if environ.get("DEVELOPER_DIR"):
            candidates.append(Path(environ["DEVELOPER_DIR"]))
        with contextlib.suppress(OSError):
            candidates.append(Path(os.readlink(self.path("/var/db/xcode_select_link"))))
        candidates.append(self.path("/Applications/Xcode.app/Contents/Developer"))
        candidates.append(self.path("/Library/Developer/CommandLineTools"))
        for candidate in candidates:
            if candidate.is_dir():
                return candidate if (candidate / "usr/bin/python3").is_file() else None
        return None

    def refuses(self, executable: Path, environ: Mapping[str, str]) -> str | None:
        """Why ``executable`` must not be run to probe it, or None.

        On macOS, ``/usr/bin/python3`` is Apple's ``xcode-select`` stub: it runs the Python
        of the Command Line Tools (or of Xcode), and when neither is there it opens a dialog
        offering to install them and waits. So it is run only when that Python exists."""
        if self.xcode_stub_dir is None:
            return None
        real = os.path.realpath(executable)
        if os.path.dirname(real) != os.path.realpath(self.path(self.xcode_stub_dir)):
            return None
        if not os.path.basename(real).startswith("python"):
            return None
        if self.developer_dir(environ) is not None:
            return None
        return (
            f"{executable} is Apple's stub for the Python of the Command Line Tools, which are "
            "not installed (running it would open a dialog offering them): run "
            "xcode-select --install, or get Python by uv, Homebrew or python.org's installer"
        )

    def build_environment(self, environ: Mapping[str, str]) -> dict[str, str]:
        """The ``build_variables`` set (non-empty) in ``environ``, sorted by name."""
        return {name: environ[name] for name in sorted(self.build_variables) if environ.get(name)}


_LINUX = Host(
    sys_platform="linux",
    link=REFLINK,
    lib64=True,
    tool_cache="/opt/hostedtoolcache",
)
_MACOS = Host(
    sys_platform="darwin",
    link=CLONEFILE,
    # Homebrew's (Apple silicon, then Intel) before Apple's own, which is searched last.
    system_dirs=("/opt/homebrew/bin", "/usr/local/bin", "/usr/bin"),
    # /usr/bin/python3 is Apple's Command Line Tools Python (3.9), or a stub for it: a
    # developer who installed any other Python means that one.
    late_path_dirs=("/usr/bin",),
    # Read by sysconfig/setuptools/wheel: the deployment target names the wheel's minimum
    # macOS and the architectures (``-arch arm64 -arch x86_64``) make it universal2.
    build_variables=("ARCHFLAGS", "MACOSX_DEPLOYMENT_TARGET", "_PYTHON_HOST_PLATFORM"),
    homebrew_prefixes=("/opt/homebrew", "/usr/local"),
    framework_versions="/Library/Frameworks/Python.framework/Versions",
    tool_cache="/Users/runner/hostedtoolcache",
    xcode_stub_dir="/usr/bin",
)
_WINDOWS = Host(
    sys_platform="win32",
    bin_dir="Scripts",
    exe_suffix=".exe",
    launcher=EXE_LAUNCHER,
    symlinks=False,
    # Discovery on Windows reads the PEP 514 registry: see docs/windows.md.
    system_dirs=(),
    build_variables=(),
    tool_cache="C:/hostedtoolcache/windows",
)
_OTHER_POSIX = Host(sys_platform="posix")


def family(sys_platform: str) -> str:
    """``linux``, ``darwin``, ``win32`` or ``posix`` (any other) for a ``sys.platform``."""
    if sys_platform.startswith("linux"):
        return "linux"
    if sys_platform in ("darwin", "win32"):
        return sys_platform
    return "posix"


def for_platform(sys_platform: str, *, root: Path | None = None) -> Host:
    """The host of a ``sys.platform`` value, its system folders under ``root`` (``/``)."""
    found = {"linux": _LINUX, "darwin": _MACOS, "win32": _WINDOWS}.get(
        family(sys_platform), _OTHER_POSIX
    )
    if root is None:
        return found
    return replace(found, root=root)


def current() -> Host:
    """The host this process runs on."""
    return for_platform(sys.platform)


# --- placing files ------------------------------------------------------------------------------

_CLONE_NOFOLLOW = 0x0001
_CLONE_NOOWNERCOPY = 0x0002


def clonefile(source: str, target: str) -> bool:
    """macOS: make ``target`` (which must not exist) a clone of ``source`` by
    ``clonefile(2)``: it shares the source's blocks until either is written, and keeps its
    permission bits. False where that cannot be done (not APFS, two volumes, not macOS): the
    caller copies instead. FileExistsError when ``target`` exists."""
    if sys.platform != "darwin":
        return False
    import ctypes
    import errno

    try:
        function = ctypes.CDLL(None, use_errno=True).clonefile
    except (AttributeError, OSError):
        return False
    function.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint32]
    function.restype = ctypes.c_int
    flags = _CLONE_NOFOLLOW | _CLONE_NOOWNERCOPY
    if function(os.fsencode(source), os.fsencode(target), flags) == 0:
        return True
    error = ctypes.get_errno()
    if error == errno.EEXIST:
        raise FileExistsError(error, os.strerror(error), target)
    return False
