"""Real wheels and sdists, written with ``zipfile`` and ``tarfile``.

Every builder is deterministic: the same call writes the same bytes (fixed timestamps, fixed
permissions, sorted entries), so a test may pin a file's sha256.

A wheel holds ``{import_name}/__init__.py`` (with ``__version__`` and a ``main()`` that prints
``"{name} {version}"`` followed by its arguments and returns 0) unless ``files`` is given, so
``console_scripts={"tool": "tool:main"}`` alone makes a tool that really runs.

An sdist carries an in-tree PEP 517 backend written with the standard library only, so any
frontend builds it offline with no build requirements. Its ``PKG-INFO`` holds only ``Name`` and
``Version``: the dependencies exist only in the metadata the backend builds.
"""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import io
import json
import tarfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

from packaging.requirements import Requirement
from packaging.tags import parse_tag
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

__all__ = ["build_sdist", "build_wheel", "escaped_name", "import_name", "metadata_text"]

ZIP_DATE_TIME = (2024, 1, 1, 0, 0, 0)
TAR_MTIME = 1704067200  # 2024-01-01T00:00:00Z

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def escaped_name(name: str) -> str:
    """The name as it appears in wheel and sdist filenames: ``Foo.Bar-baz`` -> ``foo_bar_baz``."""
    return canonicalize_name(name).replace("-", "_")


def import_name(name: str) -> str:
    """The default top-level module of a generated distribution."""
    return escaped_name(name)


def _filename_version(version: str) -> str:
    try:
        return str(Version(version))
    except InvalidVersion:
        return version


def metadata_text(
    name: str,
    version: str,
    *,
    requires: Sequence[str] = (),
    requires_python: str | None = None,
    extras: Mapping[str, Sequence[str]] = _EMPTY,
) -> str:
    """Core metadata 2.1: ``Requires-Dist`` per requirement, extras as ``Provides-Extra``."""
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if requires_python is not None:
        lines.append(f"Requires-Python: {requires_python}")
    lines.extend(f"Requires-Dist: {Requirement(r)}" for r in requires)
    for extra, extra_requires in extras.items():
        lines.append(f"Provides-Extra: {extra}")
        for raw in extra_requires:
            req = Requirement(raw)
            marker = f'extra == "{extra}"'
            if req.marker is not None:
                marker = f"({req.marker}) and {marker}"
            req.marker = None
            lines.append(f"Requires-Dist: {req}; {marker}")
    return "\n".join(lines) + "\n"


def _wheel_text(tag: str) -> str:
    tags = sorted(str(t) for t in parse_tag(tag))
    purelib = all(t.endswith("-any") and "-none-" in t for t in tags)
    lines = [
        "Wheel-Version: 1.0",
        "Generator: toolcache-tests",
        f"Root-Is-Purelib: {'true' if purelib else 'false'}",
        *(f"Tag: {t}" for t in tags),
    ]
    return "\n".join(lines) + "\n"


def _entry_points_text(console_scripts: Mapping[str, str]) -> str:
    lines = ["[console_scripts]", *(f"{k} = {v}" for k, v in sorted(console_scripts.items()))]
    return "\n".join(lines) + "\n"


def _dist_info_files(metadata: str, tag: str, console_scripts: Mapping[str, str]) -> dict[str, str]:
    """The ``.dist-info`` files other than ``RECORD``: the wheel's, and the sdist backend's."""
    files = {"METADATA": metadata, "WHEEL": _wheel_text(tag)}
    if console_scripts:
        files["entry_points.txt"] = _entry_points_text(console_scripts)
    return files


def _default_module(name: str, version: str) -> str:
    return (
        "import sys\n"
        "\n"
        f"__version__ = {version!r}\n"
        "\n"
        "\n"
        "def main() -> int:\n"
        f"    print(' '.join([{name!r}, __version__, *sys.argv[1:]]))\n"
        "    return 0\n"
    )


