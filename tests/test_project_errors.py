"""Mistakes in ``with-groups``, ``with-project``, ``env`` and local requirements: one line each,
at the ``file:line`` of the manifest or the pyproject they are about."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.requirements import Requirement

from toolcache import manifest
from toolcache.errors import ManifestError
from toolcache.lockfile import document
from toolcache.project import ProjectInputs, changes, find_line


def problems(tmp_path: Path, tools: str, pyproject: str | None = None) -> list[str]:
    if pyproject is not None:
        (tmp_path / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    path = tmp_path / "tools.yaml"
    path.write_text("tools:\n" + tools, encoding="utf-8")
    with pytest.raises(ManifestError) as info:
        manifest.load(path)
    return [str(p).replace(str(tmp_path), "<p>") for p in info.value.problems]


GROUPS = """\
[project]
name = "p"
version = "1"
dynamic = ["dependencies"]

[dependency-groups]
typing = ["attrs"]
a = [{include-group = "b"}]
b = ["x", {include-group = "a"}]
bad = ["not a requirement!"]
path = ["plugin @ file:../plugin"]
"""


def test_unknown_group_is_reported_at_its_manifest_line(tmp_path: Path) -> None:
    found = problems(tmp_path, "  t:\n    from: mypy\n    with-groups:\n      - typo\n", GROUPS)
    assert found == [
        "<p>/tools.yaml:5: tool 't': no dependency group 'typo' in <p>/pyproject.toml "
        "(did you mean 'typing'?)"
    ]


def test_include_group_cycle_is_reported_at_the_pyproject_line(tmp_path: Path) -> None:
    found = problems(tmp_path, "  t:\n    from: mypy\n    with-groups: [a]\n", GROUPS)
    assert len(found) == 1
    assert found[0].startswith("<p>/pyproject.toml:9: dependency group 'b' includes 'a'")
    assert "cycle" in found[0]


def test_bad_requirement_in_a_group_is_reported_at_its_line(tmp_path: Path) -> None:
    found = problems(tmp_path, "  t:\n    from: mypy\n    with-groups: [bad]\n", GROUPS)
    assert len(found) == 1
    assert found[0].startswith("<p>/pyproject.toml:10: dependency group 'bad': ")


def test_a_path_requirement_in_a_group_is_refused_at_its_line(tmp_path: Path) -> None:
    """Its files would be tracked by nothing (only the manifest's local paths are)."""
    found = problems(tmp_path, "  t:\n    from: mypy\n    with-groups: [path]\n", GROUPS)
    assert found == [
        "<p>/pyproject.toml:11: dependency group 'path': plugin @ file:../plugin: direct URL "
        "and path requirements are not supported here; name a local path in the manifest's "
        "from/with instead"
    ]


def test_a_group_listed_twice_under_two_spellings_is_reported(tmp_path: Path) -> None:
    """Group names compare as PEP 735 says (dev_tools is dev-tools), as other lists do."""
    found = problems(tmp_path, "  t:\n    from: mypy\n    with-groups: [typing, Typing]\n", GROUPS)
    assert found == [
        "<p>/tools.yaml:4: tool 't': 'with-groups': 'Typing' is listed twice (first as 'typing')"
    ]


def test_missing_pyproject_is_reported_at_the_key_that_asked(tmp_path: Path) -> None:
    found = problems(tmp_path, "  t:\n    from: mypy\n    with-project: true\n")
    assert found == ["<p>/tools.yaml:4: tool 't': no pyproject.toml at <p>/pyproject.toml"]
    found = problems(
        tmp_path, "  t:\n    from: mypy\n    project: sub\n    with-groups: [typing]\n"
    )
    assert found == ["<p>/tools.yaml:5: tool 't': no pyproject.toml at <p>/sub/pyproject.toml"]


def test_dynamic_dependencies_are_refused_at_the_dynamic_line(tmp_path: Path) -> None:
    found = problems(tmp_path, "  t:\n    from: mypy\n    with-project: true\n", GROUPS)
    assert len(found) == 1
    assert found[0].startswith("<p>/pyproject.toml:4: the project's dependencies are dynamic")


def test_unknown_extra_and_wrong_with_project(tmp_path: Path) -> None:
    pyproject = '[project]\nname = "p"\nversion = "1"\n[project.optional-dependencies]\nx = []\n'
    found = problems(
        tmp_path,
        "  t:\n    from: mypy\n    with-project: [y]\n  u:\n    from: mypy\n    with-project: 3\n",
        pyproject,
    )
    assert found == [
        "<p>/tools.yaml:4: tool 't': no extra 'y' in <p>/pyproject.toml",
        "<p>/tools.yaml:7: tool 'u': 'with-project' must be true or a list of the project's extras",
    ]


def test_env_refuses_variables_toolcache_owns_and_bad_names(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "  t:\n    from: mypy\n    env:\n      PATH: x\n      TOOLCACHE_CACHE_DIR: y\n"
        "      1BAD: z\n      OK: [list]\n",
    )
    assert [f.split(": ", 1)[0] for f in found] == [
        "<p>/tools.yaml:5",
        "<p>/tools.yaml:6",
        "<p>/tools.yaml:7",
        "<p>/tools.yaml:8",
    ]
    assert "PATH is set by toolcache" in found[0]
    assert "'1BAD' is not a variable name" in found[2]


def test_env_and_groups_are_parsed(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "p"\nversion = "1"\ndependencies = ["attrs>=23"]\n'
        '[dependency-groups]\nTyping = ["types-requests", {include-group = "base"}]\n'
        'base = ["six"]\n',
        encoding="utf-8",
    )
    path = tmp_path / "tools.yaml"
    path.write_text(
        "tools:\n  t:\n    from: mypy\n    with-groups: [typing]\n    with-project: true\n"
        "    env: {MYPYPATH: src, LEVEL: 3}\n",
        encoding="utf-8",
    )
    tool = manifest.load(path).tools["t"]
    assert tool.env == (("MYPYPATH", "src"), ("LEVEL", "3"))
    assert [str(r) for r in tool.requirements] == ["mypy", "types-requests", "six", "attrs>=23"]
    assert [str(r) for r in tool.manifest_requirements] == ["mypy"]
    assert tool.project is not None
    assert tool.project.recorded(document.canonical_requirement) == {
        "pyproject": "pyproject.toml",
        "dependency-groups": {"typing": ["six", "types-requests"]},
        "project-dependencies": ["attrs>=23"],
    }


def test_lock_inputs_of_a_tool_without_a_project_are_unchanged() -> None:
    """Locks of tools that read no project keep their hash (no new key recorded)."""
    inputs = document.lock_inputs([Requirement("ruff")], {}, (), "if-necessary")
    assert set(inputs) == {"requirements", "prerelease", "targets"}


def test_changes_name_what_changed() -> None:
    def recorded(**groups: list[str]) -> dict[str, object]:
        project = ProjectInputs(
            "pyproject.toml",
            groups=tuple((n, tuple(Requirement(r) for r in rs)) for n, rs in groups.items()),
            dependencies=(Requirement("a"),),
        )
        return project.recorded(document.canonical_requirement)

    assert changes(recorded(typing=["x"]), recorded(typing=["x", "y"])) == [
        "dependency group 'typing' of pyproject.toml changed"
    ]
    assert changes(None, recorded(typing=["x"])) == [
        "dependency group 'typing' of pyproject.toml changed",
        "the project dependencies of pyproject.toml changed",
    ]


def test_find_line_reads_quoted_and_normalised_keys() -> None:
    text = '[dependency-groups]\n"Type_Check" = []\n\n[project]\ndynamic = []\n'
    assert find_line(text, "dependency-groups", "type-check") == 2
    assert find_line(text, "project", "dynamic") == 5
    assert find_line(text, "project") == 4
    assert find_line(text, "tool.x") == 0


def test_local_paths_are_checked_at_their_line(tmp_path: Path) -> None:
    (tmp_path / "plugins" / "mine").mkdir(parents=True)
    found = problems(
        tmp_path,
        "  t:\n    from: flake8\n    with:\n      - ./plugins/missing\n      - ./plugins/mine\n"
        "      - other @ file:///nowhere/at/all\n",
    )
    assert [f.split(": ", 1)[0] for f in found] == [
        "<p>/tools.yaml:5",
        "<p>/tools.yaml:6",
        "<p>/tools.yaml:7",
    ]
    assert "local path './plugins/missing' does not exist" in found[0]
    assert "'./plugins/mine' is a folder without pyproject.toml or setup.py" in found[1]
    assert "does not exist (/nowhere/at/all)" in found[2]
