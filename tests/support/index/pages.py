"""What the simple repository API serves: content negotiation between PEP 691 JSON and
PEP 503 HTML, and the root and project pages for a set of published files (PEP 658/714
metadata, PEP 592 yanking, PEP 700 ``upload-time`` and ``size``). File links are relative
(``../../files/<filename>``) so clients must join URLs properly."""

from __future__ import annotations

import hashlib
import html
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_V1_TYPE = "application/vnd.pypi.simple.v1+html"
HTML_TYPE = "text/html"
DEFAULT_UPLOAD_TIME = "2024-01-01T00:00:00Z"
API_VERSION = "1.1"

# Server preference among equally acceptable types; PyPI also prefers plain HTML on a tie.
_OFFERS = (HTML_TYPE, HTML_V1_TYPE, JSON_TYPE)
_ALIASES = {
    "application/vnd.pypi.simple.latest+json": JSON_TYPE,
    "application/vnd.pypi.simple.latest+html": HTML_V1_TYPE,
}


@dataclass(frozen=True)
class IndexFile:
    """One published wheel or sdist, as its pages describe it."""

    filename: str
    project: NormalizedName
    version: Version
    sha256: str
    size: int
    upload_time: str | None
    yanked: bool | str
    requires_python: str | None
    metadata: bytes | None

    @property
    def metadata_sha256(self) -> str | None:
        return None if self.metadata is None else hashlib.sha256(self.metadata).hexdigest()


def upload_time_text(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def wheel_metadata(path: Path, project: NormalizedName) -> bytes:
    """The METADATA of the one ``.dist-info`` named after ``project`` (a wheel may carry
    others, vendored)."""
    with zipfile.ZipFile(path) as archive:
        names = [
            n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")
        ]
        ours = [
            n
            for n in names
            if canonicalize_name(n.removesuffix(".dist-info/METADATA").rpartition("-")[0])
            == project
        ]
        names = ours if len(ours) == 1 else names
        if len(names) != 1:
            raise ValueError(f"{path.name}: expected one .dist-info/METADATA, found {names}")
        return archive.read(names[0])


def metadata_requires_python(metadata: bytes) -> str | None:
    for line in metadata.decode("utf-8").splitlines():
        if not line.strip():
            break
        key, _, value = line.partition(":")
        if key.strip().lower() == "requires-python":
            return value.strip()
    return None


def _parse_accept(header: str) -> list[tuple[str, float]]:
    ranges: list[tuple[str, float]] = []
    for item in header.split(","):
        media, *params = (p.strip() for p in item.split(";"))
        if not media:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        media = media.lower()
        ranges.append((_ALIASES.get(media, media), q))
    return ranges


def negotiate(accept: str | None) -> str | None:
    """The simple-API content type to serve for an ``Accept`` header; None means 406.

    Each offer takes the q of its most specific matching range (``type/sub`` over ``type/*``
    over ``*/*``); the highest q wins, ties go to the server's order (HTML first, like PyPI).
    No header means ``text/html``.
    """
    if accept is None or not accept.strip():
        return HTML_TYPE
    ranges = _parse_accept(accept)
    best: tuple[float, int] | None = None
    chosen: str | None = None
    for rank, offer in enumerate(_OFFERS):
        main = offer.split("/")[0]
        q: float | None = None
        specificity = -1
        for media, media_q in ranges:
            level = {offer: 2, f"{main}/*": 1, "*/*": 0}.get(media, -1)
            if level > specificity:
                specificity, q = level, media_q
        if q is None or q <= 0:
            continue
        if best is None or (q, -rank) > best:
            best, chosen = (q, -rank), offer
    return chosen


def root_page(projects: Sequence[NormalizedName], content_type: str) -> bytes:
    """``/simple/``: every project, as JSON or HTML."""
    if content_type == JSON_TYPE:
        doc: dict[str, Any] = {
            "meta": {"api-version": API_VERSION},
            "projects": [{"name": p} for p in projects],
        }
        return json.dumps(doc, indent=1).encode()
    anchors = "".join(f'    <a href="{quote(p)}/">{html.escape(p)}</a><br/>\n' for p in projects)
    return _html_document("Simple index", anchors)


def project_page(project: NormalizedName, files: Sequence[IndexFile], content_type: str) -> bytes:
    """``/simple/<project>/``: the project's files, as JSON or HTML."""
    if content_type == JSON_TYPE:
        doc: dict[str, Any] = {
            "meta": {"api-version": API_VERSION},
            "name": project,
            "versions": [str(v) for v in sorted({f.version for f in files})],
            "files": [_json_file(f) for f in files],
        }
        return json.dumps(doc, indent=1).encode()
    anchors = "".join(_html_anchor(f) for f in files)
    return _html_document(f"Links for {project}", anchors)


def _file_href(entry: IndexFile) -> str:
    return f"../../files/{quote(entry.filename)}"


def _json_file(entry: IndexFile) -> dict[str, Any]:
    core: dict[str, str] | bool = (
        False if entry.metadata_sha256 is None else {"sha256": entry.metadata_sha256}
    )
    doc: dict[str, Any] = {
        "filename": entry.filename,
        "url": _file_href(entry),
        "hashes": {"sha256": entry.sha256},
        "size": entry.size,
        "yanked": True if entry.yanked == "" else entry.yanked,
        "core-metadata": core,
        "dist-info-metadata": core,
    }
    if entry.requires_python is not None:
        doc["requires-python"] = entry.requires_python
    if entry.upload_time is not None:
        doc["upload-time"] = entry.upload_time
    return doc


def _html_anchor(entry: IndexFile) -> str:
    attrs = [f'href="{_file_href(entry)}#sha256={entry.sha256}"']
    if entry.requires_python is not None:
        attrs.append(f'data-requires-python="{html.escape(entry.requires_python)}"')
    if entry.yanked is not False:
        reason = "" if entry.yanked is True else str(entry.yanked)
        attrs.append(f'data-yanked="{html.escape(reason)}"')
    if entry.metadata_sha256 is not None:
        attrs.append(f'data-core-metadata="sha256={entry.metadata_sha256}"')
        attrs.append(f'data-dist-info-metadata="sha256={entry.metadata_sha256}"')
    return f"    <a {' '.join(attrs)}>{html.escape(entry.filename)}</a><br/>\n"


def _html_document(title: str, body: str) -> bytes:
    return (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        f'    <meta name="pypi:repository-version" content="{API_VERSION}">\n'
        f"    <title>{html.escape(title)}</title>\n  </head>\n  <body>\n"
        f"    <h1>{html.escape(title)}</h1>\n{body}  </body>\n</html>\n"
    ).encode()
