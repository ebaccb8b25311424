"""The tar reader of ``unpack``: what ``pack`` writes (PAX headers for long names and link
targets, ustar prefixes, large files) is read back exactly, and what it never writes (GNU long
names, global headers, sparse files, a bad checksum, bytes after the end) is refused."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path
from typing import Any, Literal

import pytest
import zstandard

from tests.archive.crafted import Members, listed, member
from toolcache.archive.contents import MEMBER_NAME, ArchiveError
from toolcache.archive.unpack import Expected, unpack

HASHES = ("a" * 64, "b" * 64)
LONG_DIR = "lib/" + "d" * 120
LONG_FILE = f"{LONG_DIR}/caf\u00e9-" + "f" * 150 + ".py"
LONG_TARGET = LONG_FILE.removeprefix("lib/")  # from lib/, so longer than 100 bytes too


def receipt(*entries: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": 1,
        "interpreter-hash": HASHES[0],
        "resolution-hash": HASHES[1],
        "interpreter": {},
        "packages": [],
        "entries": list(entries),
    }


def folder(path: str) -> tuple[dict[str, Any], tuple[tarfile.TarInfo, bytes]]:
    return {"path": path, "type": "dir"}, member(path, tarfile.DIRTYPE)


def file(path: str, data: bytes) -> tuple[dict[str, Any], tuple[tarfile.TarInfo, bytes]]:
    return listed(path, data), member(path, data=data)


def symlink(path: str, target: str) -> tuple[dict[str, Any], tuple[tarfile.TarInfo, bytes]]:
    return {"path": path, "type": "symlink", "target": target}, member(
        path, tarfile.SYMTYPE, link=target
    )


def tar_of(
    items: list[tuple[dict[str, Any], tuple[tarfile.TarInfo, bytes]]],
    member_format: Literal[0, 1, 2] = tarfile.PAX_FORMAT,
    **options: Any,
) -> bytes:
    """The uncompressed tar: the receipt listing ``items`` (as ``pack`` writes it), then their
    members in ``member_format``."""
    members: Members = [m for _, m in items]
    data = json.dumps(receipt(*(entry for entry, _ in items))).encode()
    head = tarfile.TarInfo(MEMBER_NAME)
    head.size = len(data)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT, **options) as tar:
        tar.addfile(head, io.BytesIO(data))
        tar.format = member_format
        for info, content in members:
            tar.addfile(info, io.BytesIO(content) if info.isreg() else None)
    return buffer.getvalue()


def extract(tar: bytes, dest: Path) -> None:
    dest.mkdir()
    compressed = zstandard.ZstdCompressor(level=1, write_checksum=True).compress(tar)
    unpack(
        io.BytesIO(compressed), dest, archive="t", expected=Expected(*HASHES), size_limit=1 << 30
    )


def refusal(tar: bytes, tmp_path: Path) -> str:
    with pytest.raises(ArchiveError) as info:
        extract(tar, tmp_path / "dest")
    return info.value.reason


def header_offset(tar: bytes, name: str) -> int:
    """Where the header of the member ``name`` starts (ustar name field, so a short name)."""
    return tar.index(name.encode() + b"\0")


def test_long_names_and_link_targets_are_read_from_pax_headers(tmp_path: Path) -> None:
    items = [
        folder("lib"),
        folder(LONG_DIR),
        file(LONG_FILE, b"print('long')\n"),
        symlink("lib/link", LONG_TARGET),
    ]
    tar = tar_of(items)
    assert b" path=" + LONG_FILE.encode() in tar and b" linkpath=" in tar
    extract(tar, tmp_path / "dest")
    assert (tmp_path / "dest" / LONG_FILE).read_bytes() == b"print('long')\n"
    assert os.readlink(tmp_path / "dest" / "lib" / "link") == LONG_TARGET


def test_a_ustar_prefix_is_part_of_the_name(tmp_path: Path) -> None:
    short = "lib/" + "d" * 90
    name = f"{short}/" + "x" * 20 + ".py"  # over 100 bytes: split into prefix and name
    tar = tar_of([folder("lib"), folder(short), file(name, b"x")], tarfile.USTAR_FORMAT)
    assert b" path=" not in tar
    extract(tar, tmp_path / "dest")
    assert (tmp_path / "dest" / name).read_bytes() == b"x"


def test_large_files_and_files_across_chunks_are_written_whole(tmp_path: Path) -> None:
    # Files of 300 KiB: some straddle two decompressed chunks. 5 MiB: streamed in pieces.
    small = [file(f"lib/{i}.bin", bytes([i]) * (300 << 10) + b"end") for i in range(16)]
    big = os.urandom(1 << 16) * 80 + b"tail"
    tar = tar_of([folder("lib"), *small, file("lib/big.bin", big)])
    extract(tar, tmp_path / "dest")
    for i in range(16):
        data = (tmp_path / "dest" / "lib" / f"{i}.bin").read_bytes()
        assert data == bytes([i]) * (300 << 10) + b"end"
    assert (tmp_path / "dest" / "lib" / "big.bin").read_bytes() == big


def test_a_large_file_that_is_not_what_its_receipt_says_is_refused(tmp_path: Path) -> None:
    big = os.urandom(1 << 16) * 80
    entry, (info, _) = file("big.bin", big)
    tampered = big[:-1] + bytes([big[-1] ^ 1])
    reason = refusal(tar_of([(entry, (info, tampered))]), tmp_path)
    assert f"sha256 mismatch for 'big.bin': expected {hashlib.sha256(big).hexdigest()}" in reason


def test_a_bad_header_checksum_is_refused(tmp_path: Path) -> None:
    tar = tar_of([file("x.py", b"x")])
    mtime = header_offset(tar, "x.py") + 136  # a field nothing else reads
    changed = tar[:mtime] + bytes([tar[mtime] ^ 1]) + tar[mtime + 1 :]
    assert "bad header checksum" in refusal(changed, tmp_path)


def test_gnu_long_names_are_refused(tmp_path: Path) -> None:
    tar = tar_of([folder("d" * 120)], tarfile.GNU_FORMAT)
    assert "a GNU long name header" in refusal(tar, tmp_path)


def test_a_pax_global_header_is_refused(tmp_path: Path) -> None:
    tar = tar_of([file("x.py", b"x")], pax_headers={"comment": "global"})
    assert "a PAX global header" in refusal(tar, tmp_path)


def test_a_sparse_member_is_refused(tmp_path: Path) -> None:
    entry, (info, data) = file("x.py", b"x")
    info.pax_headers = {"GNU.sparse.major": "1", "GNU.sparse.minor": "0"}
    assert "'x.py' is a sparse file" in refusal(tar_of([(entry, (info, data))]), tmp_path)


def test_bytes_after_the_end_are_refused(tmp_path: Path) -> None:
    tar = tar_of([file("x.py", b"x")])
    assert "data after its end" in refusal(tar + b"\1" + bytes(511), tmp_path)


def test_an_archive_cut_short_in_its_end_blocks_is_truncated(tmp_path: Path) -> None:
    tar = tar_of([file("x.py", b"x")])
    end = header_offset(tar, "x.py") + 2 * 512  # its header, its data: then two zero blocks
    assert tar[end:].count(0) == len(tar) - end
    assert "truncated" in refusal(tar[: end + 300], tmp_path)
