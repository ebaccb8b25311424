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
from packaging.version import Version

from toolcache.index import disk, urls
from toolcache.index.client import IndexClient
from toolcache.index.evaluate import (
    Evaluator,
    ParsedFilename,
    Rejected,
    TagParts,
    best_per_version,
)
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


@dataclasses.dataclass(frozen=True)
class _Page:
    """A project's files as fetched (before judging them for a target), and its index."""

    raws: tuple[RawFile, ...]
    index: str | None
    rejections: tuple[tuple[str, str], ...]
    #: ``Evaluator.prepare`` of the files, done by the first target to judge the page.
    prepared: list[tuple[list[tuple[RawFile, ParsedFilename]], list[Rejected]]] = dataclasses.field(
        default_factory=list, compare=False, repr=False
    )


class _Shared:
    """What the finders of several targets over the same indexes share: the HTTP client, the
    pages as fetched, metadata, find-links and the thread pool. Each page is fetched once for
    all targets and judged for each; each release's metadata is fetched once."""

    def __init__(
        self,
        settings: IndexSettings,
        cache_root: Path,
        precheck: TagParts,
        *,
        offline: bool,
        refresh: bool,
    ) -> None:
        self.settings = settings
        self.precheck = precheck
        self.client = IndexClient(cache_root, offline=offline, refresh=refresh)
        self.index_urls = tuple(
            self.client.register(u) for u in (settings.index_url, *settings.extra_index_urls)
        )
        self.find_links = tuple(self.client.register(urls.to_url(f)) for f in settings.find_links)
        self.metadata = MetadataFetcher(
            self.client, SdistBuilder(settings, cache_root, offline=offline)
        )
        self.lock = threading.Lock()
        self.executor: ThreadPoolExecutor | None = None
        self.closed = False
        self.pages: dict[NormalizedName, Future[_Page]] = {}
        self.metas: dict[tuple[str, ...], Future[DistMetadata]] = {}
        self.find_links_files: tuple[RawFile, ...] | None = None
        self.find_links_lock = threading.Lock()


def _metadata_key(file: DistFile) -> tuple[str, ...]:
    """Wheels of one release share their metadata (as uv assumes), unless the index vouches
    for each wheel's metadata with a hash of its own; an sdist is its own."""
    if file.kind == "wheel":
        return (file.project, str(file.version), file.metadata_sha256 or "")
    return (file.project, str(file.version), file.filename)


def union_tag_parts(targets: Sequence[Target]) -> TagParts:
    """``TagParts`` that let through any wheel one of ``targets`` may use."""
    parts = [TagParts.of(t) for t in targets]
    return TagParts(
        interpreters=frozenset().union(*(p.interpreters for p in parts)),
        abis=frozenset().union(*(p.abis for p in parts)),
        platforms=frozenset().union(*(p.platforms for p in parts)),
    )


