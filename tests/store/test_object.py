"""Object stores (``s3://``, ``az://``, ``gs://``) against real servers on 127.0.0.1: moto's S3
server stands in for AWS S3 / MinIO / R2, Azurite for Azure Blob Storage (see
``tests.support.objectstores``). No GCS emulator speaks the XML API that obstore writes with
(fake-gcs-server answers its PUTs with 400), so ``gs://`` is covered by its configuration."""

from __future__ import annotations

import io
import json
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import zstandard

from tests.archive import Runner, at_once, built_runner, run_script, second_runner
from tests.store.conftest import Bucket
from tests.support.index import LocalIndex
from tests.support.objectstores import CuttingProxy, MotoS3
from toolcache.cli import main
from toolcache.commands.export import export
from toolcache.lockfile.planning import LockMode
from toolcache.output import Output
from toolcache.store import ArchiveKey, StoreError, open_store
from toolcache.store.object import ObjectStore

# Object stores need obstore, which the cloud extra installs on Python 3.11 and newer only.
pytest.importorskip("obstore", reason="obstore (toolcache[cloud]) installs on Python 3.11+")


@pytest.fixture
def built(tmp_path: Path, local_index: LocalIndex, monkeypatch: pytest.MonkeyPatch) -> Runner:
    """Runner A, with the lint tool's environment built."""
    a, _ = built_runner(tmp_path, local_index, monkeypatch)
    return a


def manifest(runner: Runner) -> Path:
    return runner.work / "repo" / "tools.yaml"


def runner_b(a: Runner, monkeypatch: pytest.MonkeyPatch) -> tuple[Runner, Path]:
    return second_runner(a.root.parent, manifest(a), monkeypatch)


def status(runner: Runner, tool: str = "lint") -> dict[str, Any]:
    result: dict[str, Any] = json.loads(runner.out.getvalue())["tools"][tool]
    return result


def objects(bucket: Bucket) -> dict[str, bytes]:
    """Every object under the bucket's prefix, read with obstore directly."""
    import obstore

    store = ObjectStore(bucket.url)._client
    return {
        m["path"]: bytes(obstore.get(store, m["path"]).bytes())
        for m in obstore.list(store).collect()
    }


def export_quietly(runner: Runner, store: str) -> int:
    return export(
        manifest(runner),
        [],
        cache_root=runner.cache,
        to=None,
        store=store,
        prune=False,
        mode=LockMode.LOCKED,
        offline=True,
        output=Output(quiet=True, out=io.StringIO(), err=io.StringIO()),
    )


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def round_trip(built: Runner, bucket: Bucket, monkeypatch: pytest.MonkeyPatch) -> None:
    assert built.export(manifest(built), store=bucket.url) == 0, built.err.getvalue()
    stored = objects(bucket)
    (blob,) = [p for p in stored if p.startswith("cas/")]
    (pointer,) = [p for p in stored if p.startswith("ac/")]
    document = json.loads(stored[pointer])
    assert blob == f"cas/{document['sha256']}" and document["size"] == len(stored[blob])
    assert pointer.split("/")[1] + ".tar.zst" == document["name"]

    assert built.export(manifest(built), store=bucket.url) == 0
    assert "exists" in built.out.getvalue()

    b, copied = runner_b(built, monkeypatch)
    assert b.restore(copied, store=bucket.url, offline=True, mode=LockMode.LOCKED) == 0
    result = status(b)
    assert result["status"] == "restored", b.err.getvalue()
    assert result["source"] == f"{bucket.url}/{blob}"
    proc = run_script(Path(result["environment"]) / "bin" / "lintme", "--check")
    assert (proc.returncode, proc.stdout) == (0, "lintme ok --check\n"), proc.stderr


def test_s3_round_trip(built: Runner, s3: Bucket, monkeypatch: pytest.MonkeyPatch) -> None:
    """S3 (moto): export on runner A, restore on runner B, offline, and run the tool."""
    round_trip(built, s3, monkeypatch)


