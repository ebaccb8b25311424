"""The manifest: what users write, and the one-line errors they get when it is wrong."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest

from toolcache.errors import ManifestError
from toolcache.manifest import Environments, load, parse
from toolcache.platforms import ACCEPTED_PLATFORMS


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tools.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    path = write(tmp_path, text)
    with pytest.raises(ManifestError) as info:
        load(path)
    return [str(p).replace(str(path), "tools.yaml") for p in info.value.problems]


def test_full_manifest(tmp_path: Path) -> None:
    manifest = load(
        write(
            tmp_path,
            """\
python: 3.10
index-url: https://example.org/simple
extra-index-urls: [https://extra.example.org/simple]
find-links: wheels
exclude-newer: 2026-11-01
tools:
  lint:
    from: ruff==0.8.0
    run: ruff check --fix
  types:
    from: mypy
    with: [types-PyYAML, "pydantic>=2"]
    run: [mypy, --strict]
    python: ">=3.11"
  fmt: Black[jupyter]
""",
        )
    )
    assert list(manifest.tools) == ["lint", "types", "fmt"]
    lint, types, fmt = manifest.tools.values()
    assert str(lint.requirement) == "ruff==0.8.0"
    assert lint.run == ("ruff", "check", "--fix")
    assert lint.python == "3.10"  # the YAML float keeps its source text
    assert types.run == ("mypy", "--strict")
    assert [str(r) for r in types.with_] == ["types-PyYAML", "pydantic>=2"]
    assert types.python == ">=3.11"
    assert fmt.requirement.extras == {"jupyter"}
    assert fmt.run == ("black",)
    assert manifest.exclude_newer == datetime(2026, 11, 1, tzinfo=timezone.utc)
    assert manifest.find_links == ("wheels",)
    assert manifest.lock_path("lint") == tmp_path / "tools.lock" / "pylock.lint.toml"


def test_every_problem_reported_at_once_with_lines(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """\
pyhton: "3.12"
tools:
  lint:
    form: ruff
  fmt:
    from: "black>>=1"
    with: 3
  ok:
    from: ruff
    run: ""
  bad name!:
    from: ruff
exclude-newer: yesterday
""",
    )
    assert found == [
        "tools.yaml:1: unknown key 'pyhton' in the manifest (did you mean 'python'?)",
        "tools.yaml:3: tool 'lint': missing 'from' (the requirement to install)",
        "tools.yaml:4: unknown key 'form' in tool 'lint' (did you mean 'from'?)",
        "tools.yaml:6: tool 'fmt': 'from': invalid requirement 'black>>=1': "
        "Expected semicolon (after name with no version specifier) or end",
        "tools.yaml:7: tool 'fmt': 'with' must be a list of strings",
        "tools.yaml:10: tool 'ok': 'run' must not be empty",
        "tools.yaml:11: tool 'bad name!': names may use letters, digits, '.', '_' and '-'",
        "tools.yaml:13: exclude-newer: 'yesterday' is not a date or an RFC 3339 timestamp "
        "(e.g. 2026-11-01 or 2026-11-01T00:00:00Z)",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "tools.yaml: manifest is empty: expected a 'tools:' mapping"),
        ("tools: [a, b]\n", "tools.yaml:1: tools must be a mapping"),
        ("tools: {}\n", "tools.yaml:1: 'tools' is empty: name at least one tool"),
        (
            "python: '3.12'\n",
            "tools.yaml:1: missing 'tools:' mapping of tool names to requirements",
        ),
        ("tools:\n  a: ruff\n  a: black\n", "tools.yaml:3: duplicate key 'a' in tools"),
        (
            "tools:\n  a: [x\n",
            "tools.yaml:3: invalid YAML: expected ',' or ']', but got '<stream end>'",
        ),
        (
            "tools:\n  a:\n    from: pkg @ https://example.org/pkg.whl\n",
            "tools.yaml:3: tool 'a': 'from': direct URL requirements are not supported: "
            "'pkg @ https://example.org/pkg.whl'",
        ),
    ],
)
def test_single_problems(tmp_path: Path, text: str, expected: str) -> None:
    assert problems(tmp_path, text) == [expected]


def test_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"nope\.yaml: manifest not found"):
        load(tmp_path / "nope.yaml")


def test_select_unknown_tool_suggests(tmp_path: Path) -> None:
    manifest = parse("tools:\n  lint: ruff\n", tmp_path / "tools.yaml")
    with pytest.raises(ManifestError, match=r"no tool named 'lnt' \(did you mean 'lint'\?\)"):
        manifest.select(["lnt"])
    assert [t.name for t in manifest.select(["lint", "lint"])] == ["lint"]


def test_cli_reports_problems_without_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, "tools:\n  lint:\n    from: ruff\n    wiht: [x]\n")
    proc = subprocess.run(
        [sys.executable, "-m", "toolcache", "plan", "-m", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr == (
        f"toolcache: error: {path}:4: unknown key 'wiht' in tool 'lint' (did you mean 'with'?)\n"
    )


# --- environments: where the tools must run ---------------------------------------------------


def test_environments_top_level_apply_to_every_tool(tmp_path: Path) -> None:
    manifest = load(
        write(
            tmp_path,
            """\
environments:
  python: ["3.11", "3.12", "3.13"]
  platforms: [x86_64-manylinux_2_28, aarch64-apple-darwin, x86_64-pc-windows-msvc]
tools:
  lint: ruff
  types:
    from: mypy
""",
        )
    )
    expected = Environments(
        python=("3.11", "3.12", "3.13"),
        platforms=("x86_64-manylinux_2_28", "aarch64-apple-darwin", "x86_64-pc-windows-msvc"),
        line=1,
    )
    assert manifest.environments == expected
    assert manifest.tools["lint"].environments == expected
    assert manifest.tools["types"].environments == expected


def test_no_environments_anywhere_is_none(tmp_path: Path) -> None:
    manifest = parse("tools:\n  lint: ruff\n", tmp_path / "tools.yaml")
    assert manifest.environments is None
    assert manifest.tools["lint"].environments is None


def test_tool_environments_override_key_by_key(tmp_path: Path) -> None:
    manifest = load(
        write(
            tmp_path,
            """\
environments:
  python: ["3.11", "3.12"]
  platforms: [x86_64-manylinux_2_28, aarch64-apple-darwin]
tools:
  lint:
    from: ruff
    environments:
      platforms: [x86_64-manylinux_2_28]
  types:
    from: mypy
    environments:
      python: "3.13"
  fmt: black
""",
        )
    )
    lint, types, fmt = manifest.tools.values()
    assert lint.environments == Environments(
        python=("3.11", "3.12"), platforms=("x86_64-manylinux_2_28",), line=7
    )
    assert types.environments == Environments(
        python=("3.13",), platforms=("x86_64-manylinux_2_28", "aarch64-apple-darwin"), line=11
    )
    assert fmt.environments == manifest.environments


def test_tool_environments_without_top_level(tmp_path: Path) -> None:
    text = "tools:\n  lint:\n    from: ruff\n    environments:\n      python: '3.12'\n"
    manifest = parse(text, tmp_path / "tools.yaml")
    assert manifest.environments is None
    assert manifest.tools["lint"].environments == Environments(
        python=("3.12",), platforms=None, line=4
    )


def test_environments_normalised(tmp_path: Path) -> None:
    manifest = load(
        write(
            tmp_path,
            """\
environments:
  python: [cp3.12, CPython3.11, PyPy3.10, pp3.9, 3.10, 3.8]
  platforms: ["  X86_64-Manylinux_2_28 ", macos, x86_64-unknown-linux-musl]
tools:
  lint:
    from: ruff
    environments:
      python: 3.10
""",
        )
    )
    assert manifest.environments == Environments(
        python=("3.12", "3.11", "pypy3.10", "pypy3.9", "3.10", "3.8"),
        platforms=("x86_64-manylinux_2_28", "aarch64-apple-darwin", "x86_64-musllinux_1_2"),
        line=1,
    )
    # One name per platform however it is spelt: `linux` is x86_64-manylinux_2_28.
    with pytest.raises(ManifestError, match=r"'linux' is listed twice \(first as 'x86_64"):
        load(
            write(
                tmp_path,
                "environments:\n  platforms: [x86_64-manylinux_2_28, linux]\n"
                "tools:\n  lint: ruff\n",
            )
        )
    # An unquoted YAML float keeps its source text: 3.10, not 3.1.
    assert manifest.tools["lint"].environments is not None
    assert manifest.tools["lint"].environments.python == ("3.10",)


ENVIRONMENTS_ERRORS = [
    ("environments: [3.12]\n", 1, "environments must be a mapping"),
    ("environments:\n", 1, "environments must be a mapping"),
    ("environments: {}\n", 1, "environments is empty: give 'python', 'platforms' or both"),
    (
        "environments:\n  pyhton: ['3.12']\n",
        2,
        "unknown key 'pyhton' in environments (did you mean 'python'?)",
    ),
    ("environments:\n  python: []\n", 2, "environments: python must name at least one Python"),
    (
        "environments:\n  platforms: []\n",
        2,
        "environments: platforms must name at least one platform",
    ),
    ("environments:\n  python:\n", 2, "environments: python must be a list of strings"),
    (
        "environments:\n  python: {a: b}\n",
        2,
        "environments: python must be a list of strings",
    ),
    (
        "environments:\n  python:\n    - '3.12'\n    - [3]\n",
        4,
        "each entry of environments: python must be a string",
    ),
    (
        "environments:\n  python: '3'\n",
        2,
        "environments: python: '3' is not a minor version like 3.12 or pypy3.10",
    ),
    (
        "environments:\n  python: ['3.12', '3.12.1']\n",
        2,
        "environments: python: '3.12.1' is not a minor version like 3.12 or pypy3.10",
    ),
    (
        "environments:\n  python: [jython3.12]\n",
        2,
        "environments: python: 'jython3.12' is not a minor version like 3.12 or pypy3.10",
    ),
    (
        "environments:\n  python: [2.7]\n",
        2,
        "environments: python: '2.7' is not a minor version like 3.12 or pypy3.10",
    ),
    (
        "environments:\n  python:\n    - '3.12'\n    - cp3.7\n",
        4,
        "environments: python: 'cp3.7' is older than 3.8, the oldest Python toolcache manages",
    ),
    (
        "environments:\n  python:\n    - cp3.12\n    - '3.12'\n",
        4,
        "environments: python: '3.12' is listed twice (first as 'cp3.12')",
    ),
    (
        "environments:\n  python:\n    - pypy3.10\n    - PP3.10\n",
        4,
        "environments: python: 'PP3.10' is listed twice (first as 'pypy3.10')",
    ),
    (
        "environments:\n  platforms:\n    - linux\n    - sparc-sun-solaris\n",
        4,
        "environments: platforms: unknown platform 'sparc-sun-solaris': expected one of linux,",
    ),
    (
        "environments:\n  platforms:\n    - aarch64-apple-darwin\n    - AARCH64-apple-darwin\n",
        4,
        "environments: platforms: 'AARCH64-apple-darwin' is listed twice "
        "(first as 'aarch64-apple-darwin')",
    ),
    (
        "environments:\n  platforms: ''\n",
        2,
        "environments: platforms must not be empty",
    ),
]


@pytest.mark.parametrize(("text", "line", "fragment"), ENVIRONMENTS_ERRORS)
def test_environments_errors_top_level(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    found = problems(tmp_path, text + "tools:\n  lint: ruff\n")
    assert len(found) == 1
    assert found[0].startswith(f"tools.yaml:{line}: {fragment}")


@pytest.mark.parametrize(("text", "line", "fragment"), ENVIRONMENTS_ERRORS)
def test_environments_errors_in_a_tool(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    # The same block under a tool whose first three lines come before it; messages name the tool.
    indented = "".join(f"    {row}" for row in text.splitlines(keepends=True))
    found = problems(tmp_path, "tools:\n  lint:\n    from: ruff\n" + indented)
    where = fragment.replace("environments", "tool 'lint': environments", 1)
    assert len(found) == 1
    assert found[0].startswith(f"tools.yaml:{line + 3}: {where}")


def test_environments_errors_all_reported_sorted_by_line(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """\
tools:
  lint:
    from: ruff
    environments:
      python: ["3.12", "3"]
      platform: [linux]
  fmt: black
environments:
  platforms: [windows, plan9]
  python:
    - cp3.6
    - "3.13"
    - cp3.13
""",
    )
    assert found == [
        "tools.yaml:5: tool 'lint': environments: python: '3' is not a minor version like "
        "3.12 or pypy3.10",
        "tools.yaml:6: unknown key 'platform' in tool 'lint': environments "
        "(did you mean 'platforms'?)",
        "tools.yaml:9: environments: platforms: unknown platform 'plan9': expected one of "
        "linux, windows, macos, ARCH-unknown-linux-gnu, ARCH-manylinux_2_Y, ARCH-manylinux2014, "
        "ARCH-unknown-linux-musl, ARCH-musllinux_1_Y, aarch64-apple-darwin, x86_64-apple-darwin, "
        "x86_64-pc-windows-msvc, aarch64-pc-windows-msvc, i686-pc-windows-msvc",
        "tools.yaml:11: environments: python: 'cp3.6' is older than 3.8, the oldest Python "
        "toolcache manages",
        "tools.yaml:13: environments: python: 'cp3.13' is listed twice (first as '3.13')",
    ]


# --- hostile input: every problem is one short line with a place, never a crash --------------


def parse_problems(text: str) -> list[str]:
    """Like ``problems`` but through ``parse``, so without ``load``'s size limit."""
    with pytest.raises(ManifestError) as info:
        parse(text, Path("tools.yaml"))
    return [str(p) for p in info.value.problems]


DEEP = "nested too deeply (more than 50 levels)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[" * 1000, [f"tools.yaml:1: {DEEP}"]),
        ("{a: " * 1000, [f"tools.yaml:1: {DEEP}"]),
        ("tools:\n  lint:\n    from: " + "[" * 60 + "]" * 60 + "\n", [f"tools.yaml:3: {DEEP}"]),
        # Block mappings, one more level per line: level 51 starts on line 51.
        (
            "tools:\n" + "".join(" " * i + "a:\n" for i in range(1, 1000)),
            [f"tools.yaml:51: {DEEP}"],
        ),
        # 50 levels are allowed: the manifest and 49 lists inside it.
        (
            "x: " + "[" * 49 + "]" * 49 + "\ntools:\n  lint: ruff\n",
            [
                "tools.yaml:1: unknown key 'x' in the manifest (expected one of: python, "
                "index-url, extra-index-urls, find-links, exclude-newer, environments, tools)"
            ],
        ),
    ],
    ids=["lists", "flow-mappings", "closed-lists", "block-mappings", "fifty-levels"],
)
def test_deep_nesting_is_one_problem(text: str, expected: list[str]) -> None:
    assert parse_problems(text) == expected


