"""Whatever text a manifest holds, the parser answers with a Manifest or one ManifestError.

Manifests are generated from a grammar that mixes the real keys with random YAML: nested flow
and block collections, tags, anchors and aliases, numbers, booleans, nulls, unicode, long
strings, deep nesting and raw punctuation. The run is bounded and derandomized (the same
examples every time). A few fixed nasty inputs also go through the real CLI in a subprocess.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolcache.errors import ManifestError
from toolcache.manifest import (
    ENVIRONMENT_KEYS,
    TOOL_KEYS,
    TOOL_NAME,
    TOP_KEYS,
    Manifest,
    load,
    parse,
)
from toolcache.platforms import ACCEPTED_PLATFORMS

with warnings.catch_warnings():
    # On a failure hypothesis's pytest plugin imports libcst (to suggest a patch), whose import
    # warns about mypy_extensions.TypedDict: an error under our warning settings, which would
    # turn the failure report into an INTERNALERROR. Import it once now, with that warning off.
    warnings.simplefilter("ignore", DeprecationWarning)
    with contextlib.suppress(ImportError):
        import hypothesis.extra._patching  # noqa: F401

#: Messages echo user text clipped, so any message stays short. The one long fixed text, the
#: list of platforms an unknown platform is told about, is not user text and is not counted.
MAX_MESSAGE = 300

WORDS = (
    "ruff",
    "ruff==0.8.0",
    "black[jupyter]",
    "pkg @ https://example.org/pkg.whl",
    "mypy>=1,<2",
    "black>>=1",
    "3",
    "3.12",
    "3.10",
    "12",
    ">=3.11",
    "~=3.11",
    "pypy3.10",
    "cp312",
    "cpython@3.12",
    "banana",
    "./venv/bin/python",
    "~/py/bin/python",
    "~nobody-here/python",
    "linux",
    "x86_64-manylinux_2_28",
    "aarch64-apple-darwin",
    "plan9",
    "2026-11-01",
    "2026-11-01T00:00:00Z",
    "0001-01-01T00:00:00+23:59",
    "lint",
    "Lint",
    "fmt",
    "a b",
    "ruff check --fix",
    "'unclosed",
    "true",
    "yes",
    "on",
    "null",
    "~",
    "<<",
    "=",
    "-",
    "",
    "…",
    "é",
    "\u2028",
    "\x00",
    "\t",
    "\\",
)
KEYS = (*TOP_KEYS, *TOOL_KEYS, *ENVIRONMENT_KEYS, "platforms", "pyhton", "form", "<<")
TAGS = ("!foo", "!!binary", "!!str", "!!int", "!!map", "!!seq", "!!python/object", "!", "!<x>")
PUNCTUATION = "[]{}:,-?!&*|>'\"#%@`\\ \n\t"


def _quoted(text: str) -> str:
    return json.dumps(text)  # a JSON string is a YAML double-quoted scalar


def _single(text: str) -> str:
    return "'" + text.replace("'", "''").replace("\n", " ") + "'"


_plain = st.sampled_from(WORDS)
_long = st.integers(61, 3000).map(lambda n: "x" * n)
_strings = st.one_of(_plain, st.text(max_size=12), _long)
_huge_numbers = st.integers(4300, 5000).map(lambda n: "9" * n)
scalars = st.one_of(
    _plain,
    _strings.map(_quoted),
    _strings.map(_single),
    st.integers(-(10**30), 10**30).map(str),
    _huge_numbers.map(lambda n: f"3.{n}"),
    _huge_numbers.map(lambda n: f"x86_64-manylinux_{n}_28"),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["true", "false", "null", "~", ".inf", ".nan", "0x1F", "0o17", "1_000"]),
    st.text(alphabet=PUNCTUATION + "ab3.", max_size=8),
)
anchors = st.sampled_from(["a", "b", "long" * 20])


def _extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.lists(children, max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.lists(st.tuples(st.one_of(st.sampled_from(KEYS), children), children), max_size=4).map(
            lambda kvs: "{" + ", ".join(f"{k}: {v}" for k, v in kvs) + "}"
        ),
        st.tuples(st.sampled_from(TAGS), children).map(" ".join),
        st.tuples(anchors, children).map(lambda t: f"&{t[0]} {t[1]}"),
    )


#: Any YAML value, mostly small.
values = st.recursive(st.one_of(scalars, anchors.map(lambda a: f"*{a}")), _extend, max_leaves=12)
#: Nested past any limit, closed or not; a thousand levels is past Python's recursion limit.
deep = st.integers(30, 1200).flatmap(
    lambda n: st.sampled_from(["[" * n + "]" * n, "[" * n, "{a: " * n + "}" * n, "{a: " * n])
)
#: What a key usually holds: one scalar or a flow list of them; else anything.
shaped = st.one_of(
    scalars,
    st.lists(scalars, max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]"),
    values,
    deep,
)


def _block(pairs: list[tuple[str, str]], indent: int) -> str:
    pad = " " * indent
    return "".join(f"{pad}{key}:{value}\n" for key, value in pairs)


def _inline(value: str) -> str:
    return f" {value}"


def _environments(indent: int) -> st.SearchStrategy[str]:
    return st.lists(
        st.tuples(st.sampled_from(ENVIRONMENT_KEYS), shaped.map(_inline)), max_size=3
    ).map(lambda pairs: "\n" + _block(pairs, indent))


tool_entries = st.one_of(
    st.tuples(st.just("environments"), _environments(6)),
    st.tuples(st.sampled_from(TOOL_KEYS), shaped.map(_inline)),
    st.tuples(st.sampled_from(KEYS), shaped.map(_inline)),
)
tool_body = st.one_of(
    st.lists(tool_entries, max_size=5).map(lambda pairs: "\n" + _block(pairs, 4)),
    shaped.map(_inline),
)
tool_names = st.one_of(
    st.sampled_from(["lint", "Lint", "fmt", "bad name!", "1", "true", "~", "a" * 65, "<<"]),
    _strings.map(_quoted),
    # An explicit key (PyYAML caps implicit ones at 1024 characters), in a block indented by 2.
    st.integers(61, 2000).map(lambda n: "? " + "n" * n + "\n  "),
)
tools = st.lists(st.tuples(tool_names, tool_body), max_size=4).map(
    lambda pairs: "\n" + _block(pairs, 2)
)
top_entries = st.one_of(
    st.tuples(st.just("tools"), tools),
    st.tuples(st.just("environments"), _environments(2)),
    st.tuples(st.sampled_from(TOP_KEYS), shaped.map(_inline)),
    st.tuples(st.one_of(st.sampled_from(KEYS), scalars), shaped.map(_inline)),
)
top = st.lists(top_entries, max_size=6).map(lambda pairs: _block(pairs, 0))
manifests = st.one_of(
    top,
    st.tuples(top, st.text(alphabet=PUNCTUATION + "ab3", max_size=20), top).map("".join),
    values,
    deep,
    st.text(max_size=40),
)


def check(text: str, path: Path) -> None:
    try:
        result = parse(text, path)
    except ManifestError as exc:
        assert exc.problems
        for problem in exc.problems:
            message = problem.message.replace(ACCEPTED_PLATFORMS, "…")
            assert problem.path == str(path)
            assert problem.line >= 0
            assert len(message) < MAX_MESSAGE, message
            assert len(str(problem).splitlines()) == 1, problem.message  # \n, \u2028, \x1c...
    else:
        assert isinstance(result, Manifest)
        assert all(TOOL_NAME.fullmatch(name) and len(name) <= 64 for name in result.tools)


@settings(
    derandomize=True,
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(manifests)
def test_parse_answers_a_manifest_or_problems(text: str) -> None:
    check(text, Path("fuzz.yaml"))


@settings(derandomize=True, max_examples=100, deadline=None, database=None)
@given(tools.map(lambda t: "tools:" + t))
def test_tools_section(text: str) -> None:
    check(text, Path("fuzz.yaml"))


# --- the real CLI on a few nasty inputs -------------------------------------------------------

NASTY = {
    "deep": "[" * 1000,
    "deep-mappings": "tools:\n" + "".join(" " * i + "a:\n" for i in range(1, 300)),
    "tags-and-aliases": "x: &a ruff\ntools:\n  lint: *a\n  fmt: !foo black\n  t: !!binary aGk=\n",
    "huge-name": "tools:\n  ? " + "n" * 200_000 + "\n  : ruff\n  lint:\n    from: 42\n",
    "non-strings": "python: banana\ntools:\n  lint: true\n  t:\n    from: {x: 1}\n    run: 3\n",
    "special-character": "tools:\n  lint: ruff\x00\n",
    "newline-name": 'tools:\n  "lint\\n": ruff\n  "l\\u2028x": ruff\n',
    "billion-laughs": "a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\ntools: {l: *c}\n",
}


@pytest.mark.parametrize(
    "name",
    [
        *NASTY,
        pytest.param("fifo", marks=pytest.mark.skipif(sys.platform == "win32", reason="POSIX")),
        "directory",
    ],
)
def test_cli_says_one_line_per_problem(tmp_path: Path, name: str) -> None:
    path = tmp_path / "tools.yaml"
    if name == "fifo":
        os.mkfifo(path)
    elif name == "directory":
        path.mkdir()
    else:
        path.write_text(NASTY[name], encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "toolcache", "plan", "-m", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode in {1, 2}, proc.stderr
    assert "Traceback" not in proc.stderr
    with pytest.raises(ManifestError) as info:
        load(path)
    assert proc.stderr.splitlines() == [f"toolcache: error: {p}" for p in info.value.problems]
