"""The HTTP store against a real nginx with WebDAV PUT on 127.0.0.1."""

from __future__ import annotations

import io
import json
import re
import shutil
import threading
from pathlib import Path

import pytest
import zstandard

from tests.archive import Runner, at_once, built_runner, run_script, second_runner
from tests.conftest import _changes, _snapshot
from tests.support.index import LocalIndex
from tests.support.nginx import Nginx
from toolcache.commands.export import export
from toolcache.lockfile.planning import LockMode
from toolcache.output import Output
from toolcache.store import ArchiveKey, StoreError
from toolcache.store.http import HttpStore
from toolcache.store.pointer import MAX_POINTER_SIZE, Pointer


@pytest.fixture
def built(tmp_path: Path, local_index: LocalIndex, monkeypatch: pytest.MonkeyPatch) -> Runner:
    """Runner A, with the lint tool's environment built."""
    a, _ = built_runner(tmp_path, local_index, monkeypatch)
    return a


def manifest(runner: Runner) -> Path:
    return runner.work / "repo" / "tools.yaml"


def runner_b(a: Runner, monkeypatch: pytest.MonkeyPatch) -> tuple[Runner, Path]:
    return second_runner(a.root.parent, manifest(a), monkeypatch)


def key_in(action_result: bytes) -> ArchiveKey:
    """The environment an ``/ac/`` entry names in its output file's path."""
    found = re.search(
        rb"toolcache-archive/1/([0-9a-f]{64})/([0-9a-f]{64})\.tar\.zst", action_result
    )
    assert found is not None, action_result
    return ArchiveKey(found.group(1).decode(), found.group(2).decode())


def status(runner: Runner, tool: str = "lint") -> str:
    return str(json.loads(runner.out.getvalue())["tools"][tool]["status"])