def test_manifest_over_1_mib_is_refused_unread(tmp_path: Path) -> None:
    head = "tools:\n  lint: ruff\n"
    at_limit = head + "#" * (2**20 - len(head) - 1) + "\n"
    assert len(at_limit.encode()) == 2**20
    assert list(load(write(tmp_path, at_limit)).tools) == ["lint"]
    assert problems(tmp_path, at_limit + "\n") == ["tools.yaml: manifest is larger than 1 MiB"]


def _load_within(path: Path, seconds: float) -> ManifestError:
    """``load(path)``'s error, failing (not hanging) if it takes longer than ``seconds``."""
    result: list[BaseException | None] = []

    def target() -> None:
        try:
            load(path)
        except BaseException as exc:  # handed to the test's thread
            result.append(exc)
        else:
            result.append(None)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():  # blocked opening a FIFO: a writer end lets it go
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(seconds)
        pytest.fail(f"load({path}) did not return within {seconds} s")
    assert isinstance(result[0], ManifestError), result
    return result[0]


@pytest.mark.skipif(sys.platform == "win32", reason="FIFOs and /dev/null are POSIX")
@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_what_is_not_a_regular_file_is_refused(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "tools.yaml"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    else:
        path = Path(os.devnull)
    error = _load_within(path, 10)
    assert [str(p) for p in error.problems] == [f"{path}: not a regular file"]


def test_tool_names_are_matched_whole_and_capped() -> None:
    found = parse_problems(
        f'tools:\n  "lint\\n": ruff\n  {"a" * 64}: ruff\n  {"b" * 65}: ruff\n  ok: ruff\n'
    )
    assert found == [
        "tools.yaml:2: tool 'lint\\n': names may use letters, digits, '.', '_' and '-'",
        f"tools.yaml:4: tool '{'b' * 49}…' (65 characters): names are at most 64 characters",
    ]


def test_huge_values_are_clipped_in_messages() -> None:
    name = "n" * 5_000_000  # explicit key: PyYAML limits implicit ones to 1024 characters
    big = "x" * 100_000
    found = parse_problems(
        f"""\
python: '{big}'
exclude-newer: '{big}'
tools:
  ? {name}
  : ruff
  lint:
    from: 'ruff=={big}!'
    with: ['{big}!']
    run: "'{big}"
    environments:
      python: ['{big}']
      platforms: ['{big}']
  ? '{big}'
  : 1
environments:
  ? '{big}'
  : 1
""",
    )
    clipped = f"'{'x' * 49}…' (100000 characters)"
    # Short lines, but for the list of platforms an unknown one is told about (not user text).
    assert all(len(line.replace(ACCEPTED_PLATFORMS, "…")) < 250 for line in found), found
    assert found == [
        f"tools.yaml:1: python: {clipped} is not a Python request: expected a version (3.12), "
        "a specifier (>=3.11), an implementation (cpython3.12, pypy3.10) or a path",
        f"tools.yaml:2: exclude-newer: {clipped} is not a date or an RFC 3339 timestamp "
        "(e.g. 2026-11-01 or 2026-11-01T00:00:00Z)",
        f"tools.yaml:4: tool '{'n' * 49}…' (5000000 characters): names are at most 64 characters",
        f"tools.yaml:7: tool 'lint': 'from': invalid requirement 'ruff=={'x' * 43}…' "
        "(100007 characters): Expected semicolon (after name with no version specifier) or end",
        f"tools.yaml:8: tool 'lint': 'with': invalid requirement '{'x' * 49}…' "
        "(100001 characters): Expected semicolon (after name with no version specifier) or end",
        f"""tools.yaml:9: tool 'lint': 'run': cannot split command "'{"x" * 48}…" """
        "(100001 characters): No closing quotation",
        f"tools.yaml:11: tool 'lint': environments: python: {clipped} is not a minor version "
        "like 3.12 or pypy3.10",
        f"tools.yaml:12: tool 'lint': environments: platforms: unknown platform {clipped}: "
        f"expected one of {ACCEPTED_PLATFORMS}",
        f"tools.yaml:13: tool {clipped}: names are at most 64 characters",
        f"tools.yaml:14: tool {clipped} requirement must be a string, not a number (quote it)",
        f"tools.yaml:16: unknown key {clipped} in environments (expected one of: python, "
        "platforms)",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "tools:\n  lint:\n    from: 42\n",
            "tools.yaml:3: tool 'lint': 'from' must be a string, not a number (quote it)",
        ),
        (
            "tools:\n  lint: true\n",
            "tools.yaml:2: tool 'lint' requirement must be a string, not a boolean (quote it)",
        ),
        (
            "tools:\n  lint:\n    from: ruff\n    run: 3\n",
            "tools.yaml:4: tool 'lint': 'run' must be a string, not a number (quote it)",
        ),
        (
            "tools:\n  lint:\n    from: ruff\n    run: [ruff, --line-length, 100]\n",
            "tools.yaml:4: each entry of tool 'lint': 'run' must be a string, "
            "not a number (quote it)",
        ),
        (
            "tools:\n  lint:\n    from: ruff\n    with: [yes]\n",
            "tools.yaml:4: each entry of tool 'lint': 'with' must be a string, "
            "not a boolean (quote it)",
        ),
        (
            "python: true\ntools:\n  lint: ruff\n",
            "tools.yaml:1: python must be a string, not a boolean (quote it)",
        ),
        ("python:\ntools:\n  lint: ruff\n", "tools.yaml:1: python must be a string"),
        (
            "index-url: 3\ntools:\n  lint: ruff\n",
            "tools.yaml:1: index-url must be a string, not a number (quote it)",
        ),
        (
            "environments:\n  platforms: [linux, off]\ntools:\n  lint: ruff\n",
            "tools.yaml:2: each entry of environments: platforms must be a string, "
            "not a boolean (quote it)",
        ),
        (
            "tools:\n  1: ruff\n",
            "tools.yaml:2: tools keys must be strings, not a number (quote it)",
        ),
        ("tools:\n  lint: !foo ruff\n", "tools.yaml:2: unsupported YAML tag !foo"),
        ("tools:\n  lint: !!binary cnVmZg==\n", "tools.yaml:2: unsupported YAML tag !!binary"),
        ("tools:\n  lint: !!str ruff\n", "tools.yaml:2: unsupported YAML tag !!str"),
        ("tools: !!map\n  lint: ruff\n", "tools.yaml:1: unsupported YAML tag !!map"),
        ("!foo\ntools:\n  lint: ruff\n", "tools.yaml:1: unsupported YAML tag !foo"),
        ("tools:\n  lint:\n    from: ! ruff\n", "tools.yaml:3: unsupported YAML tag !"),
        ("tools:\n  ? !foo lint\n  : ruff\n", "tools.yaml:2: unsupported YAML tag !foo"),
        ("tools:\n  lint:\n    !foo from: ruff\n", "tools.yaml:3: unsupported YAML tag !foo"),
        (
            "exclude-newer: 2026\ntools:\n  lint: ruff\n",
            "tools.yaml:1: exclude-newer: '2026' is not a date or an RFC 3339 timestamp "
            "(e.g. 2026-11-01 or 2026-11-01T00:00:00Z)",
        ),
    ],
)
def test_only_plain_strings_where_strings_belong(text: str, expected: str) -> None:
    assert parse_problems(text) == [expected]


