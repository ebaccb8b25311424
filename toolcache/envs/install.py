"""Install wheels into an environment with ``installer``, leaving nothing that names its path.

Console and GUI scripts, and ``#!python`` scripts shipped in a wheel's ``.data/scripts``, get a
POSIX ``sh``/Python polyglot header that runs the ``python`` found beside the script itself
(after resolving symlinks to the script), the approach of ``uv venv --relocatable``: the
environment can be moved or restored elsewhere and its tools still run. ``RECORD`` paths are
relative to site-packages. On Windows the scripts are ``installer``'s launchers, which name the
environment's ``python.exe`` by absolute path.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from installer import install
from installer.destinations import SchemeDictionaryDestination
from installer.records import RecordEntry
from installer.scripts import Script
from installer.sources import WheelFile
from installer.utils import Scheme

from toolcache.errors import ToolcacheError

_WINDOWS = sys.platform == "win32"

#: Runs as ``sh``: execs the ``python`` beside the (symlink-resolved) script on the script.
#: Runs as Python: line 1 is a comment and lines 2-3 are one string literal.
RELOCATABLE_HEADER = (
    b"#!/bin/sh\n"
    b'\'\'\'exec\' "$(dirname -- "$(realpath -- "$0")")"/\'python\' "$0" "$@"\n'
    b"' '''\n"
)
INSTALLER_NAME = b"toolcache\n"


class InstallError(ToolcacheError):
    """A wheel could not be installed (bad archive, clashing files, unknown scheme, ...)."""

    def __init__(self, wheel: str, reason: str) -> None:
        self.wheel = wheel
        self.reason = reason
        super().__init__(f"cannot install {wheel}: {reason}")


@dataclass(frozen=True)
class Layout:
    """The install scheme of one environment: absolute paths of each ``installer`` scheme."""

    purelib: Path
    platlib: Path
    headers: Path
    scripts: Path
    data: Path

    def as_dict(self) -> dict[str, str]:
        return {
            "purelib": str(self.purelib),
            "platlib": str(self.platlib),
            "headers": str(self.headers),
            "scripts": str(self.scripts),
            "data": str(self.data),
        }

    @classmethod
    def from_paths(cls, found: Mapping[str, str], python_tag: str) -> Layout:
        """From ``sysconfig.get_paths()`` of the environment; headers go where pip puts them."""
        data = Path(found["data"])
        return cls(
            purelib=Path(found["purelib"]),
            platlib=Path(found["platlib"]),
            headers=data / "include" / "site" / python_tag,
            scripts=Path(found["scripts"]),
            data=data,
        )


def _relocatable(stream: BinaryIO) -> BinaryIO:
    """A ``#!python`` script with the relocatable header instead; others unchanged."""
    first = stream.readline()
    if not first.startswith(b"#!python"):
        stream.seek(0)
        return stream
    return io.BytesIO(RELOCATABLE_HEADER + stream.read())


class RelocatableDestination(SchemeDictionaryDestination):
    """``installer``'s destination, writing scripts that find ``python`` beside themselves."""

    def write_to_fs(
        self,
        scheme: Scheme,
        path: str,
        stream: BinaryIO,
        is_executable: bool,
    ) -> RecordEntry:
        # Wheels are installed in parallel: two may create the same folder at once.
        self._path_with_destdir(scheme, path).parent.mkdir(parents=True, exist_ok=True)
        return super().write_to_fs(scheme, path, stream, is_executable)

    def write_file(
        self,
        scheme: Scheme,
        path: str | os.PathLike[str],
        stream: BinaryIO,
        is_executable: bool,
    ) -> RecordEntry:
        if scheme == "scripts" and not _WINDOWS:
            return self.write_to_fs(scheme, os.fspath(path), _relocatable(stream), is_executable)
        return super().write_file(scheme, path, stream, is_executable)

    def write_script(self, name: str, module: str, attr: str, section: str) -> RecordEntry:
        if _WINDOWS:
            return super().write_script(name, module, attr, section)  # type: ignore[arg-type]
        script = Script(name, module, attr, section)  # type: ignore[arg-type]
        _, generated = script.generate("python", "posix")
        code = generated.split(b"\n", 1)[1]  # drop installer's "#!python" line
        with io.BytesIO(RELOCATABLE_HEADER + code) as stream:
            entry = self.write_to_fs(Scheme("scripts"), name, stream, is_executable=True)
        target = Path(self.scheme_dict["scripts"]) / name
        mode = target.stat().st_mode
        target.chmod(mode | (mode & 0o444) >> 2)
        return entry


def _script_kind() -> str:
    if not _WINDOWS:
        return "posix"
    import platform

    machine = platform.machine().lower()
    if machine in ("arm64", "aarch64"):
        return "win-arm64"
    return "win-amd64" if sys.maxsize > 2**32 else "win-ia32"


def install_wheel(wheel: Path, layout: Layout, python: Path) -> None:
    """Install ``wheel`` into ``layout``. Safe to call for several wheels at once (distinct
    wheels write distinct files; a clash raises InstallError). No bytecode is compiled (the
    interpreter may differ from this one); the environment's ``python`` writes it on use."""
    destination = RelocatableDestination(
        scheme_dict=layout.as_dict(),
        interpreter=str(python),
        script_kind=_script_kind(),  # type: ignore[arg-type]
    )
    try:
        with WheelFile.open(wheel) as source:
            install(source, destination, additional_metadata={"INSTALLER": INSTALLER_NAME})
    except (ValueError, KeyError, OSError) as exc:
        # installer raises InvalidWheelSource (a ValueError) and FileExistsError, among others
        raise InstallError(wheel.name, str(exc) or type(exc).__name__) from None
