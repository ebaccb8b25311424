"""A release's core metadata: PEP 658 file, else the wheel's METADATA, else an sdist build."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from packaging.metadata import parse_email
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from toolcache.errors import MetadataError
from toolcache.index.client import IndexClient, IndexHTTPError
from toolcache.index.models import DistFile, DistMetadata
from toolcache.index.sdist import SdistBuilder

_METADATA_IN_WHEEL = re.compile(r"^[^/]+\.dist-info/METADATA$")


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


def read_wheel_metadata(path: Path, filename: str) -> bytes:
    """The ``*.dist-info/METADATA`` of a wheel, preferring the one named after the project."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if _METADATA_IN_WHEEL.match(n)]
            if not names:
                raise MetadataError(f"{filename}: no .dist-info/METADATA in the wheel")
            prefix = filename.split("-", 1)[0].lower() + "-"
            names.sort(key=lambda n: (not n.lower().startswith(prefix), n))
            return zf.read(names[0])
    except (zipfile.BadZipFile, OSError, KeyError) as exc:
        raise MetadataError(f"{filename}: not a readable wheel ({exc})") from None


class MetadataFetcher:
    """``DistFile`` -> ``DistMetadata``, verifying every byte against the index's hashes."""

    def __init__(self, client: IndexClient, sdists: SdistBuilder) -> None:
        self.client = client
        self.sdists = sdists

    def fetch(self, file: DistFile) -> DistMetadata:
        what = file.filename
        data: bytes | None = None
        if file.has_metadata_file:
            what = f"{file.filename}.metadata"
            key = f"metadata-of:{file.sha256}" if file.sha256 else None
            try:
                data = self.client.get_blob(
                    f"{file.url}.metadata", file.metadata_sha256, cache_key=key
                )
            except IndexHTTPError as exc:
                if exc.status != 404:
                    raise
                what = file.filename  # advertised but missing: read the file itself
        if data is None:
            path = self.client.download(file.url, file.sha256, filename=file.filename)
            if file.kind == "wheel":
                data = read_wheel_metadata(path, file.filename)
            else:
                data = self.sdists.metadata(path, file.sha256)
        metadata = parse_metadata(data, what)
        check_matches(metadata, file, what)
        return metadata