def test_anchors_and_aliases_are_refused() -> None:
    found = parse_problems(
        """\
tools:
  lint: &r ruff
  fmt: *r
  types:
    from: mypy
    with: &w [a, b]
    <<: *r
  laughs:
    from: black
    with: [*w, *w, *w]
"""
    )
    assert found == [
        "tools.yaml:2: YAML anchors are not supported (&r)",
        "tools.yaml:3: YAML aliases are not supported (*r)",
        "tools.yaml:6: YAML anchors are not supported (&w)",
        "tools.yaml:7: YAML aliases are not supported (*r)",
        "tools.yaml:7: YAML merge keys (<<) are not supported",
        "tools.yaml:10: YAML aliases are not supported (*w)",
        "tools.yaml:10: YAML aliases are not supported (*w)",
        "tools.yaml:10: YAML aliases are not supported (*w)",
    ]


def test_numbers_are_python_requests_with_their_source_text(tmp_path: Path) -> None:
    manifest = parse(
        "python: 3\ntools:\n  lint: ruff\n  fmt:\n    from: black\n    python: 3.10\n",
        tmp_path / "tools.yaml",
    )
    assert manifest.python == "3"
    assert [t.python for t in manifest.tools.values()] == ["3", "3.10"]


ACCEPTED = (
    "expected a version (3.12), a specifier (>=3.11), an implementation "
    "(cpython3.12, pypy3.10) or a path"
)