class IndexFinder:
    """The ``Finder`` over ``settings``' indexes and find-links, for ``target``.

    ``for_target`` gives the finder of another target that shares this one's pages, metadata
    and client; pass every target as ``targets`` up front so pages keep their wheels.
    Closing any of them closes them all.
    """

    def __init__(
        self,
        settings: IndexSettings,
        target: Target,
        cache_root: Path,
        *,
        offline: bool = False,
        refresh: bool = False,
        targets: Sequence[Target] = (),
    ) -> None:
        precheck = union_tag_parts([target, *targets])
        self._shared = _Shared(settings, cache_root, precheck, offline=offline, refresh=refresh)
        self._init_view(target)

    def _init_view(self, target: Target) -> None:
        self.settings = self._shared.settings
        self.target = target
        self.client = self._shared.client
        self.index_urls = self._shared.index_urls
        self._tag_parts = TagParts.of(target)
        self._results: dict[NormalizedName, FindResult] = {}
        self._accepted: dict[NormalizedName, list[DistFile]] = {}
        self._results_lock = threading.Lock()

    def for_target(self, target: Target) -> IndexFinder:
        view = object.__new__(IndexFinder)
        view._shared = self._shared
        view._init_view(target)
        return view

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        shared = self._shared
        with shared.lock:
            shared.closed = True
            executor, shared.executor = shared.executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        shared.client.close()

    def __enter__(self) -> IndexFinder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _pool(self) -> ThreadPoolExecutor:
        shared = self._shared
        if shared.executor is None:
            shared.executor = ThreadPoolExecutor(WORKERS, thread_name_prefix="toolcache-index")
        return shared.executor

    def _submit(
        self, table: dict[K, Future[V]], key: K, work: Callable[[], V], *, background: bool
    ) -> Future[V]:
        """The future for ``key``: the one in flight, or a new one (run in the pool when
        ``background``, else in the calling thread)."""
        with self._shared.lock:
            future = table.get(key)
            if future is not None:
                return future
            if background and not self._shared.closed:
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
        with self._results_lock:
            known = self._results.get(name)
        if known is not None:
            return known
        page = self._page(name).result()
        result = self._judge(name, page)
        with self._results_lock:
            return self._results.setdefault(name, result)

    def _page(self, name: NormalizedName) -> Future[_Page]:
        return self._submit(
            self._shared.pages, name, functools.partial(self._fetch, name), background=False
        )

    def metadata(self, file: DistFile) -> DistMetadata:
        future = self._submit(
            self._shared.metas,
            _metadata_key(file),
            functools.partial(self._shared.metadata.fetch, file),
            background=False,
        )
        return future.result()

    def prefetch(self, names: Iterable[NormalizedName]) -> None:
        if self._shared.closed:
            return
        for name in names:
            with contextlib.suppress(RuntimeError):  # the pool was shut down
                future = self._submit(
                    self._shared.pages, name, functools.partial(self._fetch, name), background=True
                )
                future.add_done_callback(functools.partial(self._prefetch_metadata, name))

    def _prefetch_metadata(self, name: NormalizedName, future: Future[_Page]) -> None:
        if future.cancelled() or future.exception() is not None:
            return
        files = self._judge(name, future.result()).files
        usable = [f for f in files if f.yanked is None]
        chosen = next((f for f in usable if not f.version.is_prerelease), None)
        chosen = chosen or (usable[0] if usable else None)
        if chosen is None or not (chosen.has_metadata_file or chosen.kind == "wheel"):
            return
        with contextlib.suppress(RuntimeError):
            meta = self._submit(
                self._shared.metas,
                _metadata_key(chosen),
                functools.partial(self._shared.metadata.fetch, chosen),
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
        self.prefetch(sorted(n for n in names if n not in self._shared.pages))

    # -- work --------------------------------------------------------------------------------

    def _evaluator(self, name: NormalizedName) -> Evaluator:
        return Evaluator(
            name,
            self.target,
            self._shared.settings.exclude_newer,
            tag_parts=self._tag_parts,
        )

    def _fetch(self, name: NormalizedName) -> _Page:
        """The project's files, minus those no target can use (``precheck``)."""
        evaluator = Evaluator(
            name, self.target, self._shared.settings.exclude_newer, tag_parts=self._shared.precheck
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
        for index_url in self._shared.index_urls:
            files = fetch_project_page(self.client, index_url, name, keep=keep)
            if files is not None:
                raws.extend(files)
                source = index_url
                break
        local = [f for f in self._all_find_links() if _may_be(f.filename, name)]
        return _Page((*raws, *local), source, tuple(rejections))

    def _judge(self, name: NormalizedName, page: _Page) -> FindResult:
        """The page's files judged for this finder's target: the best file of each release."""
        evaluator = self._evaluator(name)
        if not page.prepared:
            page.prepared.append(evaluator.prepare(page.raws))
        kept, early = page.prepared[0]
        accepted, rejected = evaluator.evaluate_prepared(kept)
        rejected = [*early, *rejected]
        with self._results_lock:
            self._accepted.setdefault(name, accepted)
        rejections = [*page.rejections, *((r.filename, r.reason) for r in rejected)]
        chosen = [_with_local_hash(f) for f in best_per_version(accepted)]
        return FindResult(tuple(chosen), page.index, tuple(rejections))

    def usable_files(self, name: NormalizedName, version: Version) -> list[DistFile]:
        """Every file of release ``version`` of ``name`` this finder's target can use (not
        only the best one), with its hash: what a lock lists for the target."""
        self.find_result(name)
        with self._results_lock:
            accepted = self._accepted[name]
        return [_with_local_hash(f) for f in accepted if f.version == version]

    def _all_find_links(self) -> tuple[RawFile, ...]:
        shared = self._shared
        with shared.find_links_lock:
            if shared.find_links_files is None:
                files: list[RawFile] = []
                for location in shared.find_links:
                    files.extend(collect_find_links(self.client, location))
                shared.find_links_files = tuple(files)
            return shared.find_links_files


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
