"""From a manifest's tool to a fresh lock and what to install from it on this interpreter.

Shared by every command that needs a tool's resolution (``plan``, ``lock``, ``run``, ...). A
lock is fresh when its inputs (requirements, index settings, prerelease mode, the manifest's
targets) are unchanged; it is used on an interpreter when one of its targets covers it
(``lockfile.selection``). An uncovered interpreter (another Python minor, musl, PyPy) gets
its target added to the lock in the default mode, and a one-line refusal with ``--locked``
or ``--frozen``. With a fresh lock nothing here touches the network or spawns a process
(the interpreter probe is cached by the interpreter file's identity).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from toolcache import keys, paths
from toolcache.errors import LockError, ResolutionError
from toolcache.lockfile import document as lock
from toolcache.lockfile import targets as lock_targets
from toolcache.lockfile.selection import NotCovered, Selection, select
from toolcache.manifest import Manifest, Tool
from toolcache.settings import index_settings

if TYPE_CHECKING:
    from toolcache.index.models import IndexSettings
    from toolcache.interpreter import Interpreter
    from toolcache.target import Target


class LockMode(Enum):
    """How an existing lock is treated (the names of uv's flags)."""

    AUTO = "auto"  # use it when fresh, else resolve and write it
    LOCKED = "locked"  # use it when fresh, else fail
    FROZEN = "frozen"  # use it as it is, fresh or not; fail when missing
    UPGRADE = "upgrade"  # resolve again, ignoring the lock and cached index pages


@dataclass(frozen=True)
class TargetChoice:
    """Where a tool's environment runs: this machine's interpreter, or a described target."""

    description: str  # "CPython 3.12.1 at /usr/bin/python3.12", or "... (linux x86_64, described)"
    interpreter_hash: keys.InterpreterHash
    target: Target
    executable: Path | None  # None for a target that is not this machine
    interpreter: Interpreter | None = None

    @classmethod
    def of(cls, interp: Interpreter) -> TargetChoice:
        return cls(
            description=interp.describe(),
            interpreter_hash=keys.InterpreterHash(interp.hash),
            target=interp.target(),
            executable=interp.executable,
            interpreter=interp,
        )


@dataclass(frozen=True)
class LockedTool:
    """A tool's lock and what it selects for the chosen interpreter."""

    tool: Tool
    choice: TargetChoice
    lock: lock.ToolLock
    selection: Selection
    status: str  # "fresh", "locked" (written now), "frozen"

    @property
    def env_id(self) -> str:
        return self.selection.env_id


@dataclass
class Planner:
    """Locks the tools of one manifest; memoizes interpreters so each request is found once."""

    manifest: Manifest
    cache_root: Path = field(default_factory=paths.cache_root)
    mode: LockMode = LockMode.AUTO
    offline: bool = False
    prerelease: str = "if-necessary-or-explicit"
    python_version: str | None = None
    platform: str | None = None
    progress: Callable[[str], None] | None = None
    #: ``--python``: the interpreter every tool runs on instead of its ``python`` request (the
    #: lock's targets stay the manifest's; an interpreter they do not cover is added to them).
    python_request: str | None = None
    _choices: dict[str | None, TargetChoice] = field(default_factory=dict)
    _settings: IndexSettings | None = None

    @property
    def settings(self) -> IndexSettings:
        if self._settings is None:
            self._settings = index_settings(self.manifest)
        return self._settings

    def choose(self, request: str | None) -> TargetChoice:
        if request in self._choices:
            return self._choices[request]
        if self.python_version is not None or self.platform is not None:
            choice = self._described_target(request)
        else:
            from toolcache.discovery import find_interpreter

            choice = TargetChoice.of(find_interpreter(self._anchored(request), self.cache_root))
        self._choices[request] = choice
        return choice

    def _anchored(self, request: str | None) -> str | None:
        """A relative interpreter path in the manifest is relative to the manifest's folder."""
        from toolcache.discovery import parse_request

        path = parse_request(request).path
        if path is None or path.is_absolute():
            return request
        return str(self.manifest.path.parent.absolute() / path)

    def _described_target(self, request: str | None) -> TargetChoice:
        from toolcache.platforms import target_for

        version = self.python_version
        if version is None:
            raise LockError("--platform needs --python-version as well")
        target = target_for(version, self.platform)
        m = target.markers
        digest = keys.digest(
            {
                "format": "toolcache-described-target/1",
                "markers": {
                    k: m[k] for k in sorted(m) if k not in ("platform_release", "platform_version")
                },
                "tags": [str(t) for t in target.tags],
                "any-patch": target.any_patch,
            }
        )
        shown = m["python_version"] + ".x" if target.any_patch else m["python_full_version"]
        platform = lock_targets.canonical_platform(self.platform or "linux")
        description = f"{m['platform_python_implementation']} {shown} on {platform} (described)"
        return TargetChoice(description, keys.InterpreterHash(digest), target, None)

    def _lock_target(self, choice: TargetChoice) -> lock_targets.LockTarget:
        """The target that covers ``choice`` (added to a lock that does not)."""
        if choice.interpreter is not None:
            return lock_targets.for_interpreter(choice.interpreter)
        assert self.python_version is not None
        implementation, python = lock_targets.parse_python(
            ".".join(self.python_version.split(".")[:2])
        )
        platform = lock_targets.canonical_platform(self.platform or "linux")
        return lock_targets.LockTarget(implementation, python, platform)

    def _added_target(self, choice: TargetChoice, shown: str) -> lock_targets.LockTarget:
        new = self._lock_target(choice)
        self._say(f"{shown}: adding target {new.name} for {choice.description}")
        return new

    def _select(self, existing: lock.ToolLock, choice: TargetChoice) -> Selection:
        return select(existing, choice.target, choice.interpreter_hash, choice.description)

    def lock_tool(self, tool: Tool) -> LockedTool:
        path = self.manifest.lock_path(tool.name)
        shown = _shown(path)
        previous = lock.read(path)
        existing = previous if self.mode is not LockMode.UPGRADE else None
        choice = self.choose(self.python_request or tool.python)
        if self.mode is LockMode.FROZEN:
            if existing is None:
                raise LockError(f"{shown}: no lock for tool {tool.name!r}, and --frozen was given")
            if existing.outdated is not None:
                raise LockError(
                    f"{shown} is out of date for tool {tool.name!r} ({existing.outdated}), "
                    "and --frozen was given; run `toolcache lock`"
                )
            return LockedTool(tool, choice, existing, self._select(existing, choice), "frozen")
        declared = lock_targets.for_tool(tool.python, tool.environments)
        view = lock.settings_view(self.settings, self.manifest.path.parent)
        inputs = lock.lock_inputs(
            tool.manifest_requirements,
            view,
            declared,
            self.prerelease,
            tool.project,
            base=self.manifest.path.parent,
        )
        reason = lock.staleness(existing, inputs)
        added: list[lock_targets.LockTarget] = []
        if previous is not None:
            added = [t for t in previous.added if t not in declared]
        if reason is None and existing is not None:
            try:
                return LockedTool(tool, choice, existing, self._select(existing, choice), "fresh")
            except NotCovered as exc:
                if self.mode is LockMode.LOCKED:
                    raise LockError(f"{exc}, and --locked was given") from None
                added.append(self._added_target(choice, shown))
        elif self.mode is LockMode.LOCKED:
            raise LockError(
                f"{shown} is out of date for tool {tool.name!r} ({reason}), and --locked was given"
            )
        elif reason is not None and existing is not None:
            self._say(f"lock for {tool.name!r} is stale: {reason}")
        explicit = tool.environments is not None

        def relock() -> lock.ToolLock:
            text = self._resolve(
                tool, declared=declared, added=added, explicit=explicit, inputs=inputs, path=path
            )
            lock.write(path, text)
            written = lock.read(path)
            assert written is not None
            return written

        written = relock()
        try:
            selection = self._select(written, choice)
        except NotCovered:
            # A target this interpreter's own kind resolves to (a default one left out, say)
            # cannot be added twice.
            if self._lock_target(choice) in written.targets:
                raise
            added.append(self._added_target(choice, shown))
            written = relock()
            selection = self._select(written, choice)
        return LockedTool(tool, choice, written, selection, "locked")

    def _say(self, message: str) -> None:
        if self.progress is not None:
            self.progress(message)

    def _resolve(
        self,
        tool: Tool,
        *,
        declared: tuple[lock_targets.LockTarget, ...],
        added: list[lock_targets.LockTarget],
        explicit: bool,
        inputs: dict[str, object],
        path: Path,
    ) -> str:
        """Resolve for every target and render the lock. Targets the manifest names, and those
        added for a runner, must resolve; a default target that cannot is left out, saying so."""
        from toolcache.index.finder import IndexFinder
        from toolcache.index.sdist import SdistBuilder
        from toolcache.resolver.local import LocalFinder, local_candidates
        from toolcache.resolver.universal import resolve_targets

        everything = sorted({*declared, *added})
        must = set(added) | (set(declared) if explicit else set())
        # A target where the tool's own requirement does not apply cannot run it: never an
        # empty environment whose command would be whatever is on PATH.
        inapplicable: list[tuple[lock_targets.LockTarget, str]] = []
        for target in list(everything):
            if not target.target.marker_matches(tool.requirement.marker):
                why = f"{tool.name}'s requirement '{tool.requirement}' does not apply there"
                if target in must:
                    raise ResolutionError(f"for {target.name}: {why}")
                inapplicable.append((target, why))
                everything.remove(target)
        if not everything:
            raise ResolutionError(
                f"{tool.name}'s requirement '{tool.requirement}' applies to none of its "
                f"targets ({lock_targets.describe(declared)})"
            )
        self._say(f"resolving {tool.name} for {lock_targets.describe(everything)}")
        with IndexFinder(
            self.settings,
            everything[0].target,
            self.cache_root,
            offline=self.offline,
            refresh=self.mode is LockMode.UPGRADE,
            targets=[t.target for t in everything],
        ) as index_finder:
            builder = SdistBuilder(self.settings, self.cache_root, offline=self.offline)
            local = local_candidates(tool.requirements, builder)
            finder = LocalFinder(index_finder, local) if local else index_finder
            results, dropped = resolve_targets(
                list(tool.requirements),
                everything,
                finder,
                prereleases=self.prerelease,  # type: ignore[arg-type]
                required=lambda t: t in must,
                progress=self._say,
            )
        if not results and dropped:
            raise ResolutionError(dropped[0][1])
        for target, why in [*inapplicable, *dropped]:
            first = why.splitlines()[0]
            self._say(f"warning: {tool.name} cannot be locked for {target.name}: {first}")
        for warning in sorted({w for r in results for w in r.resolution.warnings}):
            self._say(f"warning: {warning}")
        return lock.render(tool.name, inputs, results, added, path.parent)


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
