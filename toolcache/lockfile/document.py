"""PEP 751 locks, one per tool: ``<manifest-stem>.lock/pylock.<tool>.toml``.

A lock records the resolved packages (one chosen file each, with its sha256) for one target,
and under ``[tool.toolcache]`` the inputs that produced it (requirements, index settings,
``exclude-newer``, prerelease mode, interpreter hash) and their hash, so a stale lock is found
by comparing hashes without touching the network. The bytes are deterministic: the same
resolution gives the same file on any machine. Files are written atomically.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from toolcache import atomic, keys
from toolcache.errors import LockError
from toolcache.index.models import IndexSettings
from toolcache.manifest import format_timestamp

if TYPE_CHECKING:
    from toolcache.resolver.resolve import Resolution
    from toolcache.target import Target

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

FORMAT = 1
CREATED_BY = "toolcache"


@dataclass(frozen=True)
class LockedPackage:
    name: str
    version: str
    kind: str  # "wheel" or "sdist"
    filename: str
    url: str | None
    path: str | None
    sha256: str
    size: int | None


@dataclass(frozen=True)
class ToolLock:
    path: Path
    tool: str
    inputs_hash: keys.InputsHash
    inputs: Mapping[str, Any]
    interpreter: keys.InterpreterHash
    resolution: keys.ResolutionHash
    packages: tuple[LockedPackage, ...]


def canonical_requirement(req: Requirement) -> str:
    """A requirement's string with its name and extras normalised, for hashing and display."""
    out: str = canonicalize_name(req.name)
    if req.extras:
        out += "[" + ",".join(sorted(canonicalize_name(e) for e in req.extras)) + "]"
    if req.specifier:
        out += ",".join(sorted(str(s) for s in req.specifier))
    if req.marker is not None:
        out += f"; {req.marker}"
    return out


def _relative(path: Path, base: Path) -> str:
    """``path`` relative to ``base`` in POSIX form (absolute when on another drive)."""
    try:
        return Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()
    except ValueError:  # another drive on Windows
        return path.as_posix()


def settings_view(settings: IndexSettings, base: Path) -> dict[str, Any]:
    """Index settings as recorded: credentials redacted, local paths relative to ``base``."""
    from toolcache.index import urls

    def local(link: str) -> str:
        if urls.is_file_url(link):
            return _relative(urls.file_url_to_path(link), base)
        if "://" in link:
            return urls.redact(link)
        return _relative(Path(link), base)

    return {
        "index-url": urls.redact(settings.index_url),
        "extra-index-urls": [urls.redact(u) for u in settings.extra_index_urls],
        "find-links": [local(link) for link in settings.find_links],
        "exclude-newer": format_timestamp(settings.exclude_newer)
        if settings.exclude_newer
        else None,
    }


def lock_inputs(
    requirements: Sequence[Requirement],
    settings: Mapping[str, Any],
    interpreter: str,
    prerelease: str,
) -> dict[str, Any]:
    """Everything a tool's resolution depends on, in canonical form."""
    return {
        "requirements": sorted({canonical_requirement(r) for r in requirements}),
        **settings,
        "prerelease": prerelease,
        "interpreter": interpreter,
    }


def environment_marker(target: Target) -> str:
    m = target.markers
    return (
        f"implementation_name == '{m['implementation_name']}'"
        f" and python_full_version == '{m['python_full_version']}'"
        f" and sys_platform == '{m['sys_platform']}'"
        f" and platform_machine == '{m['platform_machine']}'"
    )


def resolution_hash_of(resolution: Resolution) -> keys.ResolutionHash:
    return keys.resolution_hash(
        (p.name, str(p.version), p.file.sha256 or "") for p in resolution.packages
    )


