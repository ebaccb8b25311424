"""The simple repository API: project pages as PEP 691 JSON or PEP 503 HTML, and find-links.

Pages become ``RawFile`` records: what the index said about each file, nothing judged yet
(``evaluate`` decides what suits the target). URLs are absolute, without a fragment and without
credentials.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html.parser import HTMLParser

from packaging.utils import NormalizedName

from toolcache.errors import IndexError_
from toolcache.index import urls
from toolcache.index.client import IndexClient

SIMPLE_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, "
    "application/vnd.pypi.simple.v1+html;q=0.2, "
    "text/html;q=0.01"
)
FIND_LINKS_ACCEPT = "text/html, application/vnd.pypi.simple.v1+json;q=0.5"
_JSON_TYPE = "application/vnd.pypi.simple.v1+json"

Keep = Callable[[str, str | None], bool]
"""A cheap first look at a file, given its filename and its upload-time text (None when the
page gives none): False leaves the file out before anything else about it is read, so a page
of thousands of files for other platforms costs little more than decoding it."""


@dataclass(frozen=True)
class RawFile:
    """One file as a page lists it. ``yanked`` is None, or the reason ("" for none given)."""

    filename: str
    url: str
    index: str
    hashes: Mapping[str, str] = field(default_factory=dict)
    requires_python: str | None = None
    yanked: str | None = None
    upload_time: datetime | None = None
    size: int | None = None
    has_metadata_file: bool = False
    metadata_hashes: Mapping[str, str] = field(default_factory=dict)


def project_url(index_url: str, name: NormalizedName) -> str:
    return f"{urls.ensure_trailing_slash(index_url)}{name}/"


def fetch_project_page(
    client: IndexClient, index_url: str, name: NormalizedName, *, keep: Keep | None = None
) -> tuple[RawFile, ...] | None:
    """The files of ``name`` on the index at ``index_url`` (those ``keep`` accepts); None if
    the project is not there."""
    index = urls.split_credentials(index_url)[0]
    page = client.get_page(project_url(index_url, name), SIMPLE_ACCEPT)
    if page is None:
        return None
    return parse_page(page.body, page.content_type, page.url, index, keep=keep)


def parse_page(
    body: bytes, content_type: str, page_url: str, index: str, *, keep: Keep | None = None
) -> tuple[RawFile, ...]:
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == _JSON_TYPE:
        return parse_json(body, page_url, index, keep=keep)
    return parse_html(body, page_url, index, keep=keep)


def parse_upload_time(value: str) -> datetime | None:
    """An ISO 8601 time as PEP 700 gives it (``...Z``); None when it cannot be read."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Python 3.10's fromisoformat takes only 3 or 6 fractional digits.
    text = re.sub(r"\.(\d+)", lambda m: "." + (m.group(1) + "000000")[:6], text, count=1)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _hash_dict(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k).lower(): str(v).lower() for k, v in value.items() if isinstance(v, str)}


def _yanked(value: object) -> str | None:
    if value is True:
        return ""
    if isinstance(value, str) and value:
        return value
    return None


def parse_json(
    body: bytes, page_url: str, index: str, *, keep: Keep | None = None
) -> tuple[RawFile, ...]:
    """A PEP 691 project page: the files ``keep`` accepts (all without it).

    URLs are joined and split only for files that are kept: on a page of 20,000 files that
    is most of the time ``urllib.parse`` would otherwise take.
    """
    try:
        data = json.loads(body)
        files = data["files"]
        if not isinstance(files, list):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise IndexError_(f"{urls.redact(page_url)} is not a valid simple API page") from None
    result: list[RawFile] = []
    for entry in files:
        if not isinstance(entry, dict):
            continue
        filename, url = entry.get("filename"), entry.get("url")
        if not isinstance(filename, str) or not isinstance(url, str):
            continue
        upload_time = entry.get("upload-time")
        if not isinstance(upload_time, str):
            upload_time = None
        if keep is not None and not keep(filename, upload_time):
            continue
        url, fragment = urls.without_fragment(urls.join(page_url, url))
        hashes = _hash_dict(entry.get("hashes"))
        if not hashes:
            hashes = _fragment_hashes(fragment)
        metadata = entry.get("core-metadata", entry.get("dist-info-metadata", False))
        requires_python = entry.get("requires-python")
        size = entry.get("size")
        result.append(
            RawFile(
                filename=filename,
                url=urls.split_credentials(url)[0],
                index=index,
                hashes=hashes,
                requires_python=requires_python if isinstance(requires_python, str) else None,
                yanked=_yanked(entry.get("yanked")),
                upload_time=parse_upload_time(upload_time) if upload_time is not None else None,
                size=size if isinstance(size, int) else None,
                has_metadata_file=bool(metadata),
                metadata_hashes=_hash_dict(metadata),
            )
        )
    return tuple(result)


def _fragment_hashes(fragment: str) -> dict[str, str]:
    name, sep, value = fragment.partition("=")
    return {name.lower(): value.lower()} if sep and name and value else {}


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.anchors: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "base" and self.base is None:
            href = dict(attrs).get("href")
            if href:
                self.base = href
        elif tag == "a":
            self.anchors.append(dict(attrs))


def parse_html(
    body: bytes, page_url: str, index: str, *, keep: Keep | None = None
) -> tuple[RawFile, ...]:
    """A PEP 503 project page (or any HTML page of links, for find-links): the files ``keep``
    accepts (all without it)."""
    parser = _LinkParser()
    parser.feed(body.decode("utf-8", errors="replace"))
    parser.close()
    base = urls.join(page_url, parser.base) if parser.base else page_url
    result: list[RawFile] = []
    for attrs in parser.anchors:
        href = attrs.get("href")
        if not href:
            continue
        url, fragment = urls.without_fragment(urls.join(base, href))
        filename = urls.filename_from_url(url)
        if not filename or (keep is not None and not keep(filename, None)):
            continue
        metadata = attrs.get("data-core-metadata", attrs.get("data-dist-info-metadata"))
        has_metadata = metadata is not None and metadata.strip().lower() != "false"
        yanked = attrs["data-yanked"] or "" if "data-yanked" in attrs else None
        result.append(
            RawFile(
                filename=filename,
                url=urls.split_credentials(url)[0],
                index=index,
                hashes=_fragment_hashes(fragment),
                requires_python=attrs.get("data-requires-python") or None,
                yanked=yanked,
                has_metadata_file=has_metadata,
                metadata_hashes=_fragment_hashes(metadata or "") if has_metadata else {},
            )
        )
    return tuple(result)


def collect_find_links(client: IndexClient, location: str) -> tuple[RawFile, ...]:
    """Every file a find-links location offers: a local directory's files or a page's links."""
    url = urls.to_url(location)
    index = urls.split_credentials(url)[0]
    if urls.is_file_url(url):
        path = urls.file_url_to_path(url)
        if path.is_dir():
            return tuple(
                RawFile(filename=child.name, url=urls.path_to_file_url(child), index=index)
                for child in sorted(path.iterdir())
                if child.is_file() and child.name != "index.html"
            ) + _page_links(client, url, index, optional=True)
        if not path.exists():
            raise IndexError_(f"find-links location {path} does not exist")
    return _page_links(client, url, index, optional=False)


def _page_links(
    client: IndexClient, url: str, index: str, *, optional: bool
) -> tuple[RawFile, ...]:
    page = client.get_page(url, FIND_LINKS_ACCEPT)
    if page is None:
        if optional:
            return ()
        raise IndexError_(f"find-links location {index} does not exist")
    return parse_page(page.body, page.content_type, page.url, index)