def _package_files(
    name: str, version: str, files: Mapping[str, str | bytes]
) -> dict[str, str | bytes]:
    if not files:
        return {f"{import_name(name)}/__init__.py": _default_module(name, version)}
    for path in files:
        _check_archive_path(path)
    return dict(files)


def _as_bytes(content: str | bytes) -> bytes:
    return content.encode() if isinstance(content, str) else content


def _check_archive_path(path: str) -> None:
    parts = path.split("/")
    if path.startswith("/") or "\\" in path or ".." in parts or "" in parts:
        raise ValueError(f"not a relative archive path: {path!r}")


def _record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _write_zip(target: Path, entries: Mapping[str, bytes]) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in entries.items():
            info = zipfile.ZipInfo(path, date_time=ZIP_DATE_TIME)
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    target.write_bytes(buffer.getvalue())


def build_wheel(
    dest: Path,
    name: str,
    version: str,
    *,
    requires: Sequence[str] = (),
    requires_python: str | None = None,
    extras: Mapping[str, Sequence[str]] = _EMPTY,
    tag: str = "py3-none-any",
    console_scripts: Mapping[str, str] = _EMPTY,
    files: Mapping[str, str | bytes] = _EMPTY,
) -> Path:
    """Write ``{escaped_name}-{version}-{tag}.whl`` into ``dest`` and return its path.

    ``files`` maps archive paths to contents and replaces the default module. The archive lists
    the payload sorted, then the ``.dist-info`` files sorted, with ``RECORD`` last.
    """
    dest.mkdir(parents=True, exist_ok=True)
    stem = f"{escaped_name(name)}-{_filename_version(version)}"
    dist_info = f"{stem}.dist-info"
    payload = _package_files(name, version, files)
    for path in payload:
        if path.startswith(f"{dist_info}/"):
            raise ValueError(f"{path!r} would overwrite generated metadata")
    meta = _dist_info_files(
        metadata_text(
            name, version, requires=requires, requires_python=requires_python, extras=extras
        ),
        tag,
        console_scripts,
    )
    entries = {p: _as_bytes(payload[p]) for p in sorted(payload)}
    entries.update({f"{dist_info}/{p}": _as_bytes(meta[p]) for p in sorted(meta)})
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for path, data in entries.items():
        writer.writerow([path, _record_hash(data), len(data)])
    writer.writerow([f"{dist_info}/RECORD", "", ""])
    entries[f"{dist_info}/RECORD"] = record.getvalue().encode()
    target = dest / f"{stem}-{tag}.whl"
    _write_zip(target, entries)
    return target


_BACKEND = '''\
"""A PEP 517 backend using only the standard library. Generated for tests."""

import base64
import csv
import gzip
import hashlib
import io
import json
import os
import tarfile
import zipfile

_HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(_HERE, "backend.json"), encoding="utf-8") as _f:
    _SPEC = json.load(_f)
_DIST_INFO = _SPEC["stem"] + ".dist-info"


def _meta():
    return sorted(_SPEC["meta"].items())


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    target = os.path.join(metadata_directory, _DIST_INFO)
    os.makedirs(target, exist_ok=True)
    for name, text in _meta():
        with open(os.path.join(target, name), "w", encoding="utf-8", newline="") as f:
            f.write(text)
    return _DIST_INFO


def _hash(data):
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    entries = {}
    for path in sorted(_SPEC["package_files"]):
        with open(os.path.join(_HERE, *path.split("/")), "rb") as f:
            entries[path] = f.read()
    for name, text in _meta():
        entries[_DIST_INFO + "/" + name] = text.encode()
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\\n")
    for path, data in entries.items():
        writer.writerow([path, _hash(data), len(data)])
    writer.writerow([_DIST_INFO + "/RECORD", "", ""])
    entries[_DIST_INFO + "/RECORD"] = record.getvalue().encode()
    filename = _SPEC["stem"] + "-" + _SPEC["tag"] + ".whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as archive:
        for path, data in entries.items():
            info = zipfile.ZipInfo(path, date_time=tuple(_SPEC["date_time"]))
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return filename


def build_sdist(sdist_directory, config_settings=None):
    top = _SPEC["stem"]
    members = {top: None}
    for path in _SPEC["sdist_files"]:
        parts = path.split("/")
        for i in range(1, len(parts)):
            members[top + "/" + "/".join(parts[:i])] = None
        with open(os.path.join(_HERE, *parts), "rb") as f:
            members[top + "/" + path] = f.read()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path in sorted(members):
            data = members[path]
            info = tarfile.TarInfo(path)
            info.mtime = _SPEC["tar_mtime"]
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                archive.addfile(info)
            else:
                info.mode = 0o644
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    filename = top + ".tar.gz"
    with open(os.path.join(sdist_directory, filename), "wb") as f:
        with gzip.GzipFile(fileobj=f, mode="wb", mtime=0, filename="") as gz:
            gz.write(raw.getvalue())
    return filename
'''