def test_round_trip(
    built: Runner, nginx: Nginx, local_index: LocalIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert built.export(manifest(built), store=nginx.url) == 0
    puts = [r for r in nginx.requests() if r.method == "PUT"]
    assert [(r.path.split("/")[2], r.status) for r in puts] == [("cas", 201), ("ac", 201)]
    (blob,) = nginx.files("cas")
    (pointer,) = nginx.files("ac")
    key = key_in(pointer.read_bytes())
    found = Pointer.from_action_result(pointer.read_bytes(), key)
    assert found is not None and pointer.name == key.digest
    assert found.sha256 == blob.name and found.size == blob.stat().st_size

    # Exporting again uploads nothing.
    assert built.export(manifest(built), store=nginx.url) == 0
    assert "exists" in built.out.getvalue()
    assert [r for r in nginx.requests() if r.method == "PUT"] == puts

    local_index.stop()
    b, copied = runner_b(built, monkeypatch)
    assert b.restore(copied, store=nginx.url, offline=True, mode=LockMode.LOCKED) == 0
    assert status(b) == "restored", b.err.getvalue()
    env = Path(json.loads(b.out.getvalue())["tools"]["lint"]["environment"])
    proc = run_script(env / "bin" / "lintme", "--check")
    assert (proc.returncode, proc.stdout) == (0, "lintme ok --check\n"), proc.stderr
    assert [r for r in nginx.requests() if r.method == "PUT"] == puts


def test_concurrent_writers_of_the_same_environment(
    built: Runner, nginx: Nginx, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both exports find nothing on the server, then upload at the same moment.
    barrier = threading.Barrier(2, timeout=60)
    original = HttpStore.put

    def put_together(self: HttpStore, key: ArchiveKey, archive: Path) -> None:
        barrier.wait()
        original(self, key, archive)

    monkeypatch.setattr(HttpStore, "put", put_together)

    def one() -> int:
        return export(
            manifest(built),
            [],
            cache_root=built.cache,
            to=None,
            store=nginx.url,
            prune=False,
            mode=LockMode.LOCKED,
            offline=True,
            output=Output(quiet=True, out=io.StringIO(), err=io.StringIO()),
        )

    assert at_once(one) == [0, 0]
    assert len(nginx.files("cas")) == 1 and len(nginx.files("ac")) == 1
    assert len([r for r in nginx.requests() if r.method == "PUT" and "/ac/" in r.path]) == 2

    monkeypatch.undo()
    b, copied = runner_b(built, monkeypatch)
    assert b.restore(copied, store=nginx.url, no_build=True) == 0
    assert status(b) == "restored", b.err.getvalue()


def test_failed_upload_writes_no_pointer_and_the_next_export_retries(
    built: Runner, nginx: Nginx
) -> None:
    with pytest.raises(StoreError) as info:
        built.export(manifest(built), store=nginx.flaky_url)
    assert "/cas/" in str(info.value)
    assert nginx.files("ac") == [] and nginx.files("cas") == []
    assert not [r for r in nginx.requests() if "/ac/" in r.path and r.method == "PUT"]

    assert built.export(manifest(built), store=nginx.url) == 0
    assert "written" in built.out.getvalue()
    assert len(nginx.files("ac")) == 1 and len(nginx.files("cas")) == 1


def test_read_only_never_puts(built: Runner, nginx: Nginx, monkeypatch: pytest.MonkeyPatch) -> None:
    assert built.export(manifest(built), store=nginx.url, read_only=True) == 0
    tool, _, state = built.out.getvalue().splitlines()[1].split()  # tool, archive, status
    assert (tool, state) == ("lint", "read-only")
    b, copied = runner_b(built, monkeypatch)
    assert b.restore(copied, store=nginx.url, no_build=True) == 0
    assert status(b) == "missing"
    assert b.restore(copied, store=nginx.url) == 0
    assert status(b) == "built"
    assert [r.method for r in nginx.requests() if r.method not in ("GET", "HEAD")] == []
    assert nginx.files("cas") == [] and nginx.files("ac") == []

    store = HttpStore(nginx.url, read_only=True)
    with pytest.raises(StoreError, match="read-only"):
        store.put(ArchiveKey("a" * 64, "b" * 64), Path(__file__))
    store.close()


def test_a_server_that_refuses_writes_fails_the_export_clearly(built: Runner, nginx: Nginx) -> None:
    with pytest.raises(StoreError) as info:
        built.export(manifest(built), store=nginx.readonly_url)
    assert "403" in str(info.value) and "\n" not in str(info.value)


def test_sha256_mismatch_on_download_is_refused(
    built: Runner, nginx: Nginx, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert built.export(manifest(built), store=nginx.url) == 0
    (blob,) = nginx.files("cas")
    # A valid archive of the same environment and of the same size (padded with a skippable
    # zstd frame), but not the bytes the pointer names.
    original = blob.read_bytes()
    other = zstandard.ZstdCompressor(level=19).compress(
        zstandard.ZstdDecompressor().decompressobj().decompress(original)
    )
    pad = len(original) - len(other) - 8
    assert pad >= 0
    skippable = (0x184D2A50).to_bytes(4, "little") + pad.to_bytes(4, "little") + b"\0" * pad
    blob.write_bytes(other + skippable)

    b, copied = runner_b(built, monkeypatch)
    assert b.restore(copied, store=nginx.url, no_build=True) == 0  # warm the probe cache
    before = _snapshot(b.cache)
    assert b.restore(copied, store=nginx.url, no_build=True) == 0
    result = json.loads(b.out.getvalue())["tools"]["lint"]
    assert result["status"] == "missing"
    assert "sha256 mismatch" in result["refused"] and blob.name in result["refused"]
    assert _changes(before, _snapshot(b.cache)) == []


def test_a_pointer_for_another_environment_is_ignored(built: Runner, nginx: Nginx) -> None:
    key = ArchiveKey("a" * 64, "b" * 64)
    other = ArchiveKey("c" * 64, "b" * 64)
    (nginx.data / "ac").mkdir(parents=True)
    pointer = Pointer("d" * 64, 10, key.name)
    (nginx.data / "ac" / key.digest).write_bytes(pointer.to_action_result(other))
    store = HttpStore(nginx.url)
    try:
        assert store.pointer(key) is None
        assert not store.contains(key)
        with store.open(key) as download:
            assert download is None
    finally:
        store.close()


def pad(size: int) -> bytes:
    """An unknown field (number 15, bytes) of ``size`` bytes: readers skip it."""
    length, rest = bytearray(), size
    while True:
        low, rest = rest & 0x7F, rest >> 7
        length.append(low | (0x80 if rest else 0))
        if not rest:
            return b"\x7a" + bytes(length) + b" " * size


def test_an_oversized_pointer_is_ignored(nginx: Nginx) -> None:
    # A valid pointer, then an unknown field (as a server may add): only the size cap can
    # refuse it.
    key = ArchiveKey("a" * 64, "b" * 64)
    pointer = Pointer("d" * 64, 10, key.name)
    (nginx.data / "ac").mkdir(parents=True)
    stored = nginx.data / "ac" / key.digest
    store = HttpStore(nginx.url)
    try:
        stored.write_bytes(pointer.to_action_result(key) + pad(100))
        assert store.pointer(key) == pointer
        stored.write_bytes(pointer.to_action_result(key) + pad(MAX_POINTER_SIZE + 1))
        assert store.pointer(key) is None
    finally:
        store.close()


def test_unreachable_store_falls_back_to_building(
    built: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.rmtree(built.cache / "envs")
    assert built.restore(manifest(built), store="http://127.0.0.1:9/") == 0
    assert status(built) == "built"
    assert "not restored" in built.err.getvalue()


def test_the_pointer_is_an_action_result_bazel_caches_accept() -> None:
    """No server: the ``/ac/`` entry's bytes, field by field (remote_execution.proto:
    ActionResult.output_files = 2; OutputFile.path = 1, .digest = 2; Digest.hash = 1,
    .size_bytes = 2), with what bazel-remote's validation asks of them: a relative path and
    a digest of 64 lowercase hex digits."""
    key = ArchiveKey("a" * 64, "b" * 64)
    path = f"toolcache-archive/1/{'a' * 64}/{'b' * 64}.tar.zst".encode()
    digest = b"\x0a\x40" + b"c" * 64 + b"\x10\xac\x02"  # size 300 as a varint
    assert (len(path), len(digest)) == (157, 69)
    output = b"\x0a\x9d\x01" + path + b"\x12\x45" + digest  # lengths as varints
    assert len(output) == 231
    expected = b"\x12\xe7\x01" + output
    assert Pointer("c" * 64, 300, key.name).to_action_result(key) == expected
    # bazel-remote adds execution_metadata (field 9) with the worker's address when it stores
    # an entry: the pointer reads the same.
    metadata = b"\x4a\x0b\x0a\x09127.0.0.1"
    assert Pointer.from_action_result(expected + metadata, key) == Pointer("c" * 64, 300, key.name)
    assert Pointer.from_action_result(expected, ArchiveKey("a" * 64, "d" * 64)) is None
    assert Pointer.from_action_result(b'{"format": 1}', key) is None
    assert Pointer.from_action_result(expected[:-3], key) is None


def test_an_http_cache_cannot_be_listed(capsys: pytest.CaptureFixture[str]) -> None:
    from toolcache.cli import main

    assert main(["store", "ls", "--store", "https://user:secret@cache.example/x"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot be listed" in err and "secret" not in err
