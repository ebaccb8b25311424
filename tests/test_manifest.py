"""The manifest: what users write, and the one-line errors they get when it is wrong."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from toolcache.errors import ManifestError
from toolcache.manifest import load, parse


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
