"""Install wheels into an environment with ``installer``, leaving nothing that names its path.

Console and GUI scripts, and ``#!python`` scripts shipped in a wheel's ``.data/scripts``, get a
POSIX ``sh``/Python polyglot header that runs the ``python`` found beside the script itself
(after resolving symlinks to the script, with ``sh`` builtins and ``readlink``: see
``RELOCATABLE_HEADER``), the approach of ``uv venv --relocatable``: the environment can be
moved or restored elsewhere and its tools still run. ``RECORD`` paths are relative to
site-packages. Where the host's launchers are ``.exe`` files (Windows, see ``toolcache.host``)
the scripts are ``installer``'s launchers, which name the environment's ``python.exe`` by
absolute path.

A wheel comes either as its archive (installed by ``installer``) or, on the build path, as its
tree unpacked in the cache (``toolcache.envs.unpacked``): then every file is cloned into place
(a reflink where the file system has them, else a copy made in the kernel), and only the
launchers, rewritten ``#!python`` scripts, ``INSTALLER`` and ``RECORD`` are written, laid out
exactly as ``installer`` lays them out. No file is shared with the cache or with another
environment, so an edit in one place never reaches another. ``TOOLCACHE_LINK_MODE=hardlink``
hard-links instead (faster, as uv does by default; then an edit of an installed file edits the
cache's copy too, which ``toolcache verify`` reports).

Every file placed is reported with the sha256 and size its wheel's ``RECORD`` vouches for (or
that of the bytes written, for the files made here): the environment's file manifest.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
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

from toolcache import host
from toolcache.envs import unpacked as unpacked_mod
from toolcache.envs.files import record_digest
from toolcache.errors import ToolcacheError

_WINDOWS = host.current().launcher == host.EXE_LAUNCHER

#: Runs as ``sh``: execs the ``python`` beside the script, its symlinks followed, on the
#: script. Runs as Python: line 1 is a comment and the rest one string literal.
#:
#: Only ``sh`` builtins, and ``readlink`` (no option) when ``$0`` is a symlink: no
#: ``realpath(1)``, which macOS 12 and older lack (uv's launchers hit this, astral-sh/uv#13807),
#: nor ``dirname``. ``$0`` is made absolute with ``$PWD`` (the working directory is left
#: alone); each link's target is read and, when relative, joined to the link's folder, at most
#: 40 times (a loop of links then fails as the kernel would); the kernel resolves the folders.
#: No backslash and no three quotes in a row in between, so the literal means nothing to
#: Python. The variables are ``_tc_``-prefixed: one already exported would stay exported.
RELOCATABLE_HEADER = (
    b"#!/bin/sh\n"
    b"'''true'\n"
    b"_tc_f=$0 _tc_n=0\n"
    b"case $_tc_f in /*) ;; *) _tc_f=$PWD/$_tc_f ;; esac\n"
    b'while [ -h "$_tc_f" ] && [ $_tc_n -lt 40 ]; do\n'
    b'_tc_l=$(readlink "$_tc_f") || break\n'
    b"case $_tc_l in /*) _tc_f=$_tc_l ;; *) _tc_f=${_tc_f%/*}/$_tc_l ;; esac\n"
    b"_tc_n=$((_tc_n + 1))\n"
    b"done\n"
    b'exec "${_tc_f%/*}/python" "$0" "$@"\n'
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


#: A file placed in an environment: its absolute path, the sha256 its RECORD gives (urlsafe
#: base64, as RECORD writes it) and its size.
Placed = tuple[str, str, int]


def install_wheel(
    wheel: Path, layout: Layout, python: Path, *, mode: str = "clone"
) -> list[Placed]:
    """Install ``wheel`` (an archive, or a tree unpacked by ``toolcache.envs.unpacked``) into
    ``layout`` and return every file placed. Safe to call for several wheels at once
    (distinct wheels write distinct files; a clash raises InstallError). No bytecode is
    compiled (the interpreter may differ from this one); the environment's ``python`` writes
    it on use."""
    if wheel.is_dir():
        tree = unpacked_mod.load(wheel)
        if tree is None:
            raise InstallError(wheel.name, f"{wheel} is not an unpacked wheel")
        return link_unpacked(tree, layout, python, mode=mode)
    destination = RelocatableDestination(
        scheme_dict=layout.as_dict(),
        interpreter=str(python),
        script_kind=_script_kind(),  # type: ignore[arg-type]
    )
    try:
        with WheelFile.open(wheel) as source:
            install(source, destination, additional_metadata={"INSTALLER": INSTALLER_NAME})
            dist_info = source.dist_info_dir
            purelib = source.read_dist_info("WHEEL").find("Root-Is-Purelib: true") >= 0
        root = Path(layout.as_dict()["purelib" if purelib else "platlib"])
        return _placed_from_record(root, root / dist_info / "RECORD")
    except (ValueError, KeyError, OSError) as exc:
        # installer raises InvalidWheelSource (a ValueError) and FileExistsError, among others
        raise InstallError(wheel.name, str(exc) or type(exc).__name__) from None


def _placed_from_record(root: Path, record: Path) -> list[Placed]:
    """The files a RECORD that ``installer`` just wrote lists (the RECORD itself hashed)."""
    from installer.records import parse_record_file

    placed: list[Placed] = []
    for path, hash_text, size in parse_record_file(record.read_text("utf-8").splitlines()):
        target = os.path.normpath(root / path)
        if hash_text:
            digest = hash_text.split("=", 1)[1]
            placed.append((target, digest, int(size)))
        else:
            data = Path(target).read_bytes()
            sha = record_digest(hashlib.sha256(data).digest())
            placed.append((target, sha, len(data)))
    return placed


#: How files are placed from the unpacked tree: "clone" (reflink, else copy) or "hardlink".
LINK_MODES = ("clone", "hardlink")


def link_mode() -> str:
    mode = os.environ.get("TOOLCACHE_LINK_MODE", "clone").strip().lower() or "clone"
    if mode == "copy":
        return "clone"
    if mode not in LINK_MODES:
        raise ToolcacheError(
            f"TOOLCACHE_LINK_MODE={mode!r}: expected one of {', '.join(LINK_MODES)}"
        )
    return mode


_FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)
#: File systems (``st_dev``) that refused a reflink: not asked again in this process.
_NO_REFLINK: set[int] = set()


#: The host's way of sharing a file's blocks (``toolcache.host``): FICLONE or clonefile(2).
_LINK = host.current().link


def _clone(source: str, target: str) -> None:
    """A new file at ``target`` with ``source``'s bytes and permission bits: a clone where
    the file system shares extents (``clonefile`` on APFS; a reflink on btrfs, xfs), else a
    copy made in the kernel (``copy_file_range``), else by reads and writes."""
    if _LINK == host.CLONEFILE and host.clonefile(source, target):
        return
    src = os.open(source, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        st = os.fstat(src)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        dst = os.open(target, flags, st.st_mode & 0o777)
        try:
            if not _reflink(src, dst, st.st_dev):
                _copy_fd(src, dst, st.st_size)
        finally:
            os.close(dst)
    finally:
        os.close(src)


def _reflink(src: int, dst: int, device: int) -> bool:
    if _LINK != host.REFLINK or device in _NO_REFLINK:
        return False
    import fcntl

    try:
        fcntl.ioctl(dst, _FICLONE, src)
    except OSError:
        _NO_REFLINK.add(device)
        return False
    return True


def _copy_fd(src: int, dst: int, size: int) -> None:
    offset = 0
    if hasattr(os, "copy_file_range"):
        try:
            while offset < size:
                sent = os.copy_file_range(src, dst, size - offset)
                if sent == 0:
                    break
                offset += sent
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                raise
    os.lseek(src, offset, os.SEEK_SET)
    os.lseek(dst, offset, os.SEEK_SET)
    while chunk := os.read(src, 1 << 20):
        view = memoryview(chunk)
        while view:
            view = view[os.write(dst, view) :]


class _Linker:
    """Places files from the unpacked tree: clones them, or with ``hardlink`` links them
    (copying after a link fails across filesystems)."""

    def __init__(self, mode: str = "clone") -> None:
        self.copying = mode != "hardlink"

    def place(self, source: str, target: str) -> None:
        """Link (else clone) ``source`` at ``target``, which must not exist."""
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
        _clone(source, target)


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
    return record_digest(hashlib.sha256(data).digest())


def link_unpacked(
    tree: unpacked_mod.Unpacked, layout: Layout, python: Path, *, mode: str = "clone"
) -> list[Placed]:
    """Install an unpacked wheel into ``layout`` as ``installer`` would install the archive:
    the same files at the same places, the same launchers, ``INSTALLER`` and a ``RECORD``
    with paths relative to the root scheme. Files are cloned (or linked) from the tree.
    Returns every file placed, with the hash and size the tree's RECORD vouches for."""
    schemes = {name: Path(p) for name, p in layout.as_dict().items()}
    root = tree.root_scheme
    records: list[tuple[Scheme, RecordEntry]] = []
    placed: list[Placed] = []
    made: set[str] = set()
    linker = _Linker(mode)

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
            placed.append((str(target), digest, len(data)))
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
            placed.append((target_name, hash_.value, size))
        dist_info = schemes[root] / tree.dist_info
        installer_path = f"{tree.dist_info}/INSTALLER"
        digest = _write_new(dist_info / "INSTALLER", INSTALLER_NAME, executable=False)
        installer_record = RecordEntry(installer_path, Hash("sha256", digest), len(INSTALLER_NAME))
        records.append((Scheme(root), installer_record))
        placed.append((str(dist_info / "INSTALLER"), digest, len(INSTALLER_NAME)))
        record_path = f"{tree.dist_info}/RECORD"
        records.append((Scheme(root), RecordEntry(record_path, None, None)))

        def prefix_for_scheme(scheme: Scheme) -> str | None:
            if scheme == root:
                return None
            if _WINDOWS:
                return os.path.abspath(schemes[scheme]) + "/"
            return os.path.relpath(schemes[scheme], start=schemes[root]) + "/"

        with construct_record_file(records, prefix_for_scheme) as stream:
            record_bytes = stream.read()
        digest = _write_new(dist_info / "RECORD", record_bytes, executable=False)
        placed.append((str(dist_info / "RECORD"), digest, len(record_bytes)))
    except OSError as exc:
        raise InstallError(tree.wheel, str(exc) or type(exc).__name__) from None
    return placed
