"""PEP 751 lock files, one per tool: ``<manifest-stem>.lock/pylock.<tool>.toml``.

A lock covers several targets (``lockfile.targets``): ``environments`` lists each target's
marker, and every release any target uses is listed once, with a ``marker`` where not every
target uses it, every wheel a target can use and the sdist where a target has no wheel, all
with sha256. Under ``[tool.toolcache]`` are the inputs that produced it (requirements, index
settings, ``exclude-newer``, prerelease mode, the manifest's targets) and their hash, so a
stale lock is found by comparing hashes without touching the network, and the targets added
for runners the manifest did not name. No interpreter is recorded: what to install on one is
chosen from the lock (``lockfile.selection``). The bytes are deterministic: the same
resolutions give the same file from any machine. Files are written atomically.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from toolcache import atomic, keys, paths
from toolcache.errors import LockError, ToolcacheError
from toolcache.index.models import IndexSettings
from toolcache.lockfile.markers import marker_for, requires_python
from toolcache.lockfile.targets import LockTarget, names
from toolcache.lockfile.targets import parse as parse_target
from toolcache.manifest import format_timestamp

if TYPE_CHECKING:
    from toolcache.index.models import DistFile
    from toolcache.project import ProjectInputs
    from toolcache.resolver.universal import TargetResolution

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

FORMAT = 2
CREATED_BY = "toolcache"


@dataclass(frozen=True)
class LockedPackage:
    name: str
    version: str
    kind: str  # "wheel", "sdist" or "directory" (a local project folder)
    filename: str
    url: str | None
    path: str | None
    sha256: str
    size: int | None


@dataclass(frozen=True)
class ToolLock:
    """A lock as read. ``targets`` are all it covers, ``added`` those of them added for
    runners the manifest did not name; ``document`` is the parsed TOML (for selection).
    ``outdated`` says why the lock must be made again: its packages were changed since it
    was locked, or it is of an older format (then only ``path`` and ``tool`` mean anything)."""

    path: Path
    tool: str
    inputs_hash: keys.InputsHash
    inputs: Mapping[str, Any]
    targets: tuple[LockTarget, ...]
    added: tuple[LockTarget, ...]
    document: Mapping[str, Any]
    entries: int
    outdated: str | None = None


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


def settings_view(settings: IndexSettings, base: Path) -> dict[str, Any]:
    """Index settings as recorded: credentials redacted, local paths relative to ``base``."""
    from toolcache.index import urls

    def local(link: str) -> str:
        if urls.is_file_url(link):
            return paths.relative_posix(urls.file_url_to_path(link), base)
        if "://" in link:
            return urls.redact(link)
        return paths.relative_posix(Path(link), base)

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
    targets: Sequence[LockTarget],
    prerelease: str,
    project: ProjectInputs | None = None,
    *,
    base: Path | None = None,
) -> dict[str, Any]:
    """Everything a tool's resolution depends on, in canonical form. ``requirements`` are the
    manifest's own; what a tool takes from its project is under ``project`` (absent when it
    takes nothing, so locks of tools without one keep their hash). Local requirements are
    under ``local``: name, path (relative to ``base``, the manifest's folder) and fingerprint
    (``toolcache.local``), so an edited plugin or a replaced wheel makes the lock stale."""
    from toolcache.local import local_path

    out: dict[str, Any] = {
        "requirements": sorted({canonical_requirement(r) for r in requirements}),
        **settings,
        "prerelease": prerelease,
        "targets": names(targets),
    }
    if project is not None:
        out["project"] = project.recorded(canonical_requirement)
    local = []
    for req in requirements:
        path = local_path(req)
        if path is not None:
            local.append(
                {
                    "name": canonicalize_name(req.name),
                    "path": paths.relative_posix(path, base or Path.cwd()),
                    "content-hash" if path.is_dir() else "sha256": _fingerprint(path),
                }
            )
    if local:
        out["local"] = sorted(local, key=lambda e: (e["name"], e["path"]))
    return out


def _fingerprint(path: Path) -> str:
    from toolcache.local import fingerprint

    try:
        return fingerprint(path)
    except OSError as exc:
        raise LockError(f"cannot read local requirement {path}: {exc}") from None


@dataclass
class _Entry:
    """One release in the lock: the targets that use it and the files they need."""

    name: str
    version: str
    targets: set[LockTarget]
    files: dict[str, DistFile]
    dependencies: set[tuple[str, str]]  # (name, version) as resolved beside it


def _check_markers_separate(results: Sequence[TargetResolution]) -> None:
    """Targets a marker cannot tell apart (glibc and musl of one machine) must agree."""
    by_key: dict[tuple[str, ...], TargetResolution] = {}
    for result in results:
        key = result.target.marker_key()
        first = by_key.setdefault(key, result)
        mine = {(p.name, str(p.version)) for p in result.resolution.packages}
        theirs = {(p.name, str(p.version)) for p in first.resolution.packages}
        if mine != theirs:
            differ = sorted(f"{n}=={v}" for n, v in mine ^ theirs)
            raise LockError(
                f"targets {first.target.name} and {result.target.name} need different releases "
                f"({', '.join(differ[:4])}) but no marker can tell them apart; "
                "lock them in separate manifests"
            )


def _file_entry(f: DistFile, lock_dir: Path) -> tuple[dict[str, Any], str | None]:
    """The PEP 751 file table, and the index it came from (None for a local file)."""
    from toolcache.index import urls

    if not f.sha256:
        raise LockError(f"{f.filename} has no sha256 on its index; it cannot be locked")
    entry: dict[str, Any] = {"name": f.filename}
    if f.upload_time is not None:
        entry["upload-time"] = f.upload_time
    index = None
    if urls.is_file_url(f.url):
        entry["path"] = paths.relative_posix(urls.file_url_to_path(f.url), lock_dir)
    else:
        index = urls.redact(f.index)
        entry["url"] = urls.redact(f.url)
    if f.size is not None:
        entry["size"] = f.size
    entry["hashes"] = {"sha256": f.sha256}
    return entry, index


def render(
    tool: str,
    inputs: Mapping[str, Any],
    results: Sequence[TargetResolution],
    added: Sequence[LockTarget],
    lock_dir: Path,
) -> str:
    """The lock's TOML text. Deterministic: no times but the files' own upload times."""
    import tomli_w

    from toolcache.index import urls

    if not results:
        raise LockError(f"tool {tool!r} could be resolved for none of its targets")
    _check_markers_separate(results)
    targets = sorted({r.target for r in results})
    entries: dict[tuple[str, str], _Entry] = {}
    for result in results:
        pinned = {str(p.name): str(p.version) for p in result.resolution.packages}
        for pkg in result.resolution.packages:
            release = (str(pkg.name), str(pkg.version))
            entry = entries.setdefault(release, _Entry(*release, set(), {}, set()))
            entry.targets.add(result.target)
            entry.dependencies.update((str(d), pinned[str(d)]) for d in pkg.dependencies)
            for f in result.files[pkg.name]:
                entry.files.setdefault(f.filename, f)
    versions: dict[str, int] = {}
    for name, _ in entries:
        versions[name] = versions.get(name, 0) + 1
    packages: list[dict[str, Any]] = []
    for release in sorted(entries, key=lambda k: (k[0], Version(k[1]))):
        entry = entries[release]
        table: dict[str, Any] = {"name": entry.name, "version": entry.version}
        marker = marker_for(sorted(entry.targets), targets)
        if marker is not None:
            table["marker"] = marker
        wheels, sdist, indexes = [], None, set()
        for filename in sorted(entry.files):
            f = entry.files[filename]
            if f.kind == "directory":  # a local project folder: built when installed
                path = urls.file_url_to_path(f.url)
                table["directory"] = {
                    "path": paths.relative_posix(path, lock_dir),
                    "editable": False,
                }
                table["tool"] = {"toolcache": {"content-hash": f.sha256}}
                continue
            file_table, index = _file_entry(f, lock_dir)
            if index is not None:
                indexes.add(index)
            if f.kind == "wheel":
                wheels.append(file_table)
            elif sdist is None:
                sdist = file_table
        if len(indexes) == 1:
            table["index"] = indexes.pop()
        if entry.dependencies:
            # Enough to find the entry without ambiguity: the version only where the lock
            # lists the dependency more than once.
            table["dependencies"] = [
                {"name": d, "version": v} if versions[d] > 1 else {"name": d}
                for d, v in sorted(
                    {(d, v if versions[d] > 1 else "") for d, v in entry.dependencies},
                    key=lambda dv: (dv[0], Version(dv[1]) if dv[1] else Version("0")),
                )
            ]
        if sdist is not None:
            table["sdist"] = sdist
        if wheels:
            table["wheels"] = wheels
        packages.append(table)
    environments = sorted({t.marker for t in targets})
    body: dict[str, Any] = {
        "environments": environments,
        "requires-python": requires_python(targets),
        "packages": packages,
    }
    document: dict[str, Any] = {
        "lock-version": "1.0",
        "environments": environments,
        "requires-python": requires_python(targets),
        "created-by": CREATED_BY,
        "packages": packages,
        "tool": {
            "toolcache": {
                "format": FORMAT,
                "tool": tool,
                "inputs-hash": keys.inputs_hash(inputs),
                "packages-hash": packages_hash(body),
                "targets": names(targets),
                "added-targets": names(added),
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


def packages_hash(document: Mapping[str, Any]) -> str:
    """sha256 of what a lock says to install (``environments``, ``requires-python``,
    ``packages``) in canonical TOML: a hand edit there makes the lock stale."""
    import hashlib

    import tomli_w

    body = {
        k: document[k] for k in ("environments", "requires-python", "packages") if k in document
    }
    return hashlib.sha256(tomli_w.dumps(body).encode("utf-8")).hexdigest()


def read(path: Path) -> ToolLock | None:
    """The lock at ``path``, None when there is none, LockError when it is not ours or broken.

    A lock of an older format is returned with ``outdated`` set: it is stale, not an error.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise LockError(f"{path}: cannot read lock: {exc}") from None
    try:
        meta = data["tool"]["toolcache"]
        tool = str(meta["tool"])
        if meta["format"] != FORMAT:
            why = (
                f"written by an older toolcache (lock format {meta['format']}, "
                f"now {FORMAT}: one lock for many interpreters)"
            )
            return ToolLock(path, tool, keys.InputsHash(""), {}, (), (), {}, 0, why)
        edited = None
        if "packages-hash" not in meta:  # locked before locks vouched for their packages
            edited = "written by an older toolcache (no packages-hash): locked again"
        elif meta["packages-hash"] != packages_hash(data):
            edited = "its packages were changed since it was locked"
        return ToolLock(
            path=path,
            tool=tool,
            outdated=edited,
            inputs_hash=keys.InputsHash(str(meta["inputs-hash"])),
            inputs=dict(meta["inputs"]),
            targets=tuple(parse_target(str(n)) for n in meta["targets"]),
            added=tuple(parse_target(str(n)) for n in meta.get("added-targets", ())),
            document=data,
            entries=len(data["packages"]),
        )
    except (KeyError, TypeError, ValueError, ToolcacheError) as exc:
        raise LockError(f"{path}: not a toolcache lock (missing or bad {exc})") from None


def staleness(lock: ToolLock | None, inputs: Mapping[str, Any]) -> str | None:
    """Why ``lock`` does not fit ``inputs`` (a reason a person can read), or None if fresh."""
    if lock is None:
        return "no lock yet"
    if lock.outdated is not None:
        return lock.outdated
    if lock.inputs_hash == keys.inputs_hash(inputs):
        return None
    changed = [
        k for k in sorted(set(inputs) | set(lock.inputs)) if lock.inputs.get(k) != inputs.get(k)
    ]
    if not changed:
        return "the lock's recorded inputs do not match its hash"
    said = []
    if "project" in changed:
        from toolcache.project import changes

        said = changes(lock.inputs.get("project"), inputs.get("project"))
        changed.remove("project")
    if "local" in changed:
        said += _local_changes(lock.inputs.get("local") or [], inputs.get("local") or [])
        changed.remove("local")
    if changed:
        said.append("changed since it was locked: " + ", ".join(changed))
    return "; ".join(said) or "the project it reads changed"


def _local_changes(old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]) -> list[str]:
    """What changed among the local requirements, naming each path."""
    before = {str(e.get("path")): e for e in old}
    said = []
    for entry in new:
        path = str(entry.get("path"))
        if path not in before:
            said.append(f"local requirement {path} was added")
        elif before.pop(path) != entry:
            what = "sources" if "content-hash" in entry else "file"
            said.append(f"the {what} of local requirement {path} changed")
    said += [f"local requirement {path} was removed" for path in before]
    return said
