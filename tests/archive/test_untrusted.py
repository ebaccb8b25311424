"""Malicious and broken archives: each is refused with one clear line, nothing is written
outside the temporary folder, and the cache is left exactly as it was."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard

from tests.archive.crafted import (
    Members,
    Receipt,
    Setup,
    check_refused,
    listed,
    member,
    pack_tar,
    symlink_entry,
    unpack_tar,
    with_extra,
)
from tests.support.index import LocalIndex
from toolcache.archive.contents import MEMBER_NAME, ArchiveError, Entry, check_entries
from toolcache.archive.contents import resolve_link as resolve


def first_file(receipt: Receipt, members: Members) -> int:
    return next(
        i for i, (m, data) in enumerate(members) if m.isreg() and data and m.name.endswith(".py")
    )


def tamper_content(receipt: Receipt, members: Members) -> tuple[Receipt, Members]:
    i = first_file(receipt, members)
    info, data = members[i]
    members[i] = (info, bytes([data[0] ^ 1]) + data[1:])
    return receipt, members


def other_interpreter(receipt: Receipt, members: Members) -> tuple[Receipt, Members]:
    receipt["interpreter-hash"] = "0" * 64
    return receipt, members


def other_resolution(receipt: Receipt, members: Members) -> tuple[Receipt, Members]:
    receipt["resolution-hash"] = "1" * 64
    return receipt, members


def other_packages(receipt: Receipt, members: Members) -> tuple[Receipt, Members]:
    receipt["packages"][0][1] = "9.9"
    return receipt, members


def size_lie(receipt: Receipt, members: Members) -> tuple[Receipt, Members]:
    i = first_file(receipt, members)
    info, data = members[i]
    bigger = data + b"\0" * (1 << 20)
    new = copy.copy(info)
    new.size = len(bigger)
    members[i] = (new, bigger)
    return receipt, members


def hardlink(receipt: Receipt, members: Members) -> tuple[Receipt, Members]:
    receipt["entries"].append(listed("evil"))
    return receipt, [*members, member("evil", tarfile.LNKTYPE, link="/etc/passwd")]


def device(kind: bytes) -> Callable[[Receipt, Members], tuple[Receipt, Members]]:
    def change(receipt: Receipt, members: Members) -> tuple[Receipt, Members]:
        receipt["entries"].append(listed("dev"))
        return receipt, [*members, member("dev", kind)]

    return change


def unlisted(receipt: Receipt, members: Members) -> tuple[Receipt, Members]:
    return receipt, [*members, member("extra.py", data=b"print(1)\n")]


def through_symlink(receipt: Receipt, members: Members) -> tuple[Receipt, Members]:
    receipt, members = symlink_entry("lnk", "lib")(receipt, members)
    receipt["entries"].append(listed("lnk/x.py", b"x"))
    return receipt, [*members, member("lnk/x.py", data=b"x")]


def chained_escape(receipt: Receipt, members: Members) -> tuple[Receipt, Members]:
    receipt, members = symlink_entry("lib/up", "..")(receipt, members)
    return symlink_entry("esc", "lib/up/../..")(receipt, members)


def member_name_differs(name: str) -> Callable[[Receipt, Members], tuple[Receipt, Members]]:
    def change(receipt: Receipt, members: Members) -> tuple[Receipt, Members]:
        receipt["entries"].append(listed("fine.py", b"x"))
        return receipt, [*members, member(name, data=b"x")]

    return change


def config_as_symlink(receipt: Receipt, members: Members) -> tuple[Receipt, Members]:
    receipt["entries"] = [
        {"path": "pyvenv.cfg", "type": "symlink", "target": "lib"}
        if e["path"] == "pyvenv.cfg"
        else e
        for e in receipt["entries"]
    ]
    members = [
        member("pyvenv.cfg", tarfile.SYMTYPE, link="lib") if m.name == "pyvenv.cfg" else (m, d)
        for m, d in members
    ]
    return receipt, members


def file_list_disagrees(receipt: Receipt, members: Members) -> tuple[Receipt, Members]:
    # The archive is consistent with its receipt, but the environment's own file list (its
    # wheels' RECORD hashes) vouches for other bytes for one file.
    i = next(i for i, (m, _) in enumerate(members) if m.name == "toolcache-files.json")
    info, data = members[i]
    listing = json.loads(data)
    first = next(path for path in sorted(listing["files"]) if path.endswith(".py"))
    listing["files"][first][0] = "A" * 43
    data = json.dumps(listing).encode()
    new = copy.copy(info)
    new.size = len(data)
    members[i] = (new, data)
    for entry in receipt["entries"]:
        if entry["path"] == "toolcache-files.json":
            entry.update(size=len(data), sha256=hashlib.sha256(data).hexdigest())
    return receipt, members


CASES: dict[str, tuple[Callable[[Receipt, Members], tuple[Receipt, Members]], str]] = {
    "absolute path": (with_extra(listed("/tmp/evil"), member("/tmp/evil")), "is absolute"),
    "dot-dot": (with_extra(listed("../../evil"), member("../../evil")), "contains '..'"),
    "absolute member under a listed name": (member_name_differs("/tmp/evil"), "is absolute"),
    "dot-dot member under a listed name": (member_name_differs("lib/../../x"), "'..'"),
    "symlink escaping": (symlink_entry("lib/esc", "../../.."), "leads outside"),
    "absolute symlink": (symlink_entry("esc", "/etc"), "leads outside"),
    "symlink escaping through another": (chained_escape, "leads outside"),
    "write through a symlink": (through_symlink, "is not a directory"),
    "hardlink": (hardlink, "hardlinks are not allowed"),
    "fifo": (device(tarfile.FIFOTYPE), "device or FIFO"),
    "character device": (device(tarfile.CHRTYPE), "device or FIFO"),
    "block device": (device(tarfile.BLKTYPE), "device or FIFO"),
    "file content changed": (tamper_content, "sha256 mismatch"),
    "file list vouching for other bytes": (file_list_disagrees, "its sha256 differs"),
    "file larger than listed": (size_lie, "is not what its receipt lists"),
    "unlisted member": (unlisted, "not listed in its receipt"),
    "other interpreter": (other_interpreter, "made for interpreter 0000000000000000"),
    "other resolution": (other_resolution, "holds resolution 1111111111111111"),
    "other packages": (other_packages, "package list does not match"),
    "reserved name": (
        with_extra(listed(".pyvenv.cfg.tmp"), member(".pyvenv.cfg.tmp")),
        "reserved name",
    ),
    "pyvenv.cfg as a symlink": (config_as_symlink, "'pyvenv.cfg' is not a file"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malicious_archive_is_refused(setup: Setup, case: str) -> None:
    change, expected = CASES[case]
    receipt, members = unpack_tar(setup.original)
    receipt, members = change(receipt, members)
    check_refused(setup, pack_tar(receipt, members), expected)


def test_the_good_archive_restores(setup: Setup) -> None:
    # The control for the cases above: unpacked and packed again by the same helpers.
    receipt, members = unpack_tar(setup.original)
    setup.archive.write_bytes(pack_tar(receipt, members))
    assert setup.runner.restore(setup.manifest, no_build=True) == 0
    assert json.loads(setup.runner.out.getvalue())["tools"]["lint"]["status"] == "restored"


def test_receipt_not_first_is_refused(setup: Setup) -> None:
    receipt, members = unpack_tar(setup.original)
    check_refused(setup, pack_tar(receipt, members, receipt_last=True), "not the receipt")


def test_missing_receipt_is_refused(setup: Setup) -> None:
    _, members = unpack_tar(setup.original)
    check_refused(setup, pack_tar(None, members), "not the receipt")


def test_missing_member_is_refused(setup: Setup) -> None:
    receipt, members = unpack_tar(setup.original)
    check_refused(setup, pack_tar(receipt, members[:-3]), "truncated")


def test_truncated_zstd_is_refused(setup: Setup) -> None:
    check_refused(setup, setup.original[: len(setup.original) // 2], "truncated")


def test_corrupt_zstd_is_refused(setup: Setup) -> None:
    data = bytearray(setup.original)
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(b ^ 0x5A for b in data[middle : middle + 64])
    check_refused(setup, bytes(data), "")


def test_not_zstd_is_refused(setup: Setup) -> None:
    check_refused(setup, b"PK\x03\x04 this is a zip" * 100, "not valid zstd data")


def test_expanding_past_the_size_limit_is_refused(setup: Setup) -> None:
    check_refused(setup, setup.original, "size limit", size_limit=100)


def test_bomb_within_a_member_is_refused(setup: Setup) -> None:
    # A member that declares 1 GiB (of zeros: a few KiB compressed) while the receipt says less.
    receipt, members = unpack_tar(setup.original)
    receipt["entries"].append(listed("bomb", b"x"))
    info, _ = member("bomb", data=b"x")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        data = json.dumps(receipt).encode()
        head = tarfile.TarInfo(MEMBER_NAME)
        head.size = len(data)
        tar.addfile(head, io.BytesIO(data))
        for m, d in members:
            tar.addfile(m, io.BytesIO(d) if m.isreg() else None)
        info.size = 1 << 30
        buffer.write(info.tobuf(tarfile.PAX_FORMAT))
    compressor = zstandard.ZstdCompressor(level=1).compressobj()
    bomb = compressor.compress(buffer.getvalue())
    zeros = b"\0" * (1 << 20)
    for _ in range(1 << 10):
        bomb += compressor.compress(zeros)
    bomb += compressor.flush()
    assert len(bomb) < 1 << 20
    check_refused(setup, bomb, "is not what its receipt lists")


def test_refused_archive_falls_back_to_building(setup: Setup, local_index: LocalIndex) -> None:
    del local_index  # still serving: building is possible
    receipt, members = unpack_tar(setup.original)
    receipt, members = tamper_content(receipt, members)
    setup.archive.write_bytes(pack_tar(receipt, members))
    assert setup.runner.restore(setup.manifest) == 0
    result = json.loads(setup.runner.out.getvalue())["tools"]["lint"]
    assert result["status"] == "built"
    assert "sha256 mismatch" in result["refused"]
    env = Path(result["environment"])
    assert (env / "bin" / "lintme").exists()
    # Nothing of the refused archive is left beside the environment.
    assert [p.name for p in env.parent.iterdir() if p.name.startswith(".restore-")] == []


def test_a_broken_environment_is_replaced_by_a_restore(setup: Setup) -> None:
    setup.archive.write_bytes(setup.original)
    assert setup.runner.restore(setup.manifest, no_build=True) == 0
    env = Path(json.loads(setup.runner.out.getvalue())["tools"]["lint"]["environment"])
    (env / "pyvenv.cfg").unlink()
    assert setup.runner.restore(setup.manifest, no_build=True) == 0
    assert json.loads(setup.runner.out.getvalue())["tools"]["lint"]["status"] == "restored"
    assert (env / "pyvenv.cfg").is_file()


# --- the receipt's rules on their own ----------------------------------------------------------


def test_resolve_link_follows_the_archives_own_links() -> None:
    assert resolve("bin/python3", "python", {}) == "bin/python"
    assert resolve("lib64", "lib", {}) == "lib"
    assert resolve("a/b", "../c", {}) == "c"
    assert resolve("a/b", "../../c", {}) is None
    assert resolve("a/b", "/etc", {}) is None
    # lexically inside, really outside: a/up is the root, so a/up/.. is above it
    assert resolve("x", "a/up/..", {"a/up": ".."}) is None
    assert resolve("x", "a/up/lib", {"a/up": ".."}) == "lib"
    assert resolve("loop", "loop/x", {"loop": "loop/x"}) is None


def test_check_entries_rules() -> None:
    def refused(*entries: Entry, limit: int = 1 << 30) -> str:
        with pytest.raises(ArchiveError) as info:
            check_entries(entries, archive="t", size_limit=limit)
        return info.value.reason

    file = Entry("a", "file", size=10, sha256="0" * 64)
    assert "listed twice" in refused(file, file)
    assert "not listed before it" in refused(Entry("d/a", "file", size=1, sha256="0" * 64))
    assert "size limit" in refused(file, Entry("b", "file", size=10, sha256="0" * 64), limit=15)
    assert "NUL" in refused(Entry("a\0b", "dir"))
    assert "backslash" in refused(Entry("a\\..\\b", "dir"))
    assert "not normalized" in refused(Entry("a//b", "dir"))
    check_entries(
        [Entry("d", "dir"), Entry("d/a", "symlink", target="../d")], archive="t", size_limit=1
    )


def test_environment_with_a_link_outside_cannot_be_exported(tmp_path: Path) -> None:
    from toolcache.archive.contents import scan

    env = tmp_path / "env"
    (env / "bin").mkdir(parents=True)
    (env / "bin" / "x").symlink_to("/etc/passwd")
    with pytest.raises(ArchiveError, match="links outside the environment"):
        scan(env, base_interpreter=os.path.realpath("/usr/bin/env"), archive="t")
    (env / "bin" / "x").unlink()
    (env / "bin" / "y").symlink_to("../../..")
    with pytest.raises(ArchiveError, match="leads outside"):
        scan(env, base_interpreter="/nothing", archive="t")
    shutil.rmtree(env)
