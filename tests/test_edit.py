"""``toolcache add``, ``remove`` and ``tools``: the manifest edited as text, every byte outside
the edited entry kept; ``add`` locks, ``remove`` deletes the lock."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.conftest import Dists
from tests.support.index import LocalIndex
from tests.test_run import toolcache
from toolcache.commands.edit import EditError, added, removed

MANIFEST = """\
# Tools for this repo
index-url: {url}   # the local index
python: "{python}"

tools:
  # linters
  lint: lintme==1.0          # shorthand

  types:
    from: lintme==1.0
    with: [helper, "helper>=1"]   # flow list
    run: lintme --types

  fmt: {{from: lintme==1.0, run: lintme}}

  # the last one
  test:
    from: lintme==1.0
    with:
      - helper
      - helper>=1   # block list, indented
"""


@pytest.fixture
def project(tmp_path: Path, local_index: LocalIndex, dists: Dists) -> Path:
    for version in ("1.0", "2.0"):
        local_index.add(dists.wheel("lintme", version, console_scripts={"lintme": "lintme:x"}))
    local_index.add(dists.wheel("helper", "3.0"))
    folder = tmp_path / "project"
    (folder / ".git").mkdir(parents=True)
    text = MANIFEST.format(url=local_index.url, python=sys.executable)
    (folder / "tools.yaml").write_bytes(text.encode())
    return folder


def cli(*args: str, cwd: Path) -> tuple[int, str, str]:
    proc = toolcache("-m", "toolcache", *args, cwd=cwd)
    return proc.returncode, proc.stdout, proc.stderr


def test_add_then_remove_gives_back_the_same_bytes(project: Path) -> None:
    path = project / "tools.yaml"
    before = path.read_bytes()
    code, _, err = cli("add", "black", "lintme==2.0", "--with", "helper", "--run", "lintme -x",
                       cwd=project)  # fmt: skip
    assert code == 0, err
    after = path.read_bytes()
    # Appended after the last entry, in the file's block layout; nothing else changed.
    assert after == before + (
        b"  black:\n    from: lintme==2.0\n    with: [helper]\n    run: lintme -x\n"
    )
    lock = project / "tools.lock" / "pylock.black.toml"
    assert 'name = "lintme"\nversion = "2.0"' in lock.read_text()

    code, _, err = cli("remove", "black", cwd=project)
    assert code == 0, err
    assert path.read_bytes() == before
    assert not lock.exists()


@pytest.mark.parametrize(
    ("name", "gone"),
    [
        ("lint", "  # linters\n  lint: lintme==1.0          # shorthand\n\n"),
        (
            "types",
            "  types:\n    from: lintme==1.0\n"
            '    with: [helper, "helper>=1"]   # flow list\n    run: lintme --types\n\n',
        ),
        ("fmt", "  fmt: {from: lintme==1.0, run: lintme}\n\n"),
        (
            "test",
            "\n  # the last one\n  test:\n    from: lintme==1.0\n    with:\n      - helper\n"
            "      - helper>=1   # block list, indented\n",
        ),
    ],
)
def test_remove_takes_out_exactly_the_entry(project: Path, name: str, gone: str) -> None:
    path = project / "tools.yaml"
    before = path.read_text()
    assert gone in before
    code, _, err = cli("remove", name, cwd=project)
    assert code == 0, err
    assert path.read_text() == before.replace(gone, "", 1)


def test_add_of_an_existing_name_and_remove_of_an_unknown_one_are_errors(project: Path) -> None:
    path = project / "tools.yaml"
    before = path.read_bytes()
    code, _, err = cli("add", "lint", "lintme", cwd=project)
    assert code == 1
    assert err == f"toolcache: error: {path}: a tool named 'lint' is already in the manifest\n"
    code, _, err = cli("remove", "nope", cwd=project)
    assert code == 1
    assert err == f"toolcache: error: {path}: no tool named 'nope' in the manifest\n"
    # A package the index does not have: the lock fails and the manifest is put back.
    code, _, err = cli("add", "x", "nosuchtool", cwd=project)
    assert code == 1
    assert "Traceback" not in err
    assert path.read_bytes() == before


def test_tools_lists_names_requirements_pins_with_and_commands(project: Path) -> None:
    assert cli("lock", "-t", "types", cwd=project)[0] == 0
    code, out, err = cli("tools", cwd=project)
    assert code == 0, err
    assert [line.split() for line in out.splitlines()] == [
        ["tool", "from", "pinned", "with", "run"],
        ["lint", "lintme==1.0", "-", "-", "lintme"],
        ["types", "lintme==1.0", "1.0", "helper,", "helper>=1", "lintme", "--types"],
        ["fmt", "lintme==1.0", "-", "-", "lintme"],
        ["test", "lintme==1.0", "-", "helper,", "helper>=1", "lintme"],
    ]
    code, out, _ = cli("tools", "--format", "json", cwd=project)
    assert json.loads(out)["tools"][1] == {
        "name": "types",
        "from": "lintme==1.0",
        "pinned": "1.0",
        "with": ["helper", "helper>=1"],
        "run": "lintme --types",
    }


def test_edits_keep_crlf_and_refuse_a_flow_tools_mapping(tmp_path: Path) -> None:
    path = tmp_path / "tools.yaml"
    text = "tools:\r\n  a: x==1\r\n\r\n  b:\r\n    from: y\r\n"
    grown = added(text, path, "c", "z==2", with_=[], run=None)
    assert grown == text + "  c: z==2\r\n"
    assert removed(grown, path, "c") == text
    assert removed(text, path, "b") == "tools:\r\n  a: x==1\r\n"
    with pytest.raises(EditError, match="not a block mapping"):
        added("tools: {a: x}\n", path, "c", "z", with_=[], run=None)
    # No manifest yet: one is made.
    assert (
        added("", path, "c", "z==2", with_=["w"], run=None)
        == "tools:\n  c:\n    from: z==2\n    with: [w]\n"
    )


def test_a_broken_manifest_is_refused_at_its_line_not_edited(project: Path) -> None:
    path = project / "tools.yaml"
    broken = path.read_text(encoding="utf-8") + "  bad: [unclosed\n"
    path.write_text(broken, encoding="utf-8")
    for args in (["add", "x", "lintme"], ["remove", "lint"]):
        code, _, err = cli(*args, cwd=project)
        assert code == 1, args
        assert err.startswith(f"toolcache: error: {path}:"), err
        assert "fix this before toolcache edits the manifest" in err
        assert "Traceback" not in err and err.count("\n") == 1
        assert path.read_text(encoding="utf-8") == broken


def test_a_failed_lock_never_overwrites_an_edit_made_meanwhile(project: Path) -> None:
    """The lock of ``add`` can take minutes: if the user saved the manifest meanwhile, a failed
    lock leaves their version alone (it only puts back what ``add`` itself wrote)."""
    from toolcache.commands.edit import add
    from toolcache.output import Output

    path = project / "tools.yaml"
    theirs = path.read_text(encoding="utf-8") + "# saved while the lock ran\n"

    def lock(manifest: Path, name: str) -> int:
        manifest.write_text(theirs, encoding="utf-8")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        add(path, "x", "lintme", with_=[], run=None, lock=lock, output=Output(quiet=True))
    assert path.read_text(encoding="utf-8") == theirs
