"""Object stores: ``s3://bucket/prefix`` (AWS S3 and S3-compatible services: MinIO, R2,
Ceph), ``gs://bucket/prefix`` (Google Cloud Storage) and ``az://container/prefix`` (Azure
Blob Storage), through obstore (``pip install 'toolcache[cloud]'``), which is imported only
when such a store is opened.

Under the prefix:

- ``cas/<sha256>``: an archive, named by the sha256 of its bytes;
- ``ac/<interp16>-<res16>/<digest>.json``: the pointer from an environment
  (``ArchiveKey.digest``) to its archive's sha256 and size (``Pointer.to_json``). The folder
  is the archive's name, so listing ``ac/`` names every archive.

The archive is uploaded before its pointer, so a reader that finds a pointer finds its
archive; an archive already there with its size (HEAD) is not uploaded again; a large one is
uploaded in parts, and an upload that fails is aborted and leaves no pointer. The pointer is
created only if absent (``If-None-Match``, Azure's and GCS's equivalents): of two exports of
one environment at once, the first pointer stays and the other export succeeds too; a
pointer whose archive has gone is replaced. Downloads are checked against the pointer's
sha256 and size as they are read. Requests are retried (with backoff, up to a deadline) on
connection errors and 5xx answers.

Credentials come from where each ecosystem keeps them, read by obstore: for S3 the
``AWS_*`` variables (keys, ``AWS_ROLE_ARN`` with ``AWS_WEB_IDENTITY_TOKEN_FILE`` as CI
OIDC issues them, ``AWS_ENDPOINT_URL`` for MinIO, R2 or Ceph, ``AWS_REGION``), container and
instance roles, and ``AWS_PROFILE`` through boto3 when it is installed; for GCS
``GOOGLE_APPLICATION_CREDENTIALS``, gcloud's application-default credentials or the
machine's service account; for Azure ``AZURE_STORAGE_ACCOUNT_NAME`` with
``AZURE_STORAGE_ACCOUNT_KEY``, ``AZURE_STORAGE_SAS_TOKEN``, a service principal
(``AZURE_CLIENT_ID``, ``AZURE_TENANT_ID``, ``AZURE_CLIENT_SECRET`` or
``AZURE_FEDERATED_TOKEN_FILE``) or a managed identity. None of them is ever shown: the
store's description is the URL, and error messages keep one line of what the service said,
without query strings, server bodies or the values of those variables.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from toolcache.archive.contents import SUFFIX, is_archive_name, is_sha256
from toolcache.index import disk
from toolcache.store import ArchiveKey, Download, Store, StoredArchive, StoreError
from toolcache.store.pointer import MAX_POINTER_SIZE, CheckedDownload, Pointer

if TYPE_CHECKING:
    from obstore.store import ClientConfig, RetryConfig
    from obstore.store import ObjectStore as Client

T = TypeVar("T")

INSTALL_HINT = "pip install 'toolcache[cloud]'"

#: How long to wait for a connection, and for the next bytes of an answer, before retrying.
CONNECT_TIMEOUT = timedelta(seconds=10)
READ_TIMEOUT = timedelta(seconds=60)
#: One request, its body included (a part of an upload, a whole download).
REQUEST_TIMEOUT = timedelta(minutes=30)
#: Retries of one request (connection errors, 5xx), with backoff, and the time after which
#: no retry starts.
MAX_RETRIES = 4
RETRY_DEADLINE = timedelta(seconds=90)
FIRST_BACKOFF = timedelta(milliseconds=100)
MAX_BACKOFF = timedelta(seconds=8)
#: Archives larger than this are uploaded in parts of this size, this many at once.
PART_SIZE = 8 << 20
PARALLEL_PARTS = 8
_CHUNK = 1 << 20
_LISTING_THREADS = 8

_SERVICES = {"s3": "S3", "gs": "GCS", "az": "Azure"}
_CREDENTIALS = {
    "s3": "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or AWS_ROLE_ARN with "
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "gs": "GOOGLE_APPLICATION_CREDENTIALS or the machine's service account",
    "az": "AZURE_STORAGE_ACCOUNT_NAME with AZURE_STORAGE_ACCOUNT_KEY or "
    "AZURE_STORAGE_SAS_TOKEN, or AZURE_CLIENT_ID/AZURE_TENANT_ID",
}
#: Where each service's endpoint may be set: an ``http://`` one (MinIO, an emulator) is
#: allowed without TLS, as is any endpoint when ``<PREFIX>_ALLOW_HTTP`` says so.
_ENDPOINTS = {
    "s3": ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT"),
    "gs": ("GOOGLE_BASE_URL",),
    "az": ("AZURE_STORAGE_ENDPOINT", "AZURE_ENDPOINT"),
}
_ALLOW_HTTP = {
    "s3": ("AWS_ALLOW_HTTP",),
    "gs": ("GOOGLE_ALLOW_HTTP",),
    "az": ("AZURE_ALLOW_HTTP", "AZURE_STORAGE_USE_EMULATOR"),
}
_SECRET_NAME = re.compile(r"SECRET|TOKEN|KEY|PASSWORD|SAS|CREDENTIAL|SIGNATURE")


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _allow_http(scheme: str, environ: Mapping[str, str]) -> bool:
    endpoints = (environ.get(name, "") for name in _ENDPOINTS[scheme])
    if any(e.lower().startswith("http://") for e in endpoints):
        return True
    return any(_truthy(environ.get(name)) for name in _ALLOW_HTTP[scheme])


def summary(exc: BaseException) -> str:
    """One line of what went wrong, without query strings (SAS tokens, signatures), server
    bodies or the value of any variable whose name says it is secret."""
    text = str(exc).split("\n", 1)[0].split("Debug source", 1)[0].strip()
    text = re.sub(r"(\w+://[^\s?]*)\?\S*", r"\1", text)
    text = re.sub(r":\s*(<\?xml|<[A-Za-z]|\{).*$", "", text)
    for name, value in os.environ.items():
        if len(value) >= 8 and _SECRET_NAME.search(name.upper()):
            text = text.replace(value, "***")
    text = text or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _split(spec: str) -> tuple[str, str, str]:
    """(scheme, bucket, prefix) of ``s3://bucket/prefix``; StoreError naming no secret."""
    parts = urllib.parse.urlsplit(spec)
    scheme = parts.scheme.lower()
    if "@" in parts.netloc:
        raise StoreError(
            f"{scheme}://", "credentials do not belong in the URL: set them in the environment"
        )
    bucket, prefix = parts.netloc, parts.path.strip("/")
    where = f"{scheme}://{bucket}/{prefix}".rstrip("/")
    if not bucket:
        raise StoreError(where, f"the URL names no {'container' if scheme == 'az' else 'bucket'}")
    if parts.query or parts.fragment:
        raise StoreError(
            where, "the URL takes no ?query or #fragment: settings come from the environment"
        )
    if any(p in (".", "..") for p in prefix.split("/")):
        raise StoreError(where, "the prefix may not contain . or .. segments")
    return scheme, bucket, prefix


