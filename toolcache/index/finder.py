"""``IndexFinder``: the ``Finder`` the resolver uses, over indexes and find-links.

Indexes are searched in order (``index_url``, then ``extra_index_urls``) and the first one
that has the project at all supplies its releases, like uv's default ``first-index`` strategy:
a same-named project on a later index can never shadow an internal one. Files from find-links
are always merged in.

Work runs on a small thread pool so page fetches overlap resolution: ``prefetch`` submits
pages (and the metadata of each project's newest usable release, and then the pages its
dependencies name, so a chain like ``pydantic`` -> ``pydantic-core`` is fetched without waiting
for the resolver to get there); ``find`` and ``metadata`` wait on work already in flight
instead of starting it again. Pool tasks never wait on other pool tasks, so the pool cannot
deadlock.

A page is judged as it is parsed: ``Evaluator.precheck`` turns away, before their URLs are even
joined, the files whose tags or upload time rule them out. Such a file costs one
``(filename, reason)`` pair in ``FindResult.rejections``, not a ``RawFile`` and a ``Rejected``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from packaging.utils import NormalizedName, canonicalize_name

from toolcache.index import disk, urls
from toolcache.index.client import IndexClient
from toolcache.index.evaluate import Evaluator, TagParts, best_per_version
from toolcache.index.metadata import MetadataFetcher
from toolcache.index.models import DistFile, DistMetadata, IndexSettings
from toolcache.index.sdist import SdistBuilder
from toolcache.index.simple import RawFile, collect_find_links, fetch_project_page
from toolcache.target import Target

K = TypeVar("K")
V = TypeVar("V")

WORKERS = 8


@dataclasses.dataclass(frozen=True)
class FindResult:
    """What ``find`` saw for one project: the chosen files, where they came from, and why
    other files were left out, as ``(filename, reason)`` (for explaining an empty result)."""

    files: tuple[DistFile, ...]
    index: str | None
    rejections: tuple[tuple[str, str], ...]


class IndexFinder:
    """The ``Finder`` over ``settings``' indexes and find-links, for ``target``."""

    def __init__(
        self,
        settings: IndexSettings,
        target: Target,
        cache_root: Path,
        *,
        offline: bool = False,
        refresh: bool = False,
    ) -> None:
        self.settings = settings
        self.target = target
        self._tag_parts = TagParts.of(target)
        self.client = IndexClient(cache_root, offline=offline, refresh=refresh)
        self.index_urls = tuple(
            self.client.register(u) for u in (settings.index_url, *settings.extra_index_urls)
        )
        self._find_links = tuple(self.client.register(urls.to_url(f)) for f in settings.find_links)
        self._metadata = MetadataFetcher(
            self.client, SdistBuilder(settings, cache_root, offline=offline)
        )
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._closed = False
        self._pages: dict[NormalizedName, Future[FindResult]] = {}
        self._metas: dict[DistFile, Future[DistMetadata]] = {}
        self._find_links_files: tuple[RawFile, ...] | None = None
        self._find_links_lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        self.client.close()

    def __enter__(self) -> IndexFinder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(WORKERS, thread_name_prefix="toolcache-index")
        return self._executor

    def _submit(
        self, table: dict[K, Future[V]], key: K, work: Callable[[], V], *, background: bool
    ) -> Future[V]:
        """The future for ``key``: the one in flight, or a new one (run in the pool when
        ``background``, else in the calling thread)."""
        with self._lock:
            future = table.get(key)
            if future is not None:
                return future
            if background and not self._closed:
                future = self._pool().submit(work)
                table[key] = future
                return future
            future = Future()
            table[key] = future
        try:
            future.set_result(work())
        except BaseException as exc:
            future.set_exception(exc)
        return future

    # -- Finder ------------------------------------------------------------------------------

    def find(self, name: NormalizedName) -> Sequence[DistFile]:
        return self.find_result(name).files

    def find_result(self, name: NormalizedName) -> FindResult:
        future = self._submit(self._pages, name, lambda: self._find(name), background=False)
        return future.result()

    def metadata(self, file: DistFile) -> DistMetadata:
        future = self._submit(
            self._metas, file, lambda: self._metadata.fetch(file), background=False
        )
        return future.result()

    def prefetch(self, names: Iterable[NormalizedName]) -> None:
        if self._closed:
            return
        for name in names:
            with contextlib.suppress(RuntimeError):  # the pool was shut down
                future = self._submit(
                    self._pages, name, functools.partial(self._find, name), background=True
                )
                future.add_done_callback(self._prefetch_metadata)

    def _prefetch_metadata(self, future: Future[FindResult]) -> None:
        if future.cancelled() or future.exception() is not None:
            return
        files = future.result().files
        usable = [f for f in files if f.yanked is None]
        chosen = next((f for f in usable if not f.version.is_prerelease), None)
        chosen = chosen or (usable[0] if usable else None)
        if chosen is None or not (chosen.has_metadata_file or chosen.kind == "wheel"):
            return
        with contextlib.suppress(RuntimeError):
            meta = self._submit(
                self._metas,
                chosen,
                functools.partial(self._metadata.fetch, chosen),
                background=True,
            )
            meta.add_done_callback(self._prefetch_dependencies)

    def _prefetch_dependencies(self, future: Future[DistMetadata]) -> None:
        """Prefetch the pages a prefetched release depends on for the target (no extras).

        A guess: the resolver may pick another release, and then some of these pages go
        unused. Each page is fetched at most once however often it is named.
        """
        if future.cancelled() or future.exception() is not None:
            return
        names = {
            canonicalize_name(requirement.name)
            for requirement in future.result().requires_dist
            if self.target.marker_matches(requirement.marker)
        }
        self.prefetch(sorted(n for n in names if n not in self._pages))

    # -- work --------------------------------------------------------------------------------

    def _find(self, name: NormalizedName) -> FindResult:
        evaluator = Evaluator(
            name, self.target, self.settings.exclude_newer, tag_parts=self._tag_parts
        )
        rejections: list[tuple[str, str]] = []

        def keep(filename: str, upload_time: str | None) -> bool:
            reason = evaluator.precheck(filename, upload_time)
            if reason is None:
                return True
            rejections.append((filename, reason))
            return False

        raws: list[RawFile] = []
        source: str | None = None
        for index_url in self.index_urls:
            files = fetch_project_page(self.client, index_url, name, keep=keep)
            if files is not None:
                raws.extend(files)
                source = index_url
                break
        local = [f for f in self._all_find_links() if _may_be(f.filename, name)]
        accepted, rejected = evaluator.evaluate_all([*raws, *local])
        rejections.extend((r.filename, r.reason) for r in rejected)
        chosen = [_with_local_hash(f) for f in best_per_version(accepted)]
        return FindResult(tuple(chosen), source, tuple(rejections))

    def _all_find_links(self) -> tuple[RawFile, ...]:
        with self._find_links_lock:
            if self._find_links_files is None:
                files: list[RawFile] = []
                for location in self._find_links:
                    files.extend(collect_find_links(self.client, location))
                self._find_links_files = tuple(files)
            return self._find_links_files


def _may_be(filename: str, name: NormalizedName) -> bool:
    """A cheap pre-filter: could ``filename`` be a file of ``name``? (``evaluate`` decides.)"""
    stem = filename.lower().replace("-", "_").replace(".", "_")
    return stem.startswith(name.replace("-", "_").replace(".", "_") + "_")


def _with_local_hash(file: DistFile) -> DistFile:
    """A local find-links file has no advertised hash; compute it so locks can pin it."""
    if file.sha256 is not None or not urls.is_file_url(file.url):
        return file
    path = urls.file_url_to_path(file.url)
    return dataclasses.replace(file, sha256=disk.sha256_file(path), size=path.stat().st_size)