def _write_tar_gz(target: Path, top: str, entries: Mapping[str, bytes]) -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        dirs = {top}
        for path in entries:
            parts = path.split("/")[:-1]
            dirs.update(f"{top}/" + "/".join(parts[: i + 1]) for i in range(len(parts)))
        members: list[tuple[str, bytes | None]] = [(d, None) for d in dirs]
        members += [(f"{top}/{p}", data) for p, data in entries.items()]
        for path, data in sorted(members, key=lambda m: m[0]):
            info = tarfile.TarInfo(path)
            info.mtime = TAR_MTIME
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                archive.addfile(info)
            else:
                info.mode = 0o644
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    compressed = io.BytesIO()
    with gzip.GzipFile(fileobj=compressed, mode="wb", mtime=0, filename="") as gz:
        gz.write(raw.getvalue())
    target.write_bytes(compressed.getvalue())


def build_sdist(
    dest: Path,
    name: str,
    version: str,
    *,
    requires: Sequence[str] = (),
    requires_python: str | None = None,
    extras: Mapping[str, Sequence[str]] = _EMPTY,
    console_scripts: Mapping[str, str] = _EMPTY,
    files: Mapping[str, str | bytes] = _EMPTY,
) -> Path:
    """Write ``{escaped_name}-{version}.tar.gz`` into ``dest`` and return its path.

    The tree is ``{escaped_name}-{version}/`` with ``PKG-INFO`` (Name and Version only),
    ``pyproject.toml``, ``backend.py``, ``backend.json`` and the package files (``files``, else
    the default module). Building it gives the wheel ``build_wheel`` would give for the same
    arguments, payload for payload; ``Requires-Dist`` comes only from that build.
    """
    dest.mkdir(parents=True, exist_ok=True)
    stem = f"{escaped_name(name)}-{_filename_version(version)}"
    package = _package_files(name, version, files)
    reserved = {"PKG-INFO", "pyproject.toml", "backend.py", "backend.json"}
    for path in package:
        if path in reserved:
            raise ValueError(f"{path!r} is written by build_sdist")
    meta = _dist_info_files(
        metadata_text(
            name, version, requires=requires, requires_python=requires_python, extras=extras
        ),
        "py3-none-any",
        console_scripts,
    )
    spec = {
        "stem": stem,
        "tag": "py3-none-any",
        "date_time": list(ZIP_DATE_TIME),
        "meta": meta,
        "package_files": sorted(package),
        "sdist_files": sorted([*reserved, *package]),
        "tar_mtime": TAR_MTIME,
    }
    entries: dict[str, bytes] = {
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        "pyproject.toml": (
            b'[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
        ),
        "backend.py": _BACKEND.encode(),
        "backend.json": (json.dumps(spec, indent=1, sort_keys=True) + "\n").encode(),
    }
    entries.update({p: _as_bytes(c) for p, c in package.items()})
    target = dest / f"{stem}.tar.gz"
    _write_tar_gz(target, stem, entries)
    return target