def test_azure_round_trip(built: Runner, azure: Bucket, monkeypatch: pytest.MonkeyPatch) -> None:
    """Azure Blob Storage (Azurite): export on runner A, restore on runner B."""
    round_trip(built, azure, monkeypatch)


def test_concurrent_exporters_both_succeed_with_one_archive(
    built: Runner, s3: Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3 (moto): two exports that both found nothing upload at the same moment."""
    barrier = threading.Barrier(2, timeout=60)
    original = ObjectStore.put

    def put_together(self: ObjectStore, key: ArchiveKey, archive: Path) -> None:
        barrier.wait()
        original(self, key, archive)

    monkeypatch.setattr(ObjectStore, "put", put_together)
    assert at_once(lambda: export_quietly(built, s3.url)) == [0, 0]
    stored = objects(s3)
    assert len([p for p in stored if p.startswith("cas/")]) == 1
    assert len([p for p in stored if p.startswith("ac/")]) == 1


@pytest.mark.parametrize("server", ["s3", "azure"])
def test_the_first_pointer_wins(
    server: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """S3 (moto) and Azure (Azurite): conditional creation of the pointer. A second archive of
    the same environment (other bytes) leaves the first in place and takes its own away."""
    bucket: Bucket = request.getfixturevalue(server)
    key = ArchiveKey("a" * 64, "b" * 64)
    first, second = tmp_path / "first", tmp_path / "second"
    first.write_bytes(b"first archive")
    second.write_bytes(b"second archive, other bytes")
    store = open_store(bucket.url)
    store.put(key, first)
    store.put(key, second)
    assert isinstance(store, ObjectStore)
    pointer = store.pointer(key)
    assert pointer is not None and pointer.size == len(b"first archive")
    assert sorted(p.split("/")[0] for p in objects(bucket)) == ["ac", "cas"]
    with store.open(key) as download:
        assert download is not None
        assert download.stream.read() == b"first archive"
        download.verify()


def test_an_upload_cut_mid_way_leaves_no_pointer(
    built: Runner, s3: Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3 (moto) behind a proxy that closes the connection while the archive is uploaded."""
    assert isinstance(s3.server, MotoS3)
    # The archive (~3 KiB) and its request headers pass 2 KiB; the pointer's PUT does not.
    with CuttingProxy(s3.server.port, limit=2048) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        with pytest.raises(StoreError) as info:
            built.export(manifest(built), store=s3.url)
        assert proxy.cuts >= 1
    message = str(info.value)
    assert "PUT cas/" in message and "\n" not in message
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3.server.endpoint)
    assert objects(s3) == {}

    assert built.export(manifest(built), store=s3.url) == 0
    assert "written" in built.out.getvalue()
    assert len(objects(s3)) == 2


def test_read_only_never_writes(built: Runner, s3: Bucket, monkeypatch: pytest.MonkeyPatch) -> None:
    """S3 (moto): a read-only export, then restores, leave the bucket empty."""
    assert built.export(manifest(built), store=s3.url, read_only=True) == 0
    assert "read-only" in built.out.getvalue()
    b, copied = runner_b(built, monkeypatch)
    assert b.restore(copied, store=s3.url, no_build=True) == 0
    assert status(b)["status"] == "missing"
    assert b.restore(copied, store=s3.url) == 0
    assert status(b)["status"] == "built"
    assert objects(s3) == {}

    store = open_store(s3.url, read_only=True)
    with pytest.raises(StoreError, match="read-only"):
        store.put(ArchiveKey("a" * 64, "b" * 64), Path(__file__))
    with pytest.raises(StoreError, match="read-only"):
        store.remove("0123456789abcdef-0123456789abcdef.tar.zst")


