"""The manifest: what users write, and the one-line errors they get when it is wrong."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from toolcache.errors import ManifestError
from toolcache.manifest import Environments, load, parse


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
