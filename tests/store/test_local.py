"""Folder stores (``--store file://...`` or a path) and how ``--store`` values are read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.archive import built_runner, make_runner, second_runner
from tests.support.index import LocalIndex
from toolcache.store import ArchiveKey, StoreError, open_store
from toolcache.store.http import HttpStore
from toolcache.store.local import FolderStore


def test_open_store_kinds(tmp_path: Path) -> None:
    assert isinstance(open_store("https://user:secret@cache.example/x/"), HttpStore)
    http = open_store("https://user:secret@cache.example/x/")
    assert http.description == "https://cache.example/x" and "secret" not in repr(vars(http))
    folder = open_store((tmp_path / "a").as_uri())
    assert isinstance(folder, FolderStore) and folder.root == tmp_path / "a"
    plain = open_store(str(tmp_path / "b"), read_only=True)
    assert isinstance(plain, FolderStore) and plain.read_only
    with pytest.raises(StoreError, match="unknown scheme"):
        open_store("ftp://bucket/x")


def test_folder_store_round_trip_and_read_only(
    tmp_path: Path, local_index: LocalIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, manifest = built_runner(tmp_path, local_index, monkeypatch)
    shared = tmp_path / "shared"
    assert a.export(manifest, store=shared.as_uri(), read_only=True) == 0
    assert not shared.exists()
    assert a.export(manifest, store=shared.as_uri()) == 0
    (archive,) = shared.iterdir()
    assert archive.name.endswith(".tar.zst") and not list(shared.glob(".tmp-*"))

    b, copied = second_runner(tmp_path, manifest, monkeypatch)
    local_index.stop()
    assert b.restore(copied, store=str(shared), offline=True) == 0
    assert json.loads(b.out.getvalue())["tools"]["lint"]["status"] == "restored"

    store = FolderStore(shared, read_only=True)
    with pytest.raises(StoreError, match="read-only"):
        store.put(ArchiveKey("a" * 64, "b" * 64), archive)
    with pytest.raises(StoreError, match="read-only"):
        store.remove(archive.name)


def test_to_and_store_exclude_each_other(tmp_path: Path) -> None:
    from toolcache.errors import ToolcacheError

    runner = make_runner(tmp_path, "A")
    with pytest.raises(ToolcacheError, match="exclude each other"):
        runner.export(tmp_path / "tools.yaml", to=tmp_path, store=str(tmp_path))


def test_a_folder_store_writes_archives_with_the_umask_s_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An archive copied in from elsewhere gets the mode any file of the user's gets (as
    ``open`` would make it under their umask), not a fixed 0644."""
    from toolcache import atomic

    monkeypatch.setattr(atomic, "FILE_MODE", 0o640)  # as under umask 027
    source = tmp_path / "elsewhere" / "a.tar.zst"
    source.parent.mkdir()
    source.write_bytes(b"archive")
    store = FolderStore(tmp_path / "store")
    key = ArchiveKey("a" * 64, "b" * 64)
    store.put(key, source)
    assert (store.path(key).stat().st_mode & 0o777) == 0o640