def test_a_tampered_archive_is_refused(
    built: Runner, s3: Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3 (moto): the archive object is overwritten with other bytes of the same size."""
    import obstore

    assert built.export(manifest(built), store=s3.url) == 0
    (blob,) = [p for p in objects(s3) if p.startswith("cas/")]
    # A valid archive of the same environment and of the same size (padded with a skippable
    # zstd frame), but not the bytes the pointer names: only the sha256 can refuse it.
    original = objects(s3)[blob]
    other = zstandard.ZstdCompressor(level=19).compress(
        zstandard.ZstdDecompressor().decompressobj().decompress(original)
    )
    pad = len(original) - len(other) - 8
    assert pad >= 0
    skippable = (0x184D2A50).to_bytes(4, "little") + pad.to_bytes(4, "little") + b"\0" * pad
    obstore.put(ObjectStore(s3.url)._client, blob, other + skippable)

    b, copied = runner_b(built, monkeypatch)
    assert b.restore(copied, store=s3.url, no_build=True) == 0
    result = status(b)
    assert result["status"] == "missing"
    assert "sha256 mismatch" in result["refused"] and blob.split("/")[1] in result["refused"]
    assert "\n" not in result["refused"]


def test_wrong_credentials_fail_in_one_line(
    built: Runner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fast_retries: None,
) -> None:
    """S3 (moto checking signatures, as AWS does): unknown keys are refused; the message is
    one line, exit 1, and shows no secret."""
    with MotoS3(tmp_path / "moto-auth", check_credentials=True) as server:
        bucket = server.new_bucket()
        secret = "wrong-secret-0123456789"
        for name, value in server.environment().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
        monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token-0123456789")
        argv = ["export", "-m", str(manifest(built)), "--store", f"s3://{bucket}/fleet"]
        code, out, err = run_cli(argv, capsys)
    assert code == 1, err
    assert err.count("\n") == 1 and err.startswith("toolcache: error: archive store s3://")
    assert "refused" in err and "AWS_ACCESS_KEY_ID" in err
    for text in (out, err):
        assert secret not in text and "session-token" not in text


def test_wrong_azure_key_fails_in_one_line(
    built: Runner,
    azure: Bucket,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Azure (Azurite checks every shared-key signature): a wrong account key."""
    import base64

    wrong = base64.b64encode(b"not the account key, 64 bytes long......................").decode()
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_KEY", wrong)
    code, out, err = run_cli(["export", "-m", str(manifest(built)), "--store", azure.url], capsys)
    assert code == 1 and err.count("\n") == 1 and "refused" in err, err
    assert wrong not in out + err


def test_a_missing_bucket_fails_in_one_line(
    built: Runner, s3: Bucket, capsys: pytest.CaptureFixture[str]
) -> None:
    """S3 (moto): exporting to a bucket that does not exist."""
    argv = ["export", "-m", str(manifest(built)), "--store", "s3://no-such-bucket-here/fleet"]
    code, _, err = run_cli(argv, capsys)
    assert code == 1 and err.count("\n") == 1, err
    assert "the bucket does not exist" in err


def test_an_unreachable_store_falls_back_to_building(
    built: Runner, monkeypatch: pytest.MonkeyPatch, fast_retries: None
) -> None:
    """No server at all (a closed port where S3 should be): restore builds, with a warning."""
    import shutil

    from tests.support.objectstores import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATOOLCACHETEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "toolcache-test-secret-key")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    shutil.rmtree(built.cache / "envs")
    assert built.restore(manifest(built), store="s3://bucket/fleet") == 0
    assert status(built)["status"] == "built"
    warning = built.err.getvalue()
    assert "not restored" in warning and "s3://bucket/fleet" in warning


