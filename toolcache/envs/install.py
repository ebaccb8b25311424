"""Install wheels into an environment with ``installer``, leaving nothing that names its path.

Console and GUI scripts, and ``#!python`` scripts shipped in a wheel's ``.data/scripts``, get a
POSIX ``sh``/Python polyglot header that runs the ``python`` found beside the script itself
(after resolving symlinks to the script), the approach of ``uv venv --relocatable``: the
environment can be moved or restored elsewhere and its tools still run. ``RECORD`` paths are
relative to site-packages. On Windows the scripts are ``installer``'s launchers, which name the
environment's ``python.exe`` by absolute path.

A wheel comes either as its archive (installed by ``installer``) or, on the build path, as its
tree unpacked in the cache (``toolcache.envs.unpacked``): then every file is hard-linked into
place (copied where links cannot be made) and only the launchers, rewritten ``#!python``
scripts, ``INSTALLER`` and ``RECORD`` are written, laid out exactly as ``installer`` lays them
out. Creating a file costs ~50 times a link here, and an environment is mostly files that are
the same bytes as in the wheel. Linked files share their inode with the cache: nothing may
write into an installed file in place (new files, like the ``.pyc`` written on use, are fine).
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from installer import install
from installer.destinations import SchemeDictionaryDestination
from installer.records import Hash, RecordEntry
from installer.scripts import Script
from installer.sources import WheelFile
from installer.utils import Scheme, construct_record_file

from toolcache.envs import unpacked as unpacked_mod
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
        _, data = launcher(name, module, attr, section, self.interpreter)
        with io.BytesIO(data) as stream:
            entry = self.write_to_fs(Scheme("scripts"), name, stream, is_executable=True)
        _make_executable(Path(self.scheme_dict["scripts"]) / name)
        return entry


def launcher(name: str, module: str, attr: str, section: str, python: str) -> tuple[str, bytes]:
    """The file name and bytes of an entry point's launcher: relocatable on POSIX, else
    ``installer``'s (a ``.exe`` naming ``python``)."""
    script = Script(name, module, attr, section)  # type: ignore[arg-type]
    if _WINDOWS:
        found: tuple[str, bytes] = script.generate(python, _script_kind())  # type: ignore[arg-type]
        return found
    _, generated = script.generate("python", "posix")
    return name, RELOCATABLE_HEADER + generated.split(b"\n", 1)[1]  # drop "#!python"


def _script_kind() -> str:
    if not _WINDOWS:
        return "posix"
    import platform

    machine = platform.machine().lower()
    if machine in ("arm64", "aarch64"):
        return "win-arm64"
    return "win-amd64" if sys.maxsize > 2**32 else "win-ia32"


def install_wheel(wheel: Path, layout: Layout, python: Path) -> None:
    """Install ``wheel`` (an archive, or a tree unpacked by ``toolcache.envs.unpacked``) into
    ``layout``. Safe to call for several wheels at once (distinct wheels write distinct files;
    a clash raises InstallError). No bytecode is compiled (the interpreter may differ from this
    one); the environment's ``python`` writes it on use."""
    if wheel.is_dir():
        tree = unpacked_mod.load(wheel)
        if tree is None:
            raise InstallError(wheel.name, f"{wheel} is not an unpacked wheel")
        link_unpacked(tree, layout, python)
        return
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


class _Linker:
    """Hard-links files into place; after a link fails across filesystems, copies instead."""

    def __init__(self) -> None:
        self.copying = False

    def place(self, source: str, target: str) -> None:
        """Link (else copy) ``source`` at ``target``, which must not exist."""
        if not self.copying:
            try:
                os.link(source, target)
            except FileExistsError:
                raise
            except OSError as exc:
                # EXDEV: another filesystem; EPERM/ENOTSUP/EMLINK: no (more) links here
                if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK):
                    raise
                self.copying = exc.errno != errno.EMLINK
            else:
                return
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, "File already exists", target)
        shutil.copy2(source, target)


def _make_executable(path: Path) -> None:
    """Add the execute bits matching the read bits (``chmod +x`` under the umask)."""
    mode = path.stat().st_mode
    path.chmod(mode | (mode & 0o444) >> 2)


def _write_new(target: Path, data: bytes, *, executable: bool) -> str:
    """Create ``target`` (which must not exist) holding ``data``; its RECORD hash."""
    with target.open("xb") as f:
        f.write(data)
    if executable:
        _make_executable(target)
    return unpacked_mod.record_digest(hashlib.sha256(data).digest())


def link_unpacked(tree: unpacked_mod.Unpacked, layout: Layout, python: Path) -> None:
    """Install an unpacked wheel into ``layout`` as ``installer`` would install the archive:
    the same files at the same places, the same launchers, ``INSTALLER`` and a ``RECORD``
    with paths relative to the root scheme. Files are linked from the tree."""
    schemes = {name: Path(p) for name, p in layout.as_dict().items()}
    root = tree.root_scheme
    records: list[tuple[Scheme, RecordEntry]] = []
    made: set[str] = set()
    linker = _Linker()

    def folder_of(target: str) -> None:
        parent = os.path.dirname(target)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)

    # Strings, not Paths, below: the loop runs once per file and pathlib triples its cost.
    try:
        for name, module, attr, section in tree.entry_points:
            filename, data = launcher(name, module, attr, section, str(python))
            target = schemes["scripts"] / filename
            folder_of(str(target))
            digest = _write_new(target, data, executable=True)
            entry_record = RecordEntry(filename, Hash("sha256", digest), len(data))
            records.append((Scheme("scripts"), entry_record))
        files = str(tree.files)
        dirs = {name: str(p) for name, p in schemes.items()}
        for entry in tree.entries:
            target_name = f"{dirs[entry.scheme]}/{entry.path}"
            source = f"{files}/{entry.source}"
            folder_of(target_name)
            if entry.python_script and not _WINDOWS:
                with open(source, "rb") as script:
                    data = _relocatable(script).read()
                digest = _write_new(Path(target_name), data, executable=True)
                hash_, size = Hash("sha256", digest), len(data)
            else:
                linker.place(source, target_name)
                hash_, size = Hash("sha256", entry.sha256), entry.size
            records.append((Scheme(entry.scheme), RecordEntry(entry.path, hash_, size)))
        dist_info = schemes[root] / tree.dist_info
        installer_path = f"{tree.dist_info}/INSTALLER"
        digest = _write_new(dist_info / "INSTALLER", INSTALLER_NAME, executable=False)
        installer_record = RecordEntry(installer_path, Hash("sha256", digest), len(INSTALLER_NAME))
        records.append((Scheme(root), installer_record))
        record_path = f"{tree.dist_info}/RECORD"
        records.append((Scheme(root), RecordEntry(record_path, None, None)))

        def prefix_for_scheme(scheme: Scheme) -> str | None:
            if scheme == root:
                return None
            if _WINDOWS:
                return os.path.abspath(schemes[scheme]) + "/"
            return os.path.relpath(schemes[scheme], start=schemes[root]) + "/"

        with construct_record_file(records, prefix_for_scheme) as stream:
            _write_new(dist_info / "RECORD", stream.read(), executable=False)
    except OSError as exc:
        raise InstallError(tree.wheel, str(exc) or type(exc).__name__) from None