def test_python_requests_are_checked_where_they_are_written() -> None:
    found = parse_problems(
        """\
python: banana
tools:
  lint:
    from: ruff
    python: "12"
  fmt:
    from: black
    python: "~nobody-here/py"
  types:
    from: mypy
    python: "python3"
  bad name!: ruff
""",
    )
    assert found == [
        f"tools.yaml:1: python: 'banana' is not a Python request: {ACCEPTED}",
        f"tools.yaml:5: tool 'lint': 'python': '12' is not a Python request: {ACCEPTED}",
        "tools.yaml:8: tool 'fmt': 'python': '~nobody-here/py' is read as a path in the home "
        "folder of user 'nobody-here', which does not exist",
        f"tools.yaml:11: tool 'types': 'python': 'python3' is not a Python request: {ACCEPTED}",
        "tools.yaml:12: tool 'bad name!': names may use letters, digits, '.', '_' and '-'",
    ]


@pytest.mark.parametrize(
    "request_text",
    [
        "3",
        "3.12",
        "3.12.1",
        ">=3.10,<3.13",
        "~=3.11",
        "cpython3.12",
        "cp312",
        "cpython@3.12",
        "pypy",
        "pypy3.10",
        "PyPy3.10",
        "./venv/bin/python",
        "/usr/bin/python3",
        "~/py/bin/python",
        "===3.12.0",
    ],
)
def test_python_requests_discovery_reads(tmp_path: Path, request_text: str) -> None:
    from toolcache.discovery import parse_request

    parse_request(request_text)  # discovery reads it...
    manifest = parse(f"python: {request_text!r}\ntools:\n  lint: ruff\n", tmp_path / "t.yaml")
    assert manifest.python == request_text  # ...and so does the manifest


