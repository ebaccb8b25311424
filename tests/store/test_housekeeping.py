"""``toolcache store ls`` and ``toolcache store prune`` on a folder and on S3 (moto's S3
server standing in for AWS S3 / MinIO / R2, see ``tests.support.objectstores``)."""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

import pytest

from tests.archive import built_runner
from tests.store.conftest import Bucket
from tests.store.test_object import objects
from tests.support.index import LocalIndex
from toolcache.cli import main
from toolcache.commands.store import prune
from toolcache.output import Output

OLD = "0123456789abcdef-0123456789abcdef.tar.zst"
NEW = "fedcba9876543210-fedcba9876543210.tar.zst"


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Two archives, one written 40 days ago, and a file that is no archive."""
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / OLD).write_bytes(b"o" * 2048)
    (shared / NEW).write_bytes(b"n" * 100)
    (shared / "notes.txt").write_text("not an archive", encoding="utf-8")
    forty_days_ago = time.time() - 40 * 86400
    os.utime(shared / OLD, (forty_days_ago, forty_days_ago))
    return shared


def test_folder_ls_and_prune(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(["store", "ls", "--store", str(folder)], capsys)
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()[1:3]] == [OLD, NEW]
    assert "2.0 KiB" in out and out.endswith(f"2 archives, 2.1 KiB in {folder}\n")

    code, out, _ = cli(["store", "ls", "--store", str(folder), "--format", "json"], capsys)
    document = json.loads(out)
    assert document["version"] == 1 and document["store"] == str(folder)
    assert [(a["name"], a["size"]) for a in document["archives"]] == [(OLD, 2048), (NEW, 100)]

    argv = ["store", "prune", "--store", str(folder), "--older-than", "30d"]
    code, out, _ = cli([*argv, "--dry-run"], capsys)
    assert code == 0 and "would remove 1 archives" in out and OLD in out and NEW not in out
    assert (folder / OLD).exists()
    code, out, _ = cli(argv, capsys)
    assert code == 0 and "removed 1 archives (2.0 KiB)" in out and "kept 1" in out
    assert sorted(p.name for p in folder.iterdir()) == [NEW, "notes.txt"]


def test_prune_needs_a_duration(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(["store", "prune", "--store", str(folder), "--older-than", "soon"], capsys)
    assert code == 1
    assert (
        err == "toolcache: error: --older-than: 'soon' is not a duration such as 12h, 30d or 2w\n"
    )


def test_s3_ls_and_prune(
    tmp_path: Path,
    local_index: LocalIndex,
    monkeypatch: pytest.MonkeyPatch,
    s3: Bucket,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """S3 (moto): list what an export wrote, prune it once it is old enough."""
    a, manifest = built_runner(tmp_path, local_index, monkeypatch)
    assert a.export(manifest, store=s3.url) == 0
    (blob,) = [p for p in objects(s3) if p.startswith("cas/")]
    size = len(objects(s3)[blob])

    code, out, _ = cli(["store", "ls", "--store", s3.url, "--format", "json"], capsys)
    assert code == 0
    (listed,) = json.loads(out)["archives"]
    assert listed["size"] == size and listed["name"].endswith(".tar.zst")
    assert listed["name"] in a.out.getvalue()  # the export's table names the same archive

    code, out, _ = cli(["store", "prune", "--store", s3.url], capsys)  # 30 days by default
    assert code == 0 and "removed 0 archives" in out and "kept 1" in out
    assert len(objects(s3)) == 2

    later = time.time() + 31 * 86400
    said = io.StringIO()
    quiet = Output(quiet=True, out=said, err=io.StringIO())
    assert prune(s3.url, older_than="30d", dry_run=True, output=quiet, now=later) == 0
    assert "would remove 1 archives" in said.getvalue() and len(objects(s3)) == 2
    assert prune(s3.url, older_than="30d", dry_run=False, output=quiet, now=later) == 0
    assert objects(s3) == {}


def test_s3_prune_removes_old_blobs_no_pointer_names(
    tmp_path: Path,
    local_index: LocalIndex,
    monkeypatch: pytest.MonkeyPatch,
    s3: Bucket,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """S3 (moto): an archive uploaded whose pointer was never written (an export killed
    between the two) is removed by prune once old, and never while young or pointed at."""
    import hashlib

    import obstore

    from toolcache.store.object import ObjectStore

    a, manifest = built_runner(tmp_path, local_index, monkeypatch)
    assert a.export(manifest, store=s3.url) == 0
    (pointed,) = [p for p in objects(s3) if p.startswith("cas/")]
    orphan = b"an archive whose pointer never came"
    orphan_path = f"cas/{hashlib.sha256(orphan).hexdigest()}"
    store = ObjectStore(s3.url)
    obstore.put(store._client, orphan_path, orphan)
    assert [b.name for b in store.leftovers()] == [orphan_path]  # not the blob pointed at

    code, out, _ = cli(["store", "prune", "--store", s3.url], capsys)
    assert code == 0 and "leftover" not in out  # young: maybe an upload whose pointer is next
    assert orphan_path in objects(s3)

    said = io.StringIO()
    quiet = Output(quiet=True, out=said, err=io.StringIO())
    later = time.time() + 31 * 86400
    assert prune(s3.url, older_than="30d", dry_run=True, output=quiet, now=later) == 0
    assert "would remove 1 leftover archive blobs" in said.getvalue()
    assert orphan_path in said.getvalue() and orphan_path in objects(s3)
    assert prune(s3.url, older_than="30d", dry_run=False, output=quiet, now=later) == 0
    assert orphan_path not in objects(s3) and pointed not in objects(s3)
    assert not objects(s3)  # the archive, as old, went too: pointer and blob
