from __future__ import annotations

from pathlib import Path

from toolcache.index import urls


def test_redact_drops_user_and_password() -> None:
    assert (
        urls.redact("https://user:tok%40en@host:8080/simple/x/")
        == "https://***@host:8080/simple/x/"
    )
    assert urls.redact("https://token@host/simple") == "https://***@host/simple"
    assert urls.redact("https://host/simple") == "https://host/simple"


def test_split_credentials_decodes_and_strips() -> None:
    clean, creds = urls.split_credentials("https://us%3Aer:p%40ss@host/simple/")
    assert clean == "https://host/simple/"
    assert creds == ("us:er", "p@ss")
    assert urls.split_credentials("https://token@host/") == ("https://host/", ("token", ""))
    assert urls.split_credentials("https://host/") == ("https://host/", None)


def test_origin_makes_default_port_explicit() -> None:
    assert urls.origin("https://Host/a") == urls.origin("https://host:443/b")
    assert urls.origin("http://host/") != urls.origin("https://host/")


def test_join_and_file_urls(tmp_path: Path) -> None:
    assert urls.join("https://h/simple/pkg/", "../../files/a.whl") == "https://h/files/a.whl"
    assert urls.join("https://h/simple/pkg/", "https://o/x.whl") == "https://o/x.whl"
    assert urls.filename_from_url("https://h/files/a%2Bb-1.0.tar.gz") == "a+b-1.0.tar.gz"
    assert urls.to_url("https://h/x") == "https://h/x"
    assert urls.to_url("/tmp/wheels").startswith("file:///")
    odd = tmp_path / "a b%20#c.whl"
    assert urls.path_to_file_url(odd).startswith("file:///")
    assert urls.file_url_to_path(urls.path_to_file_url(odd)) == odd
    assert urls.is_file_url(urls.to_url(str(odd)))
