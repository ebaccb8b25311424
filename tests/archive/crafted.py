"""Crafted archives, shared by the archive tests: a good archive taken apart and packed again
with changes, and the check that restoring one was refused cleanly (one line, nothing written
outside the temporary folder, the cache left exactly as it was)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import zstandard

from tests.archive import Runner, built_runner, second_runner
from tests.conftest import _changes, _snapshot
from tests.support.index import LocalIndex
from toolcache.archive.contents import MEMBER_NAME

Members = list[tuple[tarfile.TarInfo, bytes]]
Receipt = dict[str, Any]
Change = Callable[[Receipt, Members], tuple[Receipt, Members]]


@dataclass
class Setup:
    runner: Runner  # restores; its archives folder holds the archive under test
    manifest: Path
    archive: Path  # where the archive under test goes
    original: bytes  # a good archive of the environment
    outside: Path  # a folder that must stay empty


def make_setup(tmp_path: Path, local_index: LocalIndex, monkeypatch: pytest.MonkeyPatch) -> Setup:
    """Runner A builds and exports the environment; runner B (a checkout of the project, its
    cache warm but without the environment) is where each archive under test is restored."""
    a, manifest_a = built_runner(tmp_path, local_index, monkeypatch)
    assert a.export(manifest_a) == 0
    (archive,) = (a.cache / "archives").iterdir()

    b, manifest_b = second_runner(tmp_path, manifest_a, monkeypatch)
    assert b.restore(manifest_b, no_build=True) == 0  # probes the interpreter: a warm cache
    assert json.loads(b.out.getvalue())["tools"]["lint"]["status"] == "missing"
    outside = tmp_path / "outside"
    outside.mkdir()
    (b.cache / "archives").mkdir()
    return Setup(b, manifest_b, b.cache / "archives" / archive.name, archive.read_bytes(), outside)


def unpack_tar(archive: bytes) -> tuple[Receipt, Members]:
    data = zstandard.ZstdDecompressor().decompressobj().decompress(archive)
    members: Members = []
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar:
            stream = tar.extractfile(member) if member.isreg() else None
            members.append((member, stream.read() if stream else b""))
    receipt_member, receipt_data = members[0]
    assert receipt_member.name == MEMBER_NAME
    return json.loads(receipt_data), members[1:]


def pack_tar(receipt: Receipt | None, members: Members, *, receipt_last: bool = False) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        items = list(members)
        if receipt is not None:
            data = json.dumps(receipt).encode()
            info = tarfile.TarInfo(MEMBER_NAME)
            info.size = len(data)
            items.insert(len(items) if receipt_last else 0, (info, data))
        for info, data in items:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return zstandard.ZstdCompressor(level=1).compress(buffer.getvalue())


def member(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", link: str = "") -> Any:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.linkname = link
    info.mode = 0o644
    return info, data


def listed(path: str, data: bytes = b"") -> dict[str, Any]:
    sha = hashlib.sha256(data).hexdigest()
    return {"path": path, "type": "file", "executable": False, "size": len(data), "sha256": sha}


def with_extra(
    entry: dict[str, Any], extra: tuple[tarfile.TarInfo, bytes]
) -> Callable[[Receipt, Members], tuple[Receipt, Members]]:
    def change(receipt: Receipt, members: Members) -> tuple[Receipt, Members]:
        receipt["entries"].append(entry)
        return receipt, [*members, extra]

    return change


def symlink_entry(path: str, target: str) -> Callable[[Receipt, Members], tuple[Receipt, Members]]:
    def change(receipt: Receipt, members: Members) -> tuple[Receipt, Members]:
        receipt["entries"].append({"path": path, "type": "symlink", "target": target})
        return receipt, [*members, member(path, tarfile.SYMTYPE, link=target)]

    return change


def check_refused(setup: Setup, data: bytes, expected: str, **options: Any) -> str:
    setup.archive.write_bytes(data)
    before = _snapshot(setup.runner.cache)
    assert setup.runner.restore(setup.manifest, no_build=True, **options) == 0
    result = json.loads(setup.runner.out.getvalue())["tools"]["lint"]
    assert result["status"] == "missing"
    reason = result["refused"]
    assert reason is not None and expected in reason, reason
    assert "\n" not in reason
    assert _changes(before, _snapshot(setup.runner.cache)) == []
    assert list(setup.outside.iterdir()) == []
    assert not (setup.runner.root.parent / "evil").exists()
    assert f"not restored: {reason}" in setup.runner.err.getvalue()
    return str(reason)
