"""Which files of a project suit a target, and the one best file of each release.

One ``check_*`` per rule; each returns what it learned or raises ``Rejected`` with a reason a
person can read. Yanked files are kept (``DistFile.yanked`` is set); the resolver decides.

``Evaluator.precheck`` is the cheap first look a page parser takes before building anything for
a file (see ``simple.Keep``): it rejects only files that ``evaluate`` would reject too, from
string tests on the filename's tag triple and the upload-time text, so that a page with tens of
thousands of wheels for other platforms and Pythons is judged in milliseconds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from toolcache.index.models import DistFile
from toolcache.index.simple import RawFile
from toolcache.target import Target

SDIST_SUFFIXES = (".tar.gz", ".zip")

NO_SUPPORTED_TAG = "no wheel tag supported by the target"

# An upload time in the one form PyPI writes; only these are compared as text.
_PLAIN_UTC_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|\+00:00)"
)


class Rejected(Exception):
    """A file does not suit the target; ``reason`` says why."""

    def __init__(self, filename: str, reason: str) -> None:
        self.filename = filename
        self.reason = reason
        super().__init__(f"{filename}: {reason}")


@dataclass(frozen=True)
class ParsedFilename:
    kind: Literal["wheel", "sdist"]
    version: Version
    tags: frozenset[Tag]


@dataclass(frozen=True)
class TagParts:
    """Every interpreter, ABI and platform string in a target's tags.

    A wheel suits the target only if one of its tags is the target's, so a wheel whose
    filename names no interpreter (or no ABI, or no platform) from these sets cannot suit it.
    Computed once per target and shared by its evaluators.
    """

    interpreters: frozenset[str]
    abis: frozenset[str]
    platforms: frozenset[str]

    @classmethod
    def of(cls, target: Target) -> TagParts:
        return cls(
            interpreters=frozenset(t.interpreter for t in target.tags),
            abis=frozenset(t.abi for t in target.tags),
            platforms=frozenset(t.platform for t in target.tags),
        )

    def may_match(self, wheel_filename: str) -> bool:
        """False when the wheel's tags cannot include one of the target's.

        Only the last three ``-`` parts of the name are read (the compressed tag set); a name
        without that many parts is left for ``parse_wheel_filename`` to refuse.
        """
        parts = wheel_filename[:-4].lower().rsplit("-", 3)
        if len(parts) != 4:
            return True
        return not (
            self.interpreters.isdisjoint(parts[1].split("."))
            or self.abis.isdisjoint(parts[2].split("."))
            or self.platforms.isdisjoint(parts[3].split("."))
        )


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class Evaluator:
    """Judges the files of one project for one target.

    ``tag_parts`` is ``TagParts.of(target)``, passed in by a caller that judges many projects
    for the same target so that it is computed once.
    """

    def __init__(
        self,
        project: NormalizedName,
        target: Target,
        exclude_newer: datetime | None = None,
        *,
        tag_parts: TagParts | None = None,
    ) -> None:
        self.project = project
        self.target = target
        self.exclude_newer = _utc(exclude_newer) if exclude_newer is not None else None
        self.tag_parts = tag_parts if tag_parts is not None else TagParts.of(target)
        # exclude-newer to the second, in the form of a plain UTC upload time's first 19 chars.
        self._cutoff_seconds = (
            self.exclude_newer.astimezone(timezone.utc)
            .replace(tzinfo=None, microsecond=0)
            .isoformat()
            if self.exclude_newer is not None
            else None
        )
        self._python_specs: dict[str, SpecifierSet | str | None] = {}

    def precheck(self, filename: str, upload_time: str | None) -> str | None:
        """A reason to reject the file at once, or None when ``evaluate`` must decide.

        Never rejects a file ``evaluate`` would accept: a wheel is refused when its tag triple
        names no interpreter, ABI or platform of the target; a file when its upload time, in
        PyPI's plain UTC form, is a later second than ``exclude_newer``'s.
        """
        if filename[-4:].lower() == ".whl" and not self.tag_parts.may_match(filename):
            return NO_SUPPORTED_TAG
        if (
            self._cutoff_seconds is not None
            and upload_time is not None
            and upload_time[:19] > self._cutoff_seconds
            and _PLAIN_UTC_TIME.fullmatch(upload_time)
        ):
            return f"uploaded {upload_time}, after exclude-newer"
        return None

    def check_filename(self, raw: RawFile) -> ParsedFilename:
        """A wheel or sdist filename of this project with a valid version."""
        name = raw.filename
        lower = name.lower()
        try:
            if lower.endswith(".whl"):
                project, version, _, tags = parse_wheel_filename(name)
                kind: Literal["wheel", "sdist"] = "wheel"
            elif lower.endswith(SDIST_SUFFIXES):
                project, version = parse_sdist_filename(name)
                kind, tags = "sdist", frozenset()
            else:
                raise Rejected(name, "not a wheel or an sdist")
        except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion) as exc:
            raise Rejected(name, f"unparseable filename ({exc})") from None
        if canonicalize_name(project) != self.project:
            raise Rejected(name, f"belongs to {project}, not {self.project}")
        return ParsedFilename(kind, version, tags)

    def check_tags(self, raw: RawFile, parsed: ParsedFilename) -> int | None:
        """The wheel's tag rank for the target (None for an sdist)."""
        if parsed.kind != "wheel":
            return None
        rank = self.target.tag_rank(parsed.tags)
        if rank is None:
            raise Rejected(raw.filename, NO_SUPPORTED_TAG)
        return rank

    def check_requires_python(self, raw: RawFile) -> SpecifierSet | None:
        """The file's ``requires-python``, which must admit the target's Python.

        An invalid specifier (they exist on real indexes) is ignored rather than trusted. The
        answer for each distinct text is worked out once: a project's files repeat a few.
        """
        text = raw.requires_python
        if not text:
            return None
        try:
            judged = self._python_specs[text]
        except KeyError:
            judged = self._python_specs[text] = self._judge_requires_python(text)
        if isinstance(judged, str):
            raise Rejected(raw.filename, judged)
        return judged

    def _judge_requires_python(self, text: str) -> SpecifierSet | str | None:
        """The specifier, the reason it excludes the target's Python, or None if invalid."""
        try:
            spec = SpecifierSet(text)
        except InvalidSpecifier:
            return None
        python = self.target.python_full_version
        if not self.target.allows_python(spec):
            return f"requires Python {spec}, target is {python}"
        return spec

    def check_upload_time(self, raw: RawFile) -> None:
        """With ``exclude_newer``, the file must have been uploaded no later than it."""
        if self.exclude_newer is None:
            return
        if raw.upload_time is None:
            raise Rejected(raw.filename, "no upload time, and exclude-newer is set")
        if _utc(raw.upload_time) > self.exclude_newer:
            raise Rejected(
                raw.filename, f"uploaded {raw.upload_time.isoformat()}, after exclude-newer"
            )

    def evaluate(self, raw: RawFile) -> DistFile:
        """``raw`` as a ``DistFile``, or ``Rejected``."""
        parsed = self.check_filename(raw)
        rank = self.check_tags(raw, parsed)
        requires_python = self.check_requires_python(raw)
        self.check_upload_time(raw)
        return self._dist_file(raw, parsed, rank, requires_python)

    def _dist_file(
        self,
        raw: RawFile,
        parsed: ParsedFilename,
        rank: int | None,
        requires_python: SpecifierSet | None,
    ) -> DistFile:
        return DistFile(
            project=self.project,
            version=parsed.version,
            filename=raw.filename,
            url=raw.url,
            index=raw.index,
            kind=parsed.kind,
            sha256=raw.hashes.get("sha256"),
            size=raw.size,
            upload_time=raw.upload_time,
            requires_python=requires_python,
            yanked=raw.yanked,
            tag_rank=rank,
            metadata_sha256=raw.metadata_hashes.get("sha256") if raw.has_metadata_file else None,
            has_metadata_file=raw.has_metadata_file,
        )

    def prepare(
        self, raws: Iterable[RawFile]
    ) -> tuple[list[tuple[RawFile, ParsedFilename]], list[Rejected]]:
        """The checks that do not depend on the target (filename, upload time), done once
        for a page that several targets judge with ``evaluate_prepared``."""
        kept: list[tuple[RawFile, ParsedFilename]] = []
        rejected: list[Rejected] = []
        for raw in raws:
            try:
                parsed = self.check_filename(raw)
                self.check_upload_time(raw)
            except Rejected as exc:
                rejected.append(exc)
            else:
                kept.append((raw, parsed))
        return kept, rejected

    def evaluate_prepared(
        self, prepared: Iterable[tuple[RawFile, ParsedFilename]]
    ) -> tuple[list[DistFile], list[Rejected]]:
        """``evaluate_all`` for files ``prepare`` kept: the target's checks only."""
        accepted: list[DistFile] = []
        rejected: list[Rejected] = []
        for raw, parsed in prepared:
            try:
                rank = self.check_tags(raw, parsed)
                requires_python = self.check_requires_python(raw)
            except Rejected as exc:
                rejected.append(exc)
            else:
                accepted.append(self._dist_file(raw, parsed, rank, requires_python))
        return accepted, rejected

    def evaluate_all(self, raws: Iterable[RawFile]) -> tuple[list[DistFile], list[Rejected]]:
        """Every file judged: the accepted ones as ``DistFile``, the others with why."""
        kept, early = self.prepare(raws)
        accepted, rejected = self.evaluate_prepared(kept)
        return accepted, [*early, *rejected]


def _preference(file: DistFile) -> tuple[int, int, str]:
    if file.kind == "wheel":
        return 0, file.tag_rank if file.tag_rank is not None else 0, file.filename
    return 1, 0 if file.filename.lower().endswith(".tar.gz") else 1, file.filename


def best_per_version(files: Iterable[DistFile]) -> list[DistFile]:
    """The best file of each version, newest version first.

    Best is the wheel with the lowest tag rank (ties broken by filename), else the sdist
    (``.tar.gz`` before ``.zip``).
    """
    best: dict[Version, DistFile] = {}
    for file in files:
        current = best.get(file.version)
        if current is None or _preference(file) < _preference(current):
            best[file.version] = file
    return [best[v] for v in sorted(best, reverse=True)]
