"""Exporting to and restoring from shared stores: S3 (moto's server) against an HTTP cache
(nginx with WebDAV), and against obstore moving the same bytes with nothing else.

Usage: python benchmarks/bench_store.py [--runs 3] [--workdir DIR]

Builds the environment of ``bench_archive`` (mypy with ruff, black and types-requests, 14
packages, ~88 MB, locked from the live PyPI), packs it once, then per store and run, each
into a new bucket or folder:
- export: ``store.put`` of the archive (sha256, HEAD, upload in parts, pointer);
- restore: ``store.open`` and ``restore_environment`` into a new cache root (download checked
  against the sha256 while it is unpacked, relocated, health-checked);
- raw: obstore's ``put`` and ``get`` of the same bytes on the same S3 server (the transport
  alone), and ``restore_environment`` from the local file (the unpacking alone).
Both servers run on 127.0.0.1; moto is a Python server, so S3 figures are an upper bound on
toolcache's own cost, not a measure of AWS. Prints medians and ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_archive import make_env, settle, tree_stats  # noqa: E402
from tests.support.nginx import Nginx, find_nginx  # noqa: E402
from tests.support.objectstores import MotoS3, moto_available  # noqa: E402
from toolcache.archive.pack import pack  # noqa: E402
from toolcache.archive.restore import restore_environment  # noqa: E402
from toolcache.store import ArchiveKey, Store, open_store  # noqa: E402
from toolcache.store.object import ObjectStore  # noqa: E402


def median_of(runs: int, action: Callable[[int], object]) -> float:
    times = []
    for i in range(runs):
        settle()
        start = time.perf_counter()
        action(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    nginx_binary = find_nginx()
    if nginx_binary is None or not moto_available():
        raise SystemExit("needs nginx with the DAV module and moto[server] + obstore")
    runs = args.runs
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp_name:
        work = Path(tmp_name)
        lock, env = make_env(work, work / "tc-cache")
        files, raw_size = tree_stats(env.path)
        key = ArchiveKey(lock.interpreter, lock.resolution)
        archive = work / key.name
        info = {"implementation": "cpython", "version": sys.version.split()[0], "platform": "?"}
        pack(env.path, archive, interpreter=info)
        size = archive.stat().st_size
        print(
            f"environment: {len(lock.packages)} packages, {files} files, {raw_size / 1e6:.1f} MB;"
            f" archive {size / 1e6:.1f} MB; {os.cpu_count()} cores, medians of {runs} runs"
        )

        def restore_from(source: Store, root: Path) -> None:
            with source.open(key) as download:
                assert download is not None
                restore_environment(
                    download.stream,
                    archive=key.name,
                    cache_root=root,
                    interpreter_hash=lock.interpreter,
                    resolution_hash=lock.resolution,
                    packages=None,
                    executable=Path(sys.executable),
                    size_limit=4 << 30,
                    verify_download=download.verify,
                )

        with MotoS3(work / "moto") as moto, Nginx(work / "nginx", nginx_binary) as nginx:
            os.environ.update(moto.environment())
            buckets = [moto.new_bucket() for _ in range(runs)]
            s3_stores = [open_store(f"s3://{b}/fleet") for b in buckets]
            http_stores = [open_store(f"{nginx.url}run{i}/") for i in range(runs)]
            results: dict[str, float] = {}
            for label, stores in (("s3", s3_stores), ("http", http_stores)):

                def upload(i: int, stores: list[Store] = stores) -> None:
                    stores[i].put(key, archive)

                def download(i: int, stores: list[Store] = stores, label: str = label) -> None:
                    restore_from(stores[i], work / f"{label}-restore-{i}")

                results[f"{label} export"] = median_of(runs, upload)
                results[f"{label} restore"] = median_of(runs, download)

            import obstore

            raw = ObjectStore(f"s3://{buckets[0]}/raw")._client
            data = archive.read_bytes()
            results["raw put"] = median_of(runs, lambda i: obstore.put(raw, f"a{i}", archive))
            results["raw get"] = median_of(runs, lambda i: bytes(obstore.get(raw, "a0").bytes()))
            assert bytes(obstore.get(raw, "a0").bytes()) == data

            def local(i: int) -> None:
                with archive.open("rb") as fh:
                    restore_environment(
                        fh,
                        archive=key.name,
                        cache_root=work / f"local-restore-{i}",
                        interpreter_hash=lock.interpreter,
                        resolution_hash=lock.resolution,
                        packages=None,
                        executable=Path(sys.executable),
                        size_limit=4 << 30,
                    )

            results["local restore"] = median_of(runs, local)

        for name, seconds in results.items():
            print(f"{name:<16} {seconds:7.3f}s")
        print()
        r = results
        ratios = [
            ("s3 export / raw obstore put", r["s3 export"] / r["raw put"]),
            (
                "s3 restore / (raw get + local restore)",
                r["s3 restore"] / (r["raw get"] + r["local restore"]),
            ),
            ("s3 export / http export", r["s3 export"] / r["http export"]),
            ("s3 restore / http restore", r["s3 restore"] / r["http restore"]),
            ("http restore / local restore", r["http restore"] / r["local restore"]),
        ]
        for label, ratio in ratios:
            print(f"{label + ':':<40} {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
