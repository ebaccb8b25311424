from __future__ import annotations

import json
from datetime import datetime, timezone

from toolcache.index.simple import parse_html, parse_json, parse_upload_time

PAGE = "https://idx.example/simple/pkg/"
SHA = "a" * 64
META_SHA = "b" * 64


def test_html_attributes_are_unescaped_and_read() -> None:
    body = f"""<!DOCTYPE html><html><body>
    <a href="../../files/pkg-1.0-py3-none-any.whl#sha256={SHA}"
       data-requires-python="&gt;=3.8,&lt;4" data-yanked="broken &amp; bad"
       data-core-metadata="sha256={META_SHA}">pkg-1.0-py3-none-any.whl</a>
    <a href="https://cdn.example/pkg-0.9.tar.gz" data-dist-info-metadata="true">x</a>
    <a href="pkg-0.8.tar.gz" data-yanked>pkg-0.8.tar.gz</a>
    <a>no href</a>
    </body></html>""".encode()
    first, second, third = parse_html(body, PAGE, "https://idx.example/simple")
    assert first.url == "https://idx.example/files/pkg-1.0-py3-none-any.whl"
    assert first.filename == "pkg-1.0-py3-none-any.whl"
    assert first.hashes == {"sha256": SHA}
    assert first.requires_python == ">=3.8,<4"
    assert first.yanked == "broken & bad"
    assert first.has_metadata_file
    assert first.metadata_hashes == {"sha256": META_SHA}
    assert second.url == "https://cdn.example/pkg-0.9.tar.gz"
    assert second.has_metadata_file and second.metadata_hashes == {}
    assert second.yanked is None
    assert third.url == "https://idx.example/simple/pkg/pkg-0.8.tar.gz"
    assert third.yanked == ""


def test_html_base_href_is_honoured() -> None:
    body = b'<html><head><base href="https://files.example/x/"></head>'
    body += b'<a href="pkg-1.0.tar.gz">pkg</a></html>'
    (only,) = parse_html(body, PAGE, "idx")
    assert only.url == "https://files.example/x/pkg-1.0.tar.gz"


def test_json_page() -> None:
    doc = {
        "meta": {"api-version": "1.1"},
        "name": "pkg",
        "files": [
            {
                "filename": "pkg-1.0.tar.gz",
                "url": "../../files/pkg-1.0.tar.gz",
                "hashes": {"sha256": SHA},
                "requires-python": ">=3.9",
                "yanked": "reason",
                "upload-time": "2024-05-01T10:20:30.123Z",
                "size": 12,
                "core-metadata": {"sha256": META_SHA},
            },
            {
                "filename": "pkg-0.9.tar.gz",
                "url": "https://o.example/p.tar.gz#sha256=" + SHA,
                "hashes": {},
                "yanked": True,
            },
        ],
    }
    first, second = parse_json(json.dumps(doc).encode(), PAGE, "idx")
    assert first.url == "https://idx.example/files/pkg-1.0.tar.gz"
    assert first.yanked == "reason"
    assert first.size == 12
    assert first.upload_time == datetime(2024, 5, 1, 10, 20, 30, 123000, tzinfo=timezone.utc)
    assert first.metadata_hashes == {"sha256": META_SHA}
    assert second.url == "https://o.example/p.tar.gz"
    assert second.hashes == {"sha256": SHA}
    assert second.yanked == ""
    assert not second.has_metadata_file


def test_upload_time_forms() -> None:
    utc = timezone.utc
    assert parse_upload_time("2024-01-01T00:00:00Z") == datetime(2024, 1, 1, tzinfo=utc)
    assert parse_upload_time("2024-01-01T00:00:00.1234567Z") == datetime(
        2024, 1, 1, 0, 0, 0, 123456, tzinfo=utc
    )
    assert parse_upload_time("not a time") is None
