"""``plan``'s text output fits the terminal: package lists wrap, paths go below the table."""

from __future__ import annotations

import pytest

from toolcache.plan_output import render_text

PACKAGES = [{"name": f"package-number-{i}", "version": f"{i}.{i}.20261030"} for i in range(1, 14)]
DOC = {
    "key": "toolcache-v1-linux-x86_64-" + "0" * 32,
    "restore-prefix": "toolcache-v1-linux-x86_64-",
    "cache-path": "/home/someone/.cache/toolcache/archives",
    "tools": {
        "types": {
            "python": "CPython 3.11.7 at /root/.pyenv/versions/3.11.7/bin/python3",
            "interpreter": "a" * 64,
            "resolution": "b" * 64,
            "packages": PACKAGES,
        },
        "lint": {
            "python": "CPython 3.12.x on x86_64-manylinux_2_28 (described)",
            "interpreter": "c" * 64,
            "resolution": "d" * 64,
            "packages": PACKAGES[:1],
        },
    },
}


@pytest.mark.parametrize("width", [80, 100, 120])
def test_every_line_fits_and_every_pin_is_shown(width: int) -> None:
    text = render_text(DOC, width=width)
    assert max(len(line) for line in text.splitlines()) <= width, text
    words = text.split()
    for package in PACKAGES:
        assert f"{package['name']}=={package['version']}" in words
    # The interpreter's path is listed once, below the table, not in every row.
    assert text.count("/root/.pyenv/versions/3.11.7/bin/python3") == 1
    assert "aaaaaaaaaaaaaaaa/bbbbbbbbbbbbbbbb" in text
