"""URL helpers: credentials out of URLs, redaction for display, joining, file URLs.

Every URL that is shown, logged, hashed or written passes through ``redact`` first; every URL
that is requested has its credentials split off by ``split_credentials`` and applied as a
header by the client instead.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path

Credentials = tuple[str, str]
Origin = tuple[str, str, int | None]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _host_port(netloc: str) -> str:
    return netloc.rpartition("@")[2]


def redact(url: str) -> str:
    """``url`` with any userinfo replaced by ``***`` (``https://***@host/...``)."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc="***@" + _host_port(parts.netloc)))


def split_credentials(url: str) -> tuple[str, Credentials | None]:
    """``url`` without its userinfo, and the (percent-decoded) user and password from it.

    A URL with only a user part (``https://token@host/``) gives an empty password.
    """
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    clean = urllib.parse.urlunsplit(parts._replace(netloc=hostport))
    return clean, (urllib.parse.unquote(user), urllib.parse.unquote(password))


def origin(url: str) -> Origin:
    """(scheme, lowercase host, port) of ``url``; the default port is made explicit."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme)


def join(base: str, relative: str) -> str:
    """``relative`` resolved against ``base`` (a page URL after redirects)."""
    return urllib.parse.urljoin(base, relative)


def without_fragment(url: str) -> tuple[str, str]:
    """``url`` without its ``#fragment``, and the fragment."""
    clean, _, fragment = url.partition("#")
    return clean, fragment


def ensure_trailing_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def is_file_url(url: str) -> bool:
    return url.lower().startswith("file:")


def file_url_to_path(url: str) -> Path:
    from urllib.request import url2pathname  # brings http.client and email: file URLs only

    return Path(url2pathname(urllib.parse.urlsplit(url).path))


def path_to_file_url(path: Path) -> str:
    return path.absolute().as_uri()


def to_url(location: str) -> str:
    """A find-links or index location as a URL: plain paths become ``file:`` URLs."""
    if "://" in location or is_file_url(location):
        return location
    return path_to_file_url(Path(location).expanduser())


def filename_from_url(url: str) -> str:
    path = urllib.parse.urlsplit(url).path
    return urllib.parse.unquote(path.rstrip("/").rpartition("/")[2])