def render(
    tool: str,
    inputs: Mapping[str, Any],
    resolution: Resolution,
    target: Target,
    lock_dir: Path,
) -> str:
    """The lock's TOML text. Deterministic: no times but the files' own upload times."""
    import tomli_w

    from toolcache.index import urls

    packages: list[dict[str, Any]] = []
    for pkg in resolution.packages:
        f = pkg.file
        if not f.sha256:
            raise LockError(f"{f.filename} has no sha256 on its index; it cannot be locked")
        entry: dict[str, Any] = {"name": pkg.name, "version": str(pkg.version)}
        if pkg.dependencies:
            entry["dependencies"] = [{"name": d} for d in pkg.dependencies]
        if urls.is_file_url(f.url):
            location = {"path": _relative(urls.file_url_to_path(f.url), lock_dir)}
        else:
            entry["index"] = urls.redact(f.index)
            location = {"url": urls.redact(f.url)}
        file_entry: dict[str, Any] = {"name": f.filename}
        if f.upload_time is not None:
            file_entry["upload-time"] = f.upload_time
        file_entry.update(location)
        if f.size is not None:
            file_entry["size"] = f.size
        file_entry["hashes"] = {"sha256": f.sha256}
        if f.kind == "wheel":
            entry["wheels"] = [file_entry]
        else:
            entry["sdist"] = file_entry
        packages.append(entry)
    interpreter = str(inputs["interpreter"])
    document: dict[str, Any] = {
        "lock-version": "1.0",
        "environments": [environment_marker(target)],
        "created-by": CREATED_BY,
        "packages": packages,
        "tool": {
            "toolcache": {
                "format": FORMAT,
                "tool": tool,
                "inputs-hash": keys.inputs_hash(inputs),
                "interpreter": interpreter,
                "resolution": resolution_hash_of(resolution),
                "inputs": {k: v for k, v in inputs.items() if v is not None},
            }
        },
    }
    return tomli_w.dumps(document)


def write(path: Path, text: str) -> bool:
    """Write ``text`` atomically unless the file already holds it; True if written."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    atomic.write_bytes(path, text.encode("utf-8"))
    return True


def read(path: Path) -> ToolLock | None:
    """The lock at ``path``, None when there is none, LockError when it is not ours or broken."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise LockError(f"{path}: cannot read lock: {exc}") from None
    try:
        meta = data["tool"]["toolcache"]
        if meta["format"] != FORMAT:
            return None  # another format: treated as missing, re-resolved
        packages = tuple(_package(p) for p in data["packages"])
        return ToolLock(
            path=path,
            tool=str(meta["tool"]),
            inputs_hash=keys.InputsHash(str(meta["inputs-hash"])),
            inputs=dict(meta["inputs"]),
            interpreter=keys.InterpreterHash(str(meta["interpreter"])),
            resolution=keys.ResolutionHash(str(meta["resolution"])),
            packages=packages,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise LockError(f"{path}: not a toolcache lock (missing or bad {exc})") from None


def _package(entry: Mapping[str, Any]) -> LockedPackage:
    if "wheels" in entry:
        kind, file = "wheel", entry["wheels"][0]
    else:
        kind, file = "sdist", entry["sdist"]
    url, path = file.get("url"), file.get("path")
    filename = file.get("name") or str(url or path).rsplit("/", 1)[-1]
    return LockedPackage(
        name=str(entry["name"]),
        version=str(entry["version"]),
        kind=kind,
        filename=str(filename),
        url=url,
        path=path,
        sha256=str(file["hashes"]["sha256"]),
        size=file.get("size"),
    )


def staleness(lock: ToolLock | None, inputs: Mapping[str, Any]) -> str | None:
    """Why ``lock`` does not fit ``inputs`` (a reason a person can read), or None if fresh."""
    if lock is None:
        return "no lock yet"
    if lock.inputs_hash == keys.inputs_hash(inputs):
        return None
    changed = [
        k for k in sorted(set(inputs) | set(lock.inputs)) if lock.inputs.get(k) != inputs.get(k)
    ]
    if not changed:
        return "the lock's recorded inputs do not match its hash"
    return "changed since it was locked: " + ", ".join(changed)
