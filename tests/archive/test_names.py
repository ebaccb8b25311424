"""Names as the file system that restores an archive sees them.

An archive made on Linux may be restored on macOS or Windows, where ``Foo`` and ``foo`` are one
name (and on macOS a composed and a decomposed ``é`` too), and where some names cannot be
created at all (``nul.txt``, ``a:b``, ``x.``). The rules on their own, then restores refused
with one line and nothing written (the checks of ``crafted.check_refused``), exports refused
naming the file, and last a real case-insensitive mount: NTFS by ``lowntfs-3g -o ignore_case``
over FUSE (Linux, as root; skipped with the reason elsewhere).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.archive import TOOL_MODULE, Runner, make_runner, write_project
from tests.archive.crafted import (
    Change,
    Members,
    Receipt,
    Setup,
    check_refused,
    listed,
    make_setup,
    member,
    pack_tar,
    symlink_entry,
    unpack_tar,
)
from tests.conftest import _changes, _snapshot
from tests.support.dists import build_wheel
from tests.support.index import LocalIndex
from toolcache.archive.contents import ArchiveError, Entry, check_entries, fold
from toolcache.archive.contents import resolve_link as resolve
from toolcache.archive.unpack import Expected, unpack

NFC_E = "\u00e9"  # é, composed
NFD_E = "e\u0301"  # é, decomposed: e and a combining acute accent


def refused(*entries: Entry) -> str:
    with pytest.raises(ArchiveError) as info:
        check_entries(entries, archive="t", size_limit=1 << 30)
    reason = info.value.reason
    assert "\n" not in reason
    return reason


def accepted(*entries: Entry) -> None:
    check_entries(entries, archive="t", size_limit=1 << 30)


def file(path: str) -> Entry:
    return Entry(path, "file", sha256="0" * 64)


def folder(path: str) -> Entry:
    return Entry(path, "dir")


def link(path: str, target: str) -> Entry:
    return Entry(path, "symlink", target=target)


# --- the rules on their own --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (file("Foo.py"), file("foo.py")),
        (file("README"), file("readme")),
        (folder("lib"), folder("LIB")),
        (folder("up"), link("UP", "lib")),
        (file("stra\u00dfe.txt"), file("STRASSE.txt")),  # ß folds to ss
        (file("\u00c9t\u00e9"), file("\u00e9T\u00c9")),  # case of a letter with an accent
        (file("\u0131ndex"), file("INDEX")),  # dotless i (U+0131): upper case I, as NTFS compares
    ],
    ids=["file", "readme", "folder", "folder-and-symlink", "sharp-s", "accented", "dotless-i"],
)
def test_names_one_but_for_case_are_refused(first: Entry, second: Entry) -> None:
    reason = refused(first, second)
    assert "are one name where case or Unicode normalization is ignored" in reason
    # Listed in the other order too, and under a listed folder.
    assert "are one name" in refused(second, first)
    inside = [
        Entry(f"d/{e.path}", e.type, sha256=e.sha256, target=e.target) for e in (first, second)
    ]
    assert "are one name" in refused(folder("d"), *inside)


def test_composed_and_decomposed_names_are_refused_and_different_names_kept() -> None:
    reason = refused(file(f"caf{NFC_E}.py"), file(f"caf{NFD_E}.py"))
    # Both spellings print alike: the reason shows their code points.
    assert "'cafe\\u0301.py' and 'caf\\xe9.py' are one name" in reason, reason
    assert "are one name" in refused(folder(f"{NFD_E}t{NFD_E}"), folder(f"\u00c9T{NFC_E}"))

    # Names that stay apart everywhere, and ones Windows takes, are accepted.
    accepted(
        file("foo.py"),
        file("foo.pyc"),
        file("Foo_py"),
        file(f"caf{NFC_E}.py"),
        file("cafe.py"),
        file("console.py"),  # CON is a device name, CONSOLE is not
        file("nullable.txt"),
        file("com10"),
        file("lpt"),
        file("auxiliary.py"),
        file("CONIN"),
        file(".hidden"),
        file("x..y"),
        file("LONGNA~1"),
        folder("lib"),
        link("lib64", "lib"),
        link("Lib64-x", "LIB"),  # a last part needs not be a folder
    )
    assert fold(f"A/{NFD_E}/SS") == fold(f"a/{NFC_E}/ss") == f"a/{NFC_E}/ss"


@pytest.mark.parametrize(
    "path",
    [
        "CON",
        "con",
        "Con.py",
        "nul.txt",
        "NUL.tar.gz",
        "nul .txt",
        "aux",
        "prn.h",
        "com1",
        "COM9.py",
        "lpt1",
        "LPT\u00b9",
        "COM\u00b2.txt",
        "CONIN$",
        "conout$",
        "lib/aux.py",
    ],
)
def test_windows_device_names_are_refused(path: str) -> None:
    reason = refused(folder("lib"), file(path))
    assert f"{path!r} cannot be created on Windows" in reason, reason
    assert "is a device name" in reason


@pytest.mark.parametrize("path", ["a.", "a ", "lib/x.", "lib/x ", "lib/dir./x", "..."])
def test_trailing_dots_and_spaces_are_refused(path: str) -> None:
    reason = refused(folder("lib"), file(path))
    assert "cannot be created on Windows" in reason and "ends in a dot or space" in reason


@pytest.mark.parametrize(
    ("path", "char"),
    [
        ("lib/a:b", ":"),
        ("setup.py:Zone.Identifier", ":"),  # an NTFS alternate data stream
        ("a<b", "<"),
        ("a>b", ">"),
        ('a"b', '"'),
        ("a|b", "|"),
        ("a?b", "?"),
        ("a*b", "*"),
        ("a\x01b", "\x01"),
        ("a\nb", "\n"),
        ("a\x1fb", "\x1f"),
    ],
)
def test_windows_reserved_characters_are_refused(path: str, char: str) -> None:
    reason = refused(folder("lib"), file(path))
    assert f"({char!r} is a reserved character)" in reason, reason


def test_a_colon_second_is_refused_as_a_drive() -> None:
    # ``a:b`` is ``b`` in the current folder of drive A: on Windows.
    assert "'a:b' is absolute" in refused(file("a:b"))
    assert "':' is a reserved character" in refused(folder("x"), file("x/a:b"))


@pytest.mark.parametrize("target", ["CON", "lib/nul.txt", "lib/a:b", "lib.", "../lib/x?"])
def test_link_targets_windows_cannot_create_are_refused(target: str) -> None:
    reason = refused(folder("lib"), folder("d"), link("d/x", target))
    assert f"symlink 'd/x' -> {target!r} cannot be created on Windows" in reason, reason


def test_resolve_link_reads_names_folded() -> None:
    # ``d/UP`` is the symlink ``d/up`` on a case-insensitive file system: ``..`` of the root.
    assert resolve("x", "d/UP/..", {"d/up": ".."}) is None
    assert resolve("x", "D/Up/lib", {"d/up": ".."}) == "lib"
    assert resolve("x", f"d/{NFC_E}/..", {fold(f"d/{NFD_E}"): ".."}) is None
    # With the folders given, every part walked through must be a folder or a symlink.
    folders = {"lib", "d"}
    assert resolve("x", "LIB/../lib/python", {}, folders) == "lib/python"
    assert resolve("x", "nowhere/../lib", {}, folders) is None
    assert resolve("x", "lib/python/..", {}, folders) is None
    assert resolve("x", "D/UP/lib", {"d/up": ".."}, folders) == "lib"


def test_the_issues_symlink_is_refused() -> None:
    # d1/d2/d3/d4/up is the root; read case-sensitively, UP is a folder and x the root too,
    # but where UP is up, x is five levels above the root.
    chain = [folder("d1"), folder("d1/d2"), folder("d1/d2/d3"), folder("d1/d2/d3/d4")]
    up = link("d1/d2/d3/d4/up", "../../../..")
    accepted(*chain, up, link("x", "d1/d2/d3/d4/up/lib"))
    reason = refused(*chain, up, link("x", "d1/d2/d3/d4/UP/../../../../.."))
    assert "symlink 'x' -> 'd1/d2/d3/d4/UP/../../../../..' leads outside" in reason
    assert "leads outside" in refused(*chain, up, link("x", f"d1/D2/d3/d4/U{NFD_E}/../.."))
    # A name the archive does not hold may stand for one it does (a Windows short name).
    assert "does not list as a folder" in refused(*chain, up, link("x", "d1/D2D3~1/../.."))


@pytest.mark.parametrize(
    "entry",
    [
        link("PYVENV.CFG", "lib"),
        file("PyVenv.cfg"),
        file(".PYVENV.CFG.TMP"),
    ],
)
def test_root_names_relocation_writes_are_refused_in_any_case(entry: Entry) -> None:
    assert f"{entry.path!r} is a reserved name" in refused(folder("lib"), entry)


# --- restoring ---------------------------------------------------------------------------------


def extra_files(*paths: str) -> Change:
    def change(receipt: Receipt, members: Members) -> tuple[Receipt, Members]:
        for path in paths:
            receipt["entries"].append(listed(path, b"x"))
            members = [*members, member(path, data=b"x")]
        return receipt, members

    return change


#: The issue's symlink, in ``bin`` (whose symlinks the health check takes for interpreter
#: links, so that an environment holding them is published), with ``bin/up -> ..``. Read
#: case-sensitively, each ``UP`` is a folder and ``bin/x`` is ``bin``; where ``UP`` is ``up``,
#: each ``UP`` is the root and ``bin/x`` five levels above it.
ESCAPE = "UP/bin/UP/bin/UP/../../../../.."


def issues_symlink(receipt: Receipt, members: Members) -> tuple[Receipt, Members]:
    receipt, members = symlink_entry("bin/up", "..")(receipt, members)
    return symlink_entry("bin/x", ESCAPE)(receipt, members)


def config_in_capitals(receipt: Receipt, members: Members) -> tuple[Receipt, Members]:
    """``pyvenv.cfg``, the file relocation rewrites, as a symlink ``PYVENV.CFG -> lib``."""
    receipt["entries"] = [
        {"path": "PYVENV.CFG", "type": "symlink", "target": "lib"}
        if e["path"] == "pyvenv.cfg"
        else e
        for e in receipt["entries"]
    ]
    members = [
        member("PYVENV.CFG", tarfile.SYMTYPE, link="lib") if m.name == "pyvenv.cfg" else (m, d)
        for m, d in members
    ]
    return receipt, members


def member_named(name: str) -> Change:
    def change(receipt: Receipt, members: Members) -> tuple[Receipt, Members]:
        receipt["entries"].append(listed("fine.py", b"x"))
        return receipt, [*members, member(name, data=b"x")]

    return change


CASES: dict[str, tuple[Change, str]] = {
    "names one but for case": (extra_files("lib/Evil.py", "lib/evil.py"), "are one name"),
    "composed and decomposed": (
        extra_files(f"caf{NFC_E}.py", f"caf{NFD_E}.py"),
        "'cafe\\u0301.py' and 'caf\\xe9.py' are one name",
    ),
    "device name": (extra_files("nul.txt"), "'nul.txt' cannot be created on Windows (NUL is"),
    "device name in a folder": (extra_files("lib/com1.py"), "(COM1 is a device name)"),
    "colon": (extra_files("lib/a:b"), "(':' is a reserved character)"),
    "trailing dot": (extra_files("evil."), "('evil.' ends in a dot or space)"),
    "trailing space": (extra_files("lib/evil "), "('evil ' ends in a dot or space)"),
    "symlink walking through another spelled in capitals": (issues_symlink, "leads outside"),
    "pyvenv.cfg in capitals": (config_in_capitals, "'PYVENV.CFG' is a reserved name"),
    "member named what Windows cannot create": (member_named("x?"), "unsafe member: 'x?'"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_archive_with_such_names_is_refused(setup: Setup, case: str) -> None:
    change, expected = CASES[case]
    receipt, members = unpack_tar(setup.original)
    check_refused(setup, pack_tar(*change(receipt, members)), expected)


# --- exporting ---------------------------------------------------------------------------------


def written(before: dict[str, tuple[bool, int, int]], cache: Path) -> list[str]:
    """What changed in ``cache`` since ``before``, but for the environment's last-used stamp
    (finding it to export it is a use)."""
    changes = _changes(before, _snapshot(cache))
    return [c for c in changes if not c.endswith("/toolcache-last-used")]


def runner_with_files(
    tmp_path: Path, index: LocalIndex, monkeypatch: pytest.MonkeyPatch, files: dict[str, str]
) -> tuple[Runner, Path, Path]:
    """Runner A with ``lintme``'s environment built, its wheel carrying ``files`` too (names
    Linux takes); returns the runner, the manifest and the package's folder in the cache."""
    dists = tmp_path / "dists"
    index.add(build_wheel(dists, "helper", "2.0"))
    payload = {"lintme/__init__.py": TOOL_MODULE, **files}
    lintme = build_wheel(
        dists,
        "lintme",
        "1.0",
        requires=["helper"],
        console_scripts={"lintme": "lintme:main"},
        files=payload,
    )
    index.add(lintme)
    a = make_runner(tmp_path, "A")
    a.activate(monkeypatch)
    manifest = write_project(a.work / "repo", index.url)
    assert a.restore(manifest) == 0, a.err.getvalue()
    assert json.loads(a.out.getvalue())["tools"]["lint"]["status"] == "built", a.err.getvalue()
    (package,) = (a.cache / "envs").glob("*/*/lib/python*/site-packages/lintme")
    assert sorted(p.name for p in package.iterdir() if p.is_file()) == sorted(
        name.removeprefix("lintme/") for name in payload
    )
    return a, manifest, package


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["nul.txt"], "(NUL is a device name)"),
        (["a:b"], "(':' is a reserved character)"),
        (["notes."], "('notes.' ends in a dot or space)"),
        (["Helper.py", "helper.py"], "'helper.py' and 'Helper.py' are one name"),
        ([f"caf{NFD_E}", f"caf{NFC_E}"], "are one name"),  # NFD sorts first
    ],
    ids=["device", "colon", "trailing-dot", "case", "normalization"],
)
def test_export_refuses_names_a_restore_would_refuse(
    tmp_path: Path,
    local_index: LocalIndex,
    monkeypatch: pytest.MonkeyPatch,
    names: list[str],
    expected: str,
) -> None:
    files = {f"lintme/{name}": "x = 1\n" for name in names}
    a, manifest, package = runner_with_files(tmp_path, local_index, monkeypatch, files)
    before = _snapshot(a.cache)
    with pytest.raises(ArchiveError) as info:
        a.export(manifest)
    message = str(info.value)
    assert "\n" not in message
    assert f"cannot archive {str(package / names[-1])!r}: " in message, message
    assert expected in message, message
    assert written(before, a.cache) == []  # no archive, not even a temporary one

    # From the command line: that line, exit 1.
    proc = subprocess.run(
        [sys.executable, "-m", "toolcache", "export"],
        cwd=manifest.parent,
        env={**os.environ, "TOOLCACHE_NO_FAST_PATH": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip().splitlines() == [f"toolcache: error: {message}"], proc.stderr
    assert written(before, a.cache) == []


# --- a real case-insensitive file system -------------------------------------------------------

#: Where mkntfs (in /usr/sbin) and the mount tools are looked for: the runners' PATH has no sbin.
_TOOL_PATH = os.pathsep.join(["/usr/local/sbin", "/usr/sbin", "/sbin", os.environ.get("PATH", "")])
IMAGE_SIZE = 64 << 20


def _tool(name: str) -> str | None:
    return shutil.which(name, path=_TOOL_PATH)


@contextlib.contextmanager
def ntfs_ignoring_case(image: Path, where: Path) -> Iterator[Path]:
    """An NTFS file system made in the file ``image`` and mounted at ``where`` by ``lowntfs-3g
    -o ignore_case``: names are looked up ignoring case, as on Windows (listings show them in
    lower case), and symlinks work. (exFAT over FUSE ignores case too but has no symlinks, so
    no environment can be restored on it.) Unmounted on the way out, whatever happened."""
    if sys.platform != "linux":
        pytest.skip("FUSE mounts of NTFS by lowntfs-3g are Linux's")
    mkntfs, lowntfs, fusermount, umount = map(
        _tool, ("mkntfs", "lowntfs-3g", "fusermount", "umount")
    )
    if mkntfs is None or lowntfs is None:
        pytest.skip("mkntfs and lowntfs-3g (Debian package ntfs-3g) are not installed")
    if not os.path.exists("/dev/fuse"):
        pytest.skip("there is no /dev/fuse here: FUSE file systems cannot be mounted")
    with image.open("wb") as fh:
        fh.truncate(IMAGE_SIZE)
    made = subprocess.run(
        [mkntfs, "--force", "--quick", "--quiet", str(image)],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"mkntfs failed here: {made.stderr.strip() or made.returncode}")
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        [lowntfs, "-o", "ignore_case", str(image), str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        reason = mounted.stderr.strip().replace("\n", " ") or mounted.returncode
        pytest.skip(f"cannot mount NTFS by lowntfs-3g here (FUSE, root needed): {reason}")
    try:
        yield where
    finally:
        done = False
        if fusermount is not None:
            done = subprocess.run([fusermount, "-u", str(where)], check=False).returncode == 0
        if not done:
            subprocess.run([umount or "umount", "-l", str(where)], check=False)


@pytest.fixture
def insensitive_cache(tmp_path: Path) -> Iterator[Path]:
    """Runner B's cache root (``tmp_path/B/cache``) on a case-insensitive mount."""
    with ntfs_ignoring_case(tmp_path / "ntfs.img", tmp_path / "B" / "cache") as cache:
        yield cache


def test_on_a_case_insensitive_mount_crafted_names_are_refused_and_good_archives_unpack(
    insensitive_cache: Path,
    tmp_path: Path,
    local_index: LocalIndex,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # On this mount the issue's links, made by hand, lead five levels up from their folder.
    demo = insensitive_cache / "demo"
    (demo / "bin").mkdir(parents=True)
    (demo / "bin" / "up").symlink_to("..")
    (demo / "bin" / "x").symlink_to(ESCAPE)
    assert (demo / "bin" / "UP").is_symlink()
    assert os.path.realpath(demo / "bin" / "x") == os.path.realpath(demo.parents[4])
    shutil.rmtree(demo)

    setup = make_setup(tmp_path, local_index, monkeypatch)
    assert setup.runner.cache == insensitive_cache
    receipt, _ = unpack_tar(setup.original)
    expected = Expected(receipt["interpreter-hash"], receipt["resolution-hash"])

    # An archive holding them is refused, by a restore into the cache on the mount and by
    # unpacking into a folder there (where nothing is written: the receipt is read first).
    escape = pack_tar(*issues_symlink(*unpack_tar(setup.original)))
    check_refused(setup, escape, f"symlink 'bin/x' -> {ESCAPE!r} leads outside")
    dest = insensitive_cache / "unpacked"
    dest.mkdir()
    with pytest.raises(ArchiveError, match="leads outside"):
        unpack(io.BytesIO(escape), dest, archive="t", expected=expected, size_limit=1 << 30)
    assert list(dest.iterdir()) == []
    # Two files that are one here: the second would fail to be made (O_EXCL), or replace it.
    collide = pack_tar(*extra_files("lib/Evil.py", "lib/evil.py")(*unpack_tar(setup.original)))
    check_refused(setup, collide, "'lib/evil.py' and 'lib/Evil.py' are one name")

    # The good archive unpacks there, every entry as listed. (Not a whole restore: lowntfs-3g
    # lists every name in lower case, so the health check finds RECORD "missing" and "record"
    # "added" in any environment on it. Windows and macOS keep the case they were given.)
    contents = unpack(
        io.BytesIO(setup.original), dest, archive="good", expected=expected, size_limit=1 << 30
    )
    assert len(contents.entries) == len(receipt["entries"]) > 10
    for entry in contents.entries:
        path = dest / entry.path
        if entry.type == "dir":
            assert path.is_dir() and not path.is_symlink(), entry
        elif entry.type == "symlink":
            assert os.readlink(path) == entry.target, entry
        elif entry.type == "file":
            assert hashlib.sha256(path.read_bytes()).hexdigest() == entry.sha256, entry
    upper = [e.path for e in contents.entries if e.path != e.path.lower()]
    assert any(p.endswith(".dist-info/RECORD") for p in upper), upper