def test_numbers_too_long_to_read_are_problems_not_crashes() -> None:
    digits = "9" * 5000  # past Python's int() limit of 4300 digits
    found = parse_problems(
        f"python: '3.{digits}'\n"
        f"environments:\n  python: ['3.{digits}']\n  platforms: [x86_64-manylinux_{digits}_1]\n"
        "exclude-newer: '0001-01-01T00:00:00+23:59'\n"
        "tools:\n  lint: ruff\n"
    )
    assert [line.split(": ")[0:2] for line in found] == [
        ["tools.yaml:1", "python"],
        ["tools.yaml:3", "environments"],
        ["tools.yaml:4", "environments"],
        ["tools.yaml:5", "exclude-newer"],
    ]
    assert "is not a Python request" in found[0]
    assert "is not a minor version like 3.12 or pypy3.10" in found[1]
    assert "unknown platform 'x86_64-manylinux_999" in found[2]
    assert "is not a date or an RFC 3339 timestamp" in found[3]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tools: [a, b]\n", "tools.yaml:1: tools must be a mapping"),
        ("tools: ruff\n", "tools.yaml:1: tools must be a mapping"),
        (
            "tools:\n  lint: [ruff]\n",
            "tools.yaml:2: tool 'lint' must be a requirement (lint: ruff==0.8.0) "
            "or a mapping with 'from'",
        ),
        (
            "tools:\n  lint:\n    from: {x: 1}\n",
            "tools.yaml:3: tool 'lint': 'from' must be a string",
        ),
        (
            "tools:\n  lint:\n    from: [ruff]\n",
            "tools.yaml:3: tool 'lint': 'from' must be a string",
        ),
        (
            "tools:\n  lint:\n    from: ruff\n    with: {a: 1}\n",
            "tools.yaml:4: tool 'lint': 'with' must be a list of strings",
        ),
        (
            "tools:\n  lint:\n    from: ruff\n    with: [[a]]\n",
            "tools.yaml:4: each entry of tool 'lint': 'with' must be a string",
        ),
        (
            "tools:\n  lint:\n    from: ruff\n    run: {a: 1}\n",
            "tools.yaml:4: tool 'lint': 'run' must be a string",
        ),
        (
            "tools:\n  lint:\n    from: ruff\n    run: [{a: 1}]\n",
            "tools.yaml:4: each entry of tool 'lint': 'run' must be a string",
        ),
        (
            "tools:\n  lint:\n    from: ruff\n    python: [3]\n",
            "tools.yaml:4: tool 'lint': 'python' must be a string",
        ),
        (
            "tools:\n  lint:\n    from: ruff\n    environments: [3]\n",
            "tools.yaml:4: tool 'lint': environments must be a mapping",
        ),
        ("tools:\n  {a: 1}: ruff\n", "tools.yaml:2: tools keys must be strings"),
        ("tools:\n  ? [a]\n  : ruff\n", "tools.yaml:2: tools keys must be strings"),
        ("environments: 3\ntools:\n  lint: ruff\n", "tools.yaml:1: environments must be a mapping"),
        ("python: {a: 1}\ntools:\n  lint: ruff\n", "tools.yaml:1: python must be a string"),
        ("index-url: [a]\ntools:\n  lint: ruff\n", "tools.yaml:1: index-url must be a string"),
        (
            "extra-index-urls: {a: 1}\ntools:\n  lint: ruff\n",
            "tools.yaml:1: extra-index-urls must be a list of strings",
        ),
        (
            "find-links: [[a]]\ntools:\n  lint: ruff\n",
            "tools.yaml:1: each entry of find-links must be a string",
        ),
        (
            "exclude-newer: [2026-11-01]\ntools:\n  lint: ruff\n",
            "tools.yaml:1: exclude-newer must be a string",
        ),
        ("[tools]\n", "tools.yaml:1: the manifest must be a mapping"),
        ("tools\n", "tools.yaml:1: the manifest must be a mapping"),
    ],
)
def test_a_collection_where_a_scalar_belongs_and_back(text: str, expected: str) -> None:
    assert parse_problems(text) == [expected]