class ObjectStore(Store):
    def __init__(self, spec: str, *, read_only: bool = False) -> None:
        self.scheme, self.bucket, self.prefix = _split(spec)
        self.read_only = read_only
        try:
            import obstore
            import obstore.exceptions
            import obstore.store
        except ImportError:
            if sys.version_info < (3, 11):  # obstore 0.12, the first with what is used here
                raise StoreError(
                    self.description, "object stores need Python 3.11 or newer (obstore 0.12)"
                ) from None
            raise StoreError(self.description, f"needs obstore: {INSTALL_HINT}") from None
        self._obstore = obstore
        self._errors = obstore.exceptions
        self._client: Client = self._connect(obstore.store)
        self._bucket_checked = threading.Lock()
        self._bucket_missing: StoreError | None = None
        self._bucket_seen = False

    @property
    def description(self) -> str:
        return f"{self.scheme}://{self.bucket}/{self.prefix}".rstrip("/")

    def _connect(self, stores: Any) -> Client:
        client: ClientConfig = {
            "connect_timeout": CONNECT_TIMEOUT,
            "read_timeout": READ_TIMEOUT,
            "timeout": REQUEST_TIMEOUT,
            "user_agent": "toolcache",
            "allow_http": _allow_http(self.scheme, os.environ),
        }
        retry: RetryConfig = {
            "max_retries": MAX_RETRIES,
            "retry_timeout": RETRY_DEADLINE,
            "backoff": {"init_backoff": FIRST_BACKOFF, "max_backoff": MAX_BACKOFF, "base": 2},
        }
        options: dict[str, Any] = {
            "prefix": self.prefix or None,
            "client_options": client,
            "retry_config": retry,
        }
        try:
            if self.scheme == "s3":
                provider = self._aws_profile()
                if provider is not None:
                    options["credential_provider"] = provider
                return stores.S3Store(self.bucket, **options)  # type: ignore[no-any-return]
            if self.scheme == "gs":
                return stores.GCSStore(self.bucket, **options)  # type: ignore[no-any-return]
            return stores.AzureStore(self.bucket, **options)  # type: ignore[no-any-return]
        except (self._errors.BaseError, ValueError, OSError) as exc:
            raise StoreError(
                self.description,
                f"cannot configure {_SERVICES[self.scheme]} access ({summary(exc)}); "
                f"credentials: {_CREDENTIALS[self.scheme]}",
            ) from None

    def _aws_profile(self) -> object | None:
        """boto3's credentials for ``AWS_PROFILE`` (profiles, SSO), which obstore does not
        read itself; None when keys or a web identity in the environment come first."""
        env = os.environ
        if not env.get("AWS_PROFILE") or env.get("AWS_ACCESS_KEY_ID"):
            return None
        if env.get("AWS_WEB_IDENTITY_TOKEN_FILE"):
            return None
        try:
            import boto3
            from obstore.auth.boto3 import Boto3CredentialProvider
        except ImportError:
            raise StoreError(
                self.description,
                "AWS_PROFILE is set, and reading AWS profiles needs boto3 (pip install boto3);"
                " or export the profile's keys (aws configure export-credentials --format env)",
            ) from None
        return Boto3CredentialProvider(boto3.Session())

    # -- requests -------------------------------------------------------------------------

    def _failure(self, exc: BaseException, method: str, path: str) -> StoreError:
        errors = self._errors
        refused = (errors.PermissionDeniedError, errors.UnauthenticatedError, PermissionError)
        if isinstance(exc, refused):
            return StoreError(
                self.description,
                f"{method} {path} was refused: the credentials are missing, wrong or not "
                f"allowed to do this ({_CREDENTIALS[self.scheme]})",
            )
        missing = isinstance(exc, FileNotFoundError) or "status code: 404" in str(exc)
        if missing and method in ("PUT", "LIST"):
            kind = "container" if self.scheme == "az" else "bucket"
            return StoreError(self.description, f"{method} {path}: the {kind} does not exist")
        return StoreError(self.description, f"{method} {path} failed ({summary(exc)})")

    def _call(self, method: str, path: str, action: Callable[[], T]) -> T:
        try:
            return action()
        except (self._errors.BaseError, OSError) as exc:
            raise self._failure(exc, method, path) from None

    def _head(self, path: str) -> int | None:
        """The size of the object at ``path``, or None when there is none."""
        try:
            return int(self._obstore.head(self._client, path)["size"])
        except FileNotFoundError:
            return None
        except (self._errors.BaseError, OSError) as exc:
            raise self._failure(exc, "HEAD", path) from None

    def _get_small(self, path: str) -> bytes | None:
        """The object at ``path`` when it exists and is no larger than a pointer can be."""
        try:
            result = self._obstore.get(self._client, path)
            if int(result.meta["size"]) > MAX_POINTER_SIZE:
                return None
            return bytes(result.bytes())
        except FileNotFoundError:
            return None
        except (self._errors.BaseError, OSError) as exc:
            raise self._failure(exc, "GET", path) from None

    def _put(self, path: str, data: Path | bytes, **options: Any) -> None:
        self._call("PUT", path, lambda: self._obstore.put(self._client, path, data, **options))

    def _delete(self, path: str) -> None:
        try:
            self._obstore.delete(self._client, path)
        except FileNotFoundError:
            pass
        except (self._errors.BaseError, OSError) as exc:
            raise self._failure(exc, "DELETE", path) from None

    def _list(self, prefix: str) -> list[tuple[str, int, Any]]:
        """(path, size, last-modified) of each object under ``prefix``."""

        def collect() -> list[tuple[str, int, Any]]:
            found = self._obstore.list(self._client, prefix).collect()
            return [(m["path"], int(m["size"]), m["last_modified"]) for m in found]

        return self._call("LIST", prefix, collect)

    # -- layout ---------------------------------------------------------------------------

    @staticmethod
    def _blob_path(sha256: str) -> str:
        return f"cas/{sha256}"

    @staticmethod
    def _pointer_path(key: ArchiveKey) -> str:
        return f"ac/{key.name.removesuffix(SUFFIX)}/{key.digest}.json"

    def _where(self, path: str) -> str:
        return f"{self.description}/{path}"

    # -- the Store contract ---------------------------------------------------------------

    def pointer(self, key: ArchiveKey) -> Pointer | None:
        """The pointer of ``key``; None when absent or unusable."""
        data = self._get_small(self._pointer_path(key))
        if data is None:
            self._check_bucket()
            return None
        return Pointer.from_json(data, key)

    def _check_bucket(self) -> None:
        """Raise ``StoreError`` when the bucket (or container) does not exist: a reader's
        missing object reads the same as a missing bucket, and a misspelled store name must not
        pass for a store that is merely empty. One listing of at most one object, once."""
        with self._bucket_checked:
            if not self._bucket_seen:
                self._bucket_seen = True
                try:
                    stream = self._obstore.list(self._client, "ac/", chunk_size=1)
                    next(iter(stream), None)
                except (self._errors.BaseError, OSError) as exc:
                    # Only a missing bucket is an answer: a reader allowed to get objects
                    # but not to list them has a store that is fine.
                    if isinstance(exc, FileNotFoundError) or "status code: 404" in str(exc):
                        self._bucket_missing = self._failure(exc, "LIST", "ac/")
            if self._bucket_missing is not None:
                raise self._bucket_missing

    def _has_blob(self, pointer: Pointer) -> bool:
        return self._head(self._blob_path(pointer.sha256)) == pointer.size

    def contains(self, key: ArchiveKey) -> bool:
        found = self.pointer(key)
        return found is not None and self._has_blob(found)

    @contextlib.contextmanager
    def open(self, key: ArchiveKey) -> Iterator[Download | None]:
        found = self.pointer(key)
        if found is None:
            yield None
            return
        path = self._blob_path(found.sha256)
        try:
            result = self._obstore.get(self._client, path)
        except FileNotFoundError:
            yield None  # removed or expired since its pointer was read: a miss
            return
        except (self._errors.BaseError, OSError) as exc:
            raise self._failure(exc, "GET", path) from None
        yield CheckedDownload(self._chunks(result, path), found, self._where(path))

    def _chunks(self, result: Any, path: str) -> Iterator[bytes]:
        try:
            for chunk in result.stream(min_chunk_size=_CHUNK):
                yield bytes(chunk)
        except (self._errors.BaseError, OSError) as exc:
            raise self._failure(exc, "GET", path) from None

    def put(self, key: ArchiveKey, archive: Path) -> None:
        if self.read_only:
            raise StoreError(self.description, "it is read-only")
        sha256, size = disk.sha256_file(archive), archive.stat().st_size
        blob = self._blob_path(sha256)
        uploaded = self._head(blob) != size
        if uploaded:
            self._put(
                blob,
                archive,
                attributes={"Content-Type": "application/zstd"},
                chunk_size=PART_SIZE,
                max_concurrency=PARALLEL_PARTS,
            )
        path = self._pointer_path(key)
        body = Pointer(sha256, size, key.name).to_json(key)
        json_type: dict[str, Any] = {"attributes": {"Content-Type": "application/json"}}
        errors = self._errors
        try:
            self._obstore.put(self._client, path, body, mode="create", **json_type)
            return
        except (errors.AlreadyExistsError, errors.PreconditionError):
            existing = self.pointer(key)
            if existing is not None and self._has_blob(existing):
                # Another export of this environment was first: its archive stays.
                if uploaded and existing.sha256 != sha256:
                    with contextlib.suppress(StoreError):  # without delete rights: left over
                        self._delete(blob)
                return
        except errors.NotSupportedError:
            pass  # a service without conditional writes: the last pointer stays
        except (errors.BaseError, OSError) as exc:
            raise self._failure(exc, "PUT", path) from None
        self._put(path, body, mode="overwrite", **json_type)

    def _read_listed(self, listed: tuple[str, int, Any]) -> tuple[StoredArchive, str] | None:
        path, _, modified = listed
        name = path.split("/")[1] + SUFFIX
        data = self._get_small(path)
        parsed = None if data is None else Pointer.parse_json(data)
        if parsed is None or parsed[0].name != name:
            return None
        return StoredArchive(name, parsed[1].size, modified), parsed[1].sha256

    def _pointers(self) -> list[tuple[StoredArchive, str]]:
        """Every readable pointer: the archive it names, and its blob's sha256."""
        listed = [
            entry
            for entry in self._list("ac/")
            if len(entry[0].split("/")) == 3 and is_archive_name(entry[0].split("/")[1] + SUFFIX)
        ]
        with ThreadPoolExecutor(_LISTING_THREADS) as pool:
            return [found for found in pool.map(self._read_listed, listed) if found is not None]

    def archives(self) -> Iterator[StoredArchive]:
        found = [archive for archive, _ in self._pointers()]
        yield from sorted(found, key=lambda a: (a.name, a.modified))

    def leftovers(self) -> Iterator[StoredArchive]:
        referenced = {sha256 for _, sha256 in self._pointers()}
        for path, size, modified in self._list("cas/"):
            sha256 = path.removeprefix("cas/")
            if path.startswith("cas/") and is_sha256(sha256) and sha256 not in referenced:
                yield StoredArchive(path, size, modified)

    def remove_leftover(self, name: str) -> None:
        if self.read_only:
            raise StoreError(self.description, "it is read-only")
        if not (name.startswith("cas/") and is_sha256(name.removeprefix("cas/"))):
            raise StoreError(self.description, f"{name!r} is not an archive blob")
        self._delete(name)

    def remove(self, name: str) -> None:
        if self.read_only:
            raise StoreError(self.description, "it is read-only")
        if not is_archive_name(name):
            raise StoreError(self.description, f"{name!r} is not an archive name")
        for path, _, _ in self._list(f"ac/{name.removesuffix(SUFFIX)}/"):
            data = self._get_small(path)
            parsed = None if data is None else Pointer.parse_json(data)
            self._delete(path)  # the pointer first: never a pointer without its archive
            if parsed is not None and is_sha256(parsed[1].sha256):
                self._delete(self._blob_path(parsed[1].sha256))
