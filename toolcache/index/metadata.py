"""A release's core metadata: PEP 658 file, else the wheel's METADATA, else an sdist build.

A wheel's METADATA is read, in this order of preference: from the wheel already downloaded
(verified); from the cache of METADATA read earlier; by HTTP range requests
(``lazy_wheel``), which is as trustworthy as a PEP 658 file without a hash and is cached under
the wheel's sha256 like one; by downloading the whole wheel (verified, kept for installing).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from pathlib import Path

from packaging.metadata import parse_email
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from toolcache.errors import MetadataError
from toolcache.index import urls
from toolcache.index.client import IndexClient, IndexHTTPError, verify_bytes
from toolcache.index.lazy_wheel import TAIL_BYTES, LazyWheel, LazyWheelUnavailable
from toolcache.index.models import DistFile, DistMetadata
from toolcache.index.sdist import SdistBuilder


def parse_metadata(data: bytes, what: str) -> DistMetadata:
    """Core metadata from its email-header form. ``what`` names the file in errors.

    Unknown or malformed fields other than those resolution needs are ignored; an invalid
    ``Requires-Dist`` is an error, since resolving without it would be wrong.
    """
    raw, _ = parse_email(data)
    name, version_text = raw.get("name"), raw.get("version")
    if not name or not version_text:
        raise MetadataError(f"{what}: metadata has no Name or Version")
    try:
        version = Version(version_text)
    except InvalidVersion:
        raise MetadataError(f"{what}: invalid Version {version_text!r} in metadata") from None
    requirements: list[Requirement] = []
    for line in raw.get("requires_dist", []):
        try:
            requirements.append(Requirement(line))
        except InvalidRequirement as exc:
            raise MetadataError(f"{what}: invalid Requires-Dist {line!r}: {exc}") from None
    requires_python: SpecifierSet | None = None
    if raw.get("requires_python"):
        try:
            requires_python = SpecifierSet(raw["requires_python"])
        except InvalidSpecifier:
            requires_python = None
    return DistMetadata(
        name=canonicalize_name(name),
        version=version,
        requires_dist=tuple(requirements),
        requires_python=requires_python,
        provides_extra=frozenset(canonicalize_name(e) for e in raw.get("provides_extra", [])),
    )


def check_matches(metadata: DistMetadata, file: DistFile, what: str) -> None:
    if metadata.name != file.project or metadata.version != file.version:
        raise MetadataError(
            f"{what}: metadata is for {metadata.name} {metadata.version}, "
            f"expected {file.project} {file.version}"
        )


def metadata_member(names: Iterable[str], file: DistFile) -> str:
    """The wheel's ``{name}-{version}.dist-info/METADATA`` member.

    The ``.dist-info`` directory at the top of the archive named after the file's project and
    version (both compared normalized: older wheels do not escape the name), else the one named
    after the project alone, so that a wrong version is reported by ``check_matches``. Never a
    METADATA of some other project the wheel happens to carry.
    """
    by_name: list[str] = []
    exact: list[str] = []
    for name in names:
        directory, _, leaf = name.partition("/")
        if leaf != "METADATA" or not directory.endswith(".dist-info"):
            continue
        project, _, version = directory.removesuffix(".dist-info").rpartition("-")
        if canonicalize_name(project) != file.project:
            continue
        by_name.append(name)
        try:
            if Version(version) == file.version:
                exact.append(name)
        except InvalidVersion:
            pass
    for found in (exact, by_name):
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise MetadataError(f"{file.filename}: several .dist-info/METADATA: {sorted(found)}")
    raise MetadataError(f"{file.filename}: no {file.project}-{file.version}.dist-info/METADATA")


def read_wheel_metadata(source: Path | bytes, file: DistFile) -> bytes:
    """The METADATA of a whole wheel, from its path or its bytes."""
    try:
        with zipfile.ZipFile(source if isinstance(source, Path) else io.BytesIO(source)) as zf:
            return zf.read(metadata_member(zf.namelist(), file))
    except (zipfile.BadZipFile, OSError, KeyError, ValueError, EOFError) as exc:
        raise MetadataError(f"{file.filename}: not a readable wheel ({exc})") from None


def read_metadata_lazily(client: IndexClient, file: DistFile) -> bytes:
    """A remote wheel's METADATA read by range requests (see ``lazy_wheel`` for the trust).

    Raises ``LazyWheelUnavailable`` when the wheel cannot be read that way, and
    ``HashMismatch`` when the first request brought the whole file and it is not the one the
    index promised.
    """
    wheel = LazyWheel(client, file.url, size=file.size)
    if wheel.whole is not None:
        verify_bytes(file.filename, wheel.whole, file.sha256)
        return read_wheel_metadata(wheel.whole, file)
    return wheel.read(metadata_member(wheel.namelist(), file))


def _unhashed_key(file: DistFile) -> str | None:
    """The blob key for METADATA that no hash of its own covers (a PEP 658 file the index gives
    no hash for, or a wheel's METADATA read by ranges): the same bytes, the same trust. None
    when the index gave no sha256 for the file itself: the key would name nothing immutable."""
    return f"metadata-of:{file.sha256}" if file.sha256 else None


class MetadataFetcher:
    """``DistFile`` -> ``DistMetadata``, verifying what it downloads against the index's
    hashes where the index gives one; a PEP 658 file without a hash and METADATA read by
    ranges cannot be verified."""

    def __init__(self, client: IndexClient, sdists: SdistBuilder) -> None:
        self.client = client
        self.sdists = sdists

    def fetch(self, file: DistFile) -> DistMetadata:
        what = file.filename
        data: bytes | None = None
        if file.has_metadata_file:
            what = f"{file.filename}.metadata"
            try:
                data = self.client.get_blob(
                    f"{file.url}.metadata", file.metadata_sha256, cache_key=_unhashed_key(file)
                )
            except IndexHTTPError as exc:
                if exc.status != 404:
                    raise
                what = file.filename  # advertised but missing: read the file itself
        if data is None and file.kind == "wheel":
            data = self._wheel_metadata(file)
        elif data is None:
            path = self.client.download(file.url, file.sha256, filename=file.filename)
            data = self.sdists.metadata(path, file.sha256)
        metadata = parse_metadata(data, what)
        check_matches(metadata, file, what)
        return metadata

    def _wheel_metadata(self, file: DistFile) -> bytes:
        stored = self.client.stored(file.sha256, file.filename)
        if stored is not None:
            return read_wheel_metadata(stored, file)
        key = _unhashed_key(file)
        if key is not None:
            cached = self.client.read_blob(key)
            if cached is not None:
                return cached
        # A wheel no bigger than the tail costs one request either way: take it verified.
        small = file.size is not None and file.size <= TAIL_BYTES
        if not (small or self.client.offline or urls.is_file_url(file.url)):
            try:
                data = read_metadata_lazily(self.client, file)
            except LazyWheelUnavailable:
                pass
            else:
                if key is not None:
                    self.client.write_blob(key, data)
                return data
        path = self.client.download(file.url, file.sha256, filename=file.filename)
        return read_wheel_metadata(path, file)
