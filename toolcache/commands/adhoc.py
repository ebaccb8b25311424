"""``toolcache run`` of a package no manifest names, the way ``uvx`` runs one.

``run ruff@0.9.10``, ``run ruff@latest``, ``run --from 'black[jupyter]' black`` and a bare
``run NAME`` that the manifest does not name resolve the requirement (with any ``--with``),
lock it, build its environment and run it by the rules of a manifest's tool: the same
interpreter discovery (``--python``, else the default), the same default targets, index
settings from the environment variables (``TOOLCACHE_INDEX_URL``, ``UV_INDEX_URL``, ...; never
a manifest's). The lock is the cache's, never the project's: ``CACHE/adhoc/<digest>/pylock.toml``,
the digest over the requirements and the index settings (``lock_folder``). The run leaves a
hit record keyed by the command line (``_hit.adhoc_key``), so the next one starts the tool
from ``_entry`` without importing anything this module does.

A name the manifest has keeps meaning the manifest's tool. With no manifest at all a bare name
is refused ("manifest not found", suggesting ``NAME@latest``) rather than fetched from the
index: outside a project the user says which package they mean (a mistyped name never runs
whatever the index has under it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from toolcache import _hit, keys, paths
from toolcache.errors import ToolcacheError
from toolcache.lockfile.planning import LockMode, Planner
from toolcache.manifest import Manifest, Tool, default_run, load
from toolcache.output import Output
from toolcache.runner import exec_tool

if TYPE_CHECKING:
    from toolcache.envs.store import Environment
    from toolcache.lockfile.planning import LockedTool

#: ``NAME@VERSION`` or ``NAME[extras]@VERSION``: uvx's shorthand for ``NAME==VERSION``.
_SHORTHAND = re.compile(
    r"(?P<req>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?(?:\[[^\]@]*\])?)@(?P<version>[^\s@/]+)"
)
LATEST = "latest"


@dataclass(frozen=True)
class AdhocManifest(Manifest):
    """A manifest of one tool kept in the cache: its lock is ``pylock.toml`` beside it."""

    @property
    def lock_dir(self) -> Path:
        return self.path.parent

    def lock_path(self, tool: str) -> Path:
        return self.path.parent / "pylock.toml"


@dataclass(frozen=True)
class Request:
    """What the command line asks for: a requirement, more beside it, the command to run."""

    requirement: Requirement
    with_: tuple[Requirement, ...]
    command: str
    latest: bool  # ``@latest``: resolve again, like ``uvx tool@latest``


def _requirement(text: str, what: str) -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        raise ToolcacheError(f"{what}: {text!r} is not a requirement ({exc})") from None


def _spec(text: str, what: str) -> tuple[Requirement, bool]:
    """``NAME@VERSION`` → ``NAME==VERSION``; ``NAME@latest`` → ``NAME``, resolved again;
    anything else is a PEP 508 requirement (``name @ https://...`` included)."""
    found = _SHORTHAND.fullmatch(text.strip())
    if found is None:
        return _requirement(text, what), False
    if found["version"] == LATEST:
        return _requirement(found["req"], what), True
    return _requirement(f"{found['req']}=={found['version']}", what), False


def parse_request(tool: str, from_: str | None, with_: list[str]) -> Request:
    """The ad hoc request of ``run [--from REQ] [--with REQ]... TOOL``."""
    if from_ is not None:
        req, latest = _spec(from_, "--from")
        command = tool
    else:
        req, latest = _spec(tool, "run")
        (command,) = default_run(req)
    extra = tuple(_requirement(w, "--with") for w in with_)
    return Request(req, extra, command, latest)


def is_adhoc(manifest_path: Path, tool: str, from_: str | None, with_: list[str]) -> bool:
    """Whether ``run`` means a package from the index rather than the manifest's tool.

    ``--from`` and ``NAME@VERSION`` always do; a bare name does when a manifest exists and does
    not name it. ``--with`` beside a manifest's tool is refused: its lock is the manifest's.
    """
    if from_ is not None or "@" in tool:
        return True
    if not manifest_path.exists():
        raise ToolcacheError(
            f"{manifest_path}: manifest not found (for the package {tool!r} from the index: "
            f"toolcache run {tool}@latest, or --from)"
        )
    names = load(manifest_path).tools
    if tool in names and with_:
        raise ToolcacheError(
            f"{tool!r} is a tool of {manifest_path}: --with is for packages run ad hoc "
            "(add the requirement to the tool's 'with:')"
        )
    return tool not in names


def lock_folder(cache_root: Path, request: Request, settings_view: dict[str, Any]) -> Path:
    """``CACHE/adhoc/<digest>``: one lock per (requirement, ``--with``, index settings). The
    interpreter is not in it: like a manifest's lock, one lock covers every target."""
    from toolcache.lockfile.document import canonical_requirement

    value = {
        "format": "toolcache-adhoc/1",
        "requirement": canonical_requirement(request.requirement),
        "with": sorted({canonical_requirement(r) for r in request.with_}),
        "settings": settings_view,
    }
    return paths.adhoc_dir(cache_root) / keys.digest(value)[: keys.PATH_DIGEST]


def run(
    tool: str,
    args: list[str],
    *,
    from_: str | None,
    with_: list[str],
    python: str | None,
    manifest_path: Path | None,
    cache_root: Path,
    mode: LockMode,
    offline: bool,
    output: Output,
) -> int:
    """Lock, build and run ``run [--from REQ] [--with REQ]... TOOL ARGS``.

    ``manifest_path`` is the manifest a bare name was looked up in (None for ``--from`` and
    ``NAME@VERSION``): the hit record is keyed by it and checks it is unchanged, so a name the
    manifest gains later means the manifest's tool.
    """
    from toolcache.commands.run import environment
    from toolcache.lockfile import document
    from toolcache.settings import index_settings

    request = parse_request(tool, from_, with_)
    if request.latest:
        if mode in (LockMode.LOCKED, LockMode.FROZEN):
            raise ToolcacheError("@latest resolves again: it excludes --locked and --frozen")
        mode = LockMode.UPGRADE
    python = paths.absolute_python(python)
    base = paths.adhoc_dir(cache_root)
    settings = index_settings(AdhocManifest(path=base / "tools.yaml", tools={}))
    folder = lock_folder(cache_root, request, document.settings_view(settings, base))
    entry = Tool(
        name=canonicalize_name(request.requirement.name),
        requirement=request.requirement,
        with_=request.with_,
        run=(request.command,),
        python=python,
        line=0,
    )
    planner = Planner(
        AdhocManifest(path=folder / "tools.yaml", tools={entry.name: entry}),
        cache_root=cache_root,
        mode=mode,
        offline=offline,
        progress=output.progress,
    )
    locked = planner.lock_tool(entry)
    index_urls = [settings.index_url, *settings.extra_index_urls]
    env = environment(locked, cache_root, index_urls=index_urls, offline=offline, output=output)
    if not request.latest:  # `@latest` looks again every time, as uvx does
        manifest = None if manifest_path is None else str(manifest_path.absolute())
        key = _hit.adhoc_key(tool, from_, with_, python, manifest)
        remember_hit(locked, env, key, cache_root, manifest)
    output.close()  # the terminal is the tool's from here
    return exec_tool(str(env.path), str(env.bin_dir), [*entry.run, *args], entry.name)


def remember_hit(
    locked: LockedTool, env: Environment, key: str, cache_root: Path, manifest: str | None
) -> None:
    """The record that lets the same command line next time start at once (``_hit``): it
    checks the lock, the interpreter, the environment and, for a bare name, the manifest."""
    from toolcache.commands.run import hit_record

    lock = str(locked.lock.path.absolute())
    also = [] if manifest is None else [manifest]
    record = hit_record(locked, env, tool=key, first=lock, also=also)
    if record is not None:
        _hit.write_adhoc(str(cache_root), key, record)