def test_a_key_that_is_a_collection() -> None:
    assert parse_problems("? [tools]\n: {lint: ruff}\n") == [
        "tools.yaml:1: the manifest keys must be strings",
        "tools.yaml:1: missing 'tools:' mapping of tool names to requirements",
    ]


def test_unreadable_characters_are_one_line_with_a_place() -> None:
    assert parse_problems("tools:\n  lint: ruff\x00\n") == [
        "tools.yaml:2: invalid YAML: special character #x0000 is not allowed"
    ]


def test_bytes_that_are_not_utf8_have_a_line(tmp_path: Path) -> None:
    path = tmp_path / "tools.yaml"
    path.write_bytes(b"tools:\n  lint: r\xffuff\n")
    with pytest.raises(ManifestError) as info:
        load(path)
    assert [p.line for p in info.value.problems] == [2]
    assert info.value.problems[0].message.startswith("cannot read manifest: 'utf-8' codec")


def test_tool_names_differing_only_in_case_would_share_a_lock() -> None:
    assert parse_problems("tools:\n  lint: ruff\n  Lint: ruff\n") == [
        "tools.yaml:3: tool 'Lint': its lock file would be the lock file of 'lint' on a "
        "case-insensitive file system (macOS, Windows): rename one"
    ]


@pytest.mark.parametrize(
    "text",
    [
        "[" * 1000,
        "tools:\n  lint: !foo ruff\n  fmt: *x\n",
        "python: banana\ntools:\n  lint: true\n",
    ],
    ids=["deep", "tag-and-alias", "non-strings"],
)
def test_cli_hostile_manifest_exits_1_without_traceback(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    proc = subprocess.run(
        [sys.executable, "-m", "toolcache", "plan", "-m", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert all(line.startswith(f"toolcache: error: {path}:") for line in proc.stderr.splitlines())