def test_without_the_cloud_extra_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No server: obstore is not importable."""
    monkeypatch.setitem(sys.modules, "obstore", None)
    code, _, err = run_cli(["store", "ls", "--store", "s3://bucket/fleet"], capsys)
    assert code == 1
    assert err == (
        "toolcache: error: archive store s3://bucket/fleet: needs obstore: "
        "pip install 'toolcache[cloud]'\n"
    )


def test_aws_profile_through_boto3(
    built: Runner, s3: Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3 (moto): keys in a named profile of ~/.aws/credentials, as on a developer machine."""
    pytest.importorskip("boto3")
    credentials = Path.home() / ".aws" / "credentials"
    credentials.parent.mkdir(parents=True, exist_ok=True)
    credentials.write_text(
        "[fleet]\naws_access_key_id = AKIAPROFILE\naws_secret_access_key = profile-secret\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_PROFILE", "fleet")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    store = open_store(s3.url)
    assert isinstance(store, ObjectStore)
    from obstore.store import S3Store

    assert isinstance(store._client, S3Store) and store._client.credential_provider is not None
    assert built.export(manifest(built), store=s3.url) == 0
    assert len(objects(s3)) == 2


def test_urls_and_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    """No server: how ``s3://``, ``gs://`` and ``az://`` values are read."""
    pytest.importorskip("obstore")
    from obstore.store import GCSStore, S3Store

    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    s3 = open_store("s3://bucket/a/b/")
    assert isinstance(s3, ObjectStore) and s3.description == "s3://bucket/a/b"
    assert isinstance(s3._client, S3Store) and s3._client.prefix == "a/b"
    assert open_store("s3://bucket").description == "s3://bucket"

    monkeypatch.setenv("GOOGLE_BASE_URL", "http://127.0.0.1:4443")
    monkeypatch.setenv("GOOGLE_SKIP_SIGNATURE", "true")
    gs = open_store("gs://bucket/fleet", read_only=True)
    assert isinstance(gs, ObjectStore) and gs.description == "gs://bucket/fleet" and gs.read_only
    assert isinstance(gs._client, GCSStore) and gs._client.prefix == "fleet"
    assert gs._client.client_options is not None and gs._client.client_options["allow_http"]

    with pytest.raises(StoreError) as info:
        open_store("s3://AKIA:top-secret@bucket/x")
    assert "top-secret" not in str(info.value) and "environment" in str(info.value)
    with pytest.raises(StoreError, match="takes no"):
        open_store("az://container/x?sig=top-secret")
    with pytest.raises(StoreError, match="names no bucket"):
        open_store("gs:///x")

    # Azure needs an account name; the message says where credentials come from.
    with pytest.raises(StoreError) as info:
        open_store("az://container/x")
    assert "AZURE_STORAGE_ACCOUNT_NAME" in str(info.value) and "\n" not in str(info.value)


def test_error_summaries_keep_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    from toolcache.store.object import summary

    monkeypatch.setenv("AZURE_STORAGE_SAS_TOKEN", "sv=2024&sig=abcdefgh12345")
    exc = RuntimeError(
        "Error performing GET https://acct.blob.core.windows.net/c/x?sv=2024&sig=abcdefgh12345 "
        'in 3ms - Server returned non-2xx status code: 403 Forbidden: <?xml version="1.0"?>'
        "<Error>...</Error>\n\nDebug source:\nGeneric { secret: sv=2024&sig=abcdefgh12345 }"
    )
    text = summary(exc)
    assert text == (
        "Error performing GET https://acct.blob.core.windows.net/c/x in 3ms - Server returned "
        "non-2xx status code: 403 Forbidden"
    )


def test_a_missing_bucket_on_restore_is_said_not_taken_for_a_miss(
    built: Runner, s3: Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S3 (moto): a misspelled bucket is reported (once per tool, as a warning), then the tool
    is built; an existing but empty bucket is a plain miss, without a word."""
    b, copied = runner_b(built, monkeypatch)
    assert b.restore(copied, store="s3://no-such-bucket-here/fleet", no_build=True) == 0
    assert status(b)["status"] == "missing"
    warning = b.err.getvalue()
    assert "the bucket does not exist" in warning and "no-such-bucket-here" in warning, warning

    assert b.restore(copied, store=s3.url, no_build=True) == 0
    assert status(b)["status"] == "missing"
    assert "warning" not in b.err.getvalue()
