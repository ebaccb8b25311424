"""Local requirements as resolver candidates: one release each, found without the index.

A local requirement (``toolcache.local``) is offered as exactly one ``DistFile``: the wheel
file itself (``kind="wheel"``, its sha256, name and version from its METADATA), or for a
project folder a ``kind="directory"`` file whose ``sha256`` is the folder's content hash and
whose name and version come from the metadata its backend prepares (built once per content
hash, like an sdist's). Their dependencies are resolved from the index as usual.
``LocalFinder`` layers them over an index finder: the index is never asked about them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name, parse_wheel_filename
from packaging.version import Version

from toolcache.errors import MetadataError
from toolcache.index.models import DistFile, DistMetadata
from toolcache.local import content_hash, local_path

if TYPE_CHECKING:
    from toolcache.index.sdist import SdistBuilder
    from toolcache.resolver.universal import UniversalFinder
    from toolcache.target import Target

Local = Mapping[NormalizedName, tuple[DistFile, DistMetadata]]


def _file(
    path: Path,
    kind: Literal["wheel", "directory"],
    version: Version,
    sha256: str,
    meta: DistMetadata,
) -> DistFile:
    return DistFile(
        project=meta.name,
        version=version,
        filename=path.name,
        url=path.as_uri(),
        index="",
        kind=kind,
        sha256=sha256,
        size=path.stat().st_size if kind == "wheel" else None,
        upload_time=None,
        requires_python=meta.requires_python,
        yanked=None,
        tag_rank=0 if kind == "wheel" else None,
        metadata_sha256=None,
        has_metadata_file=False,
    )


def local_candidates(requirements: Iterable[Requirement], builder: SdistBuilder) -> Local:
    """The one file and metadata of each local requirement in ``requirements``, by name."""
    from toolcache.index import disk
    from toolcache.index.metadata import parse_metadata, read_wheel_metadata

    out: dict[NormalizedName, tuple[DistFile, DistMetadata]] = {}
    for req in requirements:
        path = local_path(req)
        if path is None:
            continue
        name = canonicalize_name(req.name)
        try:
            if path.is_dir():
                digest = content_hash(path)
                meta = parse_metadata(builder.metadata(path, digest), str(path))
                file = _file(path, "directory", meta.version, digest, meta)
            else:
                _, version, _, _ = parse_wheel_filename(path.name)
                probe = DistMetadata(name, version, (), None, frozenset())
                guess = _file(path, "wheel", version, "", probe)
                meta = parse_metadata(read_wheel_metadata(path, guess), path.name)
                file = _file(path, "wheel", version, disk.sha256_file(path), meta)
        except OSError as exc:
            raise MetadataError(f"cannot read local requirement {path}: {exc}") from None
        if meta.name != name:
            raise MetadataError(f"{path} holds project {meta.name}, not {name}")
        if name in out and out[name][0].url != file.url:
            raise MetadataError(f"two local requirements name {name}: {out[name][0].url}, {path}")
        out[name] = (file, meta)
    return out


class LocalFinder:
    """An index finder (``IndexFinder`` or another ``LocalFinder``'s inner) with the local
    requirements in ``local`` answered here and hidden from the index."""

    def __init__(self, inner: UniversalFinder, local: Local) -> None:
        self.inner = inner
        self.local = local

    def for_target(self, target: Target) -> LocalFinder:
        return LocalFinder(self.inner.for_target(target), self.local)

    def find(self, name: NormalizedName) -> Sequence[DistFile]:
        if name in self.local:
            return (self.local[name][0],)
        return self.inner.find(name)

    def metadata(self, file: DistFile) -> DistMetadata:
        found = self.local.get(file.project)
        if found is not None and found[0] == file:
            return found[1]
        return self.inner.metadata(file)

    def prefetch(self, names: Iterable[NormalizedName]) -> None:
        self.inner.prefetch([n for n in names if n not in self.local])

    def usable_files(self, name: NormalizedName, version: Version) -> list[DistFile]:
        if name in self.local:
            file = self.local[name][0]
            return [file] if file.version == version else []
        return self.inner.usable_files(name, version)
