"""From a manifest's tool to a fresh lock: find the target, check the lock, resolve if needed.

Shared by every command that needs a tool's resolution (``plan``, ``lock``, ``run``, ...).
With a fresh lock nothing here touches the network or spawns a process (the interpreter
probe is cached by the interpreter file's identity).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from toolcache import keys, paths
from toolcache.errors import LockError
from toolcache.lockfile import document as lock
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
    tool: Tool
    choice: TargetChoice
    lock: lock.ToolLock
    status: str  # "fresh", "locked" (written now), "frozen"

    @property
    def env_id(self) -> str:
        return keys.env_id(self.lock.interpreter, self.lock.resolution)


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
        description = (
            f"{m['platform_python_implementation']} {m['python_full_version']}"
            f" ({m['sys_platform']} {m['platform_machine']}, described)"
        )
        return TargetChoice(description, keys.InterpreterHash(digest), target, None)

    def _locked_choice(self, request: str | None, existing: lock.ToolLock) -> TargetChoice | None:
        """The interpreter ``existing`` was locked for, when it also satisfies ``request``."""
        if self.python_version is not None or self.platform is not None:
            return None
        from toolcache.discovery import find_interpreter_with_hash

        interp = find_interpreter_with_hash(request, existing.interpreter, self.cache_root)
        return None if interp is None else TargetChoice.of(interp)

    def lock_tool(self, tool: Tool) -> LockedTool:
        path = self.manifest.lock_path(tool.name)
        shown = _shown(path)
        existing = lock.read(path) if self.mode is not LockMode.UPGRADE else None
        choice = self.choose(tool.python)
        if existing is not None and existing.interpreter != choice.interpreter_hash:
            # Several interpreters satisfy the request: keep the one the lock was made for.
            choice = self._locked_choice(tool.python, existing) or choice
        if self.mode is LockMode.FROZEN:
            if existing is None:
                raise LockError(f"{shown}: no lock for tool {tool.name!r}, and --frozen was given")
            return LockedTool(tool, choice, existing, "frozen")
        view = lock.settings_view(self.settings, self.manifest.path.parent)
        inputs = lock.lock_inputs(tool.requirements, view, choice.interpreter_hash, self.prerelease)
        reason = lock.staleness(existing, inputs)
        if reason is None and existing is not None:
            return LockedTool(tool, choice, existing, "fresh")
        if self.mode is LockMode.LOCKED:
            raise LockError(
                f"{shown} is out of date for tool {tool.name!r} ({reason}), and --locked was given"
            )
        text = self._resolve(tool, choice, inputs, path)
        lock.write(path, text)
        written = lock.read(path)
        assert written is not None
        return LockedTool(tool, choice, written, "locked")

    def _resolve(
        self, tool: Tool, choice: TargetChoice, inputs: dict[str, object], path: Path
    ) -> str:
        from toolcache.index.finder import IndexFinder
        from toolcache.resolver.resolve import resolve

        if self.progress is not None:
            self.progress(f"resolving {tool.name} for {choice.description}")
        with IndexFinder(
            self.settings,
            choice.target,
            self.cache_root,
            offline=self.offline,
            refresh=self.mode is LockMode.UPGRADE,
        ) as finder:
            resolution = resolve(
                list(tool.requirements),
                finder,
                choice.target,
                prereleases=self.prerelease,  # type: ignore[arg-type]
            )
        if self.progress is not None:
            for warning in resolution.warnings:
                self.progress(f"warning: {warning}")
        return lock.render(tool.name, inputs, resolution, choice.target, path.parent)


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
