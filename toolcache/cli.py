"""The command line. The only module that imports Typer: it turns options into typed
arguments and calls one plain function per command in ``toolcache.commands``."""

from __future__ import annotations

import enum
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from toolcache import __version__, paths
from toolcache.lockfile.planning import LockMode
from toolcache.output import Output


def _typer(name: str, summary: str) -> typer.Typer:
    """A command group as toolcache's are: plain help at most 100 columns wide, no
    completion, no pretty tracebacks (``main`` reports errors)."""
    return typer.Typer(
        name=name,
        help=summary,
        short_help=summary,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"max_content_width": 100},
    )


app = _typer("toolcache", "Developer tools resolved once, locked, cached under deterministic keys.")


class _Command(TyperCommand):
    """Usage lines as uv prints them: ``TOOL``, not Typer's ``{TOOL}`` for a required one."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces: list[str] = super().collect_usage_pieces(ctx)
        return [p[1:-1] if p.startswith("{") and p.endswith("}") else p for p in pieces]

    def get_short_help_str(self, limit: int = 45) -> str:
        """The summary in the list of commands: the docstring's first paragraph, whole
        (wrapped by the help formatter, never cut with "...")."""
        first = (self.help or "").strip().split("\n\n", 1)[0]
        return " ".join(first.split())


def command(name: str | None = None, **settings: Any) -> Callable[[Callable[..., Any]], Any]:
    """``app.command`` with toolcache's usage lines."""
    return app.command(name, cls=_Command, **settings)


class Format(str, enum.Enum):
    text = "text"
    json = "json"
    github = "github"


class ListFormat(str, enum.Enum):
    """The formats of commands with no GitHub output."""

    text = "text"
    json = "json"


class Prerelease(str, enum.Enum):
    if_necessary_or_explicit = "if-necessary-or-explicit"
    allow = "allow"
    disallow = "disallow"


ManifestOpt = Annotated[
    Path | None,
    typer.Option(
        "--manifest",
        "-m",
        help="The manifest (default: the nearest tools.yaml from here up to the repository root).",
        show_default=False,
    ),
]
ToolOpt = Annotated[
    list[str] | None,
    typer.Option("--tool", "-t", help="Only this tool (repeatable).", metavar="<tool>"),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")]
LockedOpt = Annotated[
    bool, typer.Option("--locked", help="Fail if a lock is missing or out of date.")
]
FrozenOpt = Annotated[bool, typer.Option("--frozen", help="Use the locks as they are.")]
UpgradeOpt = Annotated[bool, typer.Option("--upgrade", "-U", help="Resolve again.")]
OfflineOpt = Annotated[bool, typer.Option("--offline", help="Never touch the network.")]
CacheOpt = Annotated[
    Path | None,
    typer.Option("--cache-dir", envvar="TOOLCACHE_CACHE_DIR", help="The cache root."),
]
PrereleaseOpt = Annotated[
    Prerelease,
    typer.Option("--prerelease", help="When prereleases may be chosen."),
]
PythonVersionOpt = Annotated[
    str | None,
    typer.Option(
        "--python-version",
        help="Resolve for this Python (X.Y[.Z]), not a local one.",
        metavar="<x.y>",
    ),
]
PythonOpt = Annotated[
    str | None,
    typer.Option(
        "--python",
        "-p",
        help="Use this interpreter instead of the manifest's python (3.12, pypy3.10, a path).",
        show_default=False,
        metavar="<python>",
    ),
]
PlatformOpt = Annotated[
    str | None,
    typer.Option(
        "--platform",
        help="Resolve for this platform, e.g. x86_64-manylinux_2_28.",
        metavar="<platform>",
    ),
]


def _manifest_path(given: Path | None) -> Path:
    return Path(paths.find_manifest(None if given is None else str(given)))


def _mode(locked: bool, frozen: bool, upgrade: bool) -> LockMode:
    chosen = [
        m
        for m, on in (
            (LockMode.LOCKED, locked),
            (LockMode.FROZEN, frozen),
            (LockMode.UPGRADE, upgrade),
        )
        if on
    ]
    if len(chosen) > 1:
        raise typer.BadParameter("--locked, --frozen and --upgrade exclude each other")
    return chosen[0] if chosen else LockMode.AUTO


def _version(value: bool) -> None:
    if value:
        print(f"toolcache {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """toolcache: run developer tools from locked, cached environments."""


@command()
def plan(
    manifest: ManifestOpt = None,
    tool: ToolOpt = None,
    output_format: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.text,
    key_suffix: Annotated[
        str, typer.Option("--key-suffix", help="Added to the CI key.", metavar="<suffix>")
    ] = "",
    locked: LockedOpt = False,
    frozen: FrozenOpt = False,
    upgrade: UpgradeOpt = False,
    offline: OfflineOpt = False,
    prerelease: PrereleaseOpt = Prerelease.if_necessary_or_explicit,
    python: PythonOpt = None,
    python_version: PythonVersionOpt = None,
    platform: PlatformOpt = None,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain", help="Say why each environment and the key changed since the last plan."
        ),
    ] = False,
    against: Annotated[
        Path | None,
        typer.Option(
            "--against",
            help="With --explain: compare with this plan (a --format json output).",
            metavar="<plan.json>",
        ),
    ] = None,
    cache_dir: CacheOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Lock every tool and print its environment and the CI cache key."""
    from toolcache.commands.plan import plan as run_plan

    raise typer.Exit(
        run_plan(
            _manifest_path(manifest),
            tool or [],
            output_format=output_format.value,
            cache_root=cache_dir or paths.cache_root(),
            mode=_mode(locked, frozen, upgrade),
            offline=offline,
            prerelease=prerelease.value,
            python_version=python_version,
            platform_name=platform,
            key_suffix=key_suffix,
            output=Output(quiet=quiet),
            python=paths.absolute_python(python),
            explain=explain,
            against=against,
        )
    )


@command()
def lock(
    manifest: ManifestOpt = None,
    tool: ToolOpt = None,
    check: Annotated[
        bool, typer.Option("--check", help="Fail if a lock would change (like --locked).")
    ] = False,
    upgrade: UpgradeOpt = False,
    offline: OfflineOpt = False,
    prerelease: PrereleaseOpt = Prerelease.if_necessary_or_explicit,
    python: PythonOpt = None,
    python_version: PythonVersionOpt = None,
    platform: PlatformOpt = None,
    cache_dir: CacheOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Resolve the tools and write their locks (tools.lock/pylock.<tool>.toml)."""
    from toolcache.commands.lock import lock as run_lock

    raise typer.Exit(
        run_lock(
            _manifest_path(manifest),
            tool or [],
            cache_root=cache_dir or paths.cache_root(),
            mode=_mode(check, False, upgrade),
            offline=offline,
            prerelease=prerelease.value,
            python_version=python_version,
            platform_name=platform,
            output=Output(quiet=quiet),
            python=paths.absolute_python(python),
        )
    )


@command(
    context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True},
)
def run(
    tool: Annotated[
        str,
        typer.Argument(
            help="A tool of the manifest, or a package to run ad hoc (ruff, ruff@0.9.10).",
            metavar="TOOL",
        ),
    ],
    args: Annotated[
        list[str] | None,
        typer.Argument(help="Arguments passed on to the tool.", metavar="[ARGS]..."),
    ] = None,
    manifest: ManifestOpt = None,
    python: PythonOpt = None,
    from_: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Run TOOL (a command) from this package, not the manifest's (like uvx --from).",
            show_default=False,
            metavar="<requirement>",
        ),
    ] = None,
    with_: Annotated[
        list[str] | None,
        typer.Option(
            "--with", help="Install this beside an ad hoc tool (repeatable).", metavar="<req>"
        ),
    ] = None,
    locked: LockedOpt = False,
    frozen: FrozenOpt = False,
    offline: OfflineOpt = False,
    cache_dir: CacheOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Run a tool from its locked, cached environment.

    toolcache's options go before the tool's name; everything after it (a -- first is
    optional) is the tool's: toolcache run -m tools.yaml lint -- --fix .
    """
    from toolcache.commands import adhoc
    from toolcache.commands.run import run as run_tool

    if tool.startswith("-") and tool != "-":
        # Options after the tool's name are the tool's, so unknown ones pass through to it;
        # one before the name is a mistake, never a tool called "--something".
        raise typer.BadParameter(
            f"{tool} is not an option of toolcache run (see toolcache run --help)",
            param_hint="TOOL",
        )
    extra = list(args or [])
    if extra[:1] == ["--"]:
        extra = extra[1:]
    manifest_path = _manifest_path(manifest)
    if adhoc.is_adhoc(manifest_path, tool, from_, with_ or []):
        raise typer.Exit(
            adhoc.run(
                tool,
                extra,
                from_=from_,
                with_=with_ or [],
                python=paths.absolute_python(python),
                manifest_path=None if from_ is not None or "@" in tool else manifest_path,
                cache_root=cache_dir or paths.cache_root(),
                mode=_mode(locked, frozen, False),
                offline=offline,
                output=Output(quiet=quiet),
            )
        )
    raise typer.Exit(
        run_tool(
            manifest_path,
            tool,
            extra,
            cache_root=cache_dir or paths.cache_root(),
            mode=_mode(locked, frozen, False),
            offline=offline,
            output=Output(quiet=quiet),
            python=paths.absolute_python(python),
        )
    )


_STORE_HELP = (
    "A shared store: s3://bucket/prefix, gs://bucket/prefix, az://container/prefix "
    "(toolcache[cloud]), an HTTP(S) cache (Bazel layout), a folder or file:// URL."
)
StoreOpt = Annotated[
    str | None,
    typer.Option("--store", envvar="TOOLCACHE_STORE", help=_STORE_HELP, metavar="<url>"),
]


@command()
def export(
    manifest: ManifestOpt = None,
    tool: ToolOpt = None,
    to: Annotated[
        Path | None,
        typer.Option(
            "--to", help="Folder for the archives (default: cache-path).", metavar="<folder>"
        ),
    ] = None,
    store: StoreOpt = None,
    prune: Annotated[
        bool, typer.Option("--prune", help="Remove archives the manifest no longer needs.")
    ] = False,
    read_only: Annotated[
        bool, typer.Option("--read-only", help="Say what would be uploaded; write nothing.")
    ] = False,
    level: Annotated[
        int | None,
        typer.Option(
            "--level", min=1, max=22, help="zstd level, 1-22 (default: measured).", metavar="<n>"
        ),
    ] = None,
    locked: LockedOpt = False,
    frozen: FrozenOpt = False,
    offline: OfflineOpt = False,
    cache_dir: CacheOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Pack the environments the manifest needs as .tar.zst archives (CI caches, stores)."""
    from toolcache.commands.export import export as run_export

    if to is not None and store is not None:
        raise typer.BadParameter("--to and --store exclude each other")
    raise typer.Exit(
        run_export(
            _manifest_path(manifest),
            tool or [],
            cache_root=cache_dir or paths.cache_root(),
            to=to,
            store=store,
            prune=prune,
            mode=_mode(locked, frozen, False),
            offline=offline,
            output=Output(quiet=quiet),
            read_only=read_only,
            level=level,
        )
    )


@command()
def restore(
    manifest: ManifestOpt = None,
    tool: ToolOpt = None,
    from_: Annotated[
        Path | None,
        typer.Option(
            "--from", help="Folder with archives (default: cache-path).", metavar="<folder>"
        ),
    ] = None,
    store: StoreOpt = None,
    no_build: Annotated[
        bool, typer.Option("--no-build", help="Report missing instead of building.")
    ] = False,
    output_format: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.text,
    locked: LockedOpt = False,
    frozen: FrozenOpt = False,
    offline: OfflineOpt = False,
    cache_dir: CacheOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Bring every tool's environment back: a hit, restored, built, or missing."""
    from toolcache.commands.restore import restore as run_restore

    if from_ is not None and store is not None:
        raise typer.BadParameter("--from and --store exclude each other")
    raise typer.Exit(
        run_restore(
            _manifest_path(manifest),
            tool or [],
            cache_root=cache_dir or paths.cache_root(),
            from_=from_,
            store=store,
            no_build=no_build,
            mode=_mode(locked, frozen, False),
            offline=offline,
            output_format=output_format.value,
            output=Output(quiet=quiet),
        )
    )


@command("list")
def list_command(
    manifest: Annotated[
        Path | None,
        typer.Option("--manifest", "-m", help="Only the environments this manifest's tools use."),
    ] = None,
    output_format: Annotated[
        ListFormat, typer.Option("--format", help="Output format.")
    ] = ListFormat.text,
    cache_dir: CacheOpt = None,
) -> None:
    """The environments in the cache: size, last use, and which manifests' tools use them."""
    from toolcache.commands.list_envs import list_envs

    raise typer.Exit(
        list_envs(
            cache_root=cache_dir or paths.cache_root(),
            output_format=output_format.value,
            output=Output(),
            manifest_path=None if manifest is None else _manifest_path(manifest),
        )
    )


@command()
def verify(
    full: Annotated[
        bool, typer.Option("--full", help="Hash every file too (and the cached wheels).")
    ] = False,
    repair: Annotated[
        bool, typer.Option("--repair", help="Remove what is damaged; rebuild the manifest's.")
    ] = False,
    manifest: Annotated[
        Path | None,
        typer.Option("-m", "--manifest", help="With --repair: build its tools' environments."),
    ] = None,
    cache_dir: CacheOpt = None,
) -> None:
    """Check every environment and unpacked wheel against what vouches for it."""
    from toolcache.commands.verify import verify as run_verify

    raise typer.Exit(
        run_verify(
            cache_root=cache_dir or paths.cache_root(),
            full=full,
            repair=repair,
            manifest_path=manifest,
            output=Output(),
        )
    )


@command()
def gc(
    manifest: Annotated[
        Path | None,
        typer.Option(
            "--manifest",
            "-m",
            help="Keep this manifest's environments, whatever --max-age and --max-size say.",
        ),
    ] = None,
    max_age: Annotated[
        str | None,
        typer.Option(
            "--max-age",
            help="Also remove what was not used for this long (30d).",
            metavar="<age>",
        ),
    ] = None,
    max_size: Annotated[
        str | None,
        typer.Option(
            "--max-size",
            help="Then remove least recently used down to this (2G).",
            metavar="<size>",
        ),
    ] = None,
    keep_unreferenced: Annotated[
        bool, typer.Option("--keep-unreferenced", help="Keep environments no known manifest uses.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would go.")] = False,
    cache_dir: CacheOpt = None,
) -> None:
    """Remove environments no manifest uses (and, with options, old or excess ones)."""
    from toolcache.commands.gc import gc as run_gc

    raise typer.Exit(
        run_gc(
            cache_root=cache_dir or paths.cache_root(),
            max_age=max_age,
            max_size=max_size,
            keep_unreferenced=keep_unreferenced,
            dry_run=dry_run,
            output=Output(),
            manifest_path=None if manifest is None else _manifest_path(manifest),
        )
    )


@command()
def add(
    name: Annotated[str, typer.Argument(help="The tool's name.", metavar="NAME")],
    requirement: Annotated[
        str, typer.Argument(help="What to install (ruff==0.9.10).", metavar="REQUIREMENT")
    ],
    with_: Annotated[
        list[str] | None,
        typer.Option("--with", help="Install this beside it (repeatable).", metavar="<req>"),
    ] = None,
    run_: Annotated[
        str | None,
        typer.Option("--run", help="Its command (default: the package's name).", metavar="<cmd>"),
    ] = None,
    manifest: ManifestOpt = None,
    offline: OfflineOpt = False,
    cache_dir: CacheOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Add a tool to tools.yaml (comments and layout kept) and lock it."""
    from toolcache.commands.edit import add as run_add
    from toolcache.commands.lock import lock as run_lock

    output = Output(quiet=quiet)

    def lock_one(path: Path, tool: str) -> int:
        return run_lock(
            path,
            [tool],
            cache_root=cache_dir or paths.cache_root(),
            mode=LockMode.AUTO,
            offline=offline,
            prerelease=Prerelease.if_necessary_or_explicit.value,
            python_version=None,
            platform_name=None,
            output=output,
        )

    raise typer.Exit(
        run_add(
            _manifest_path(manifest),
            name,
            requirement,
            with_=with_ or [],
            run=run_,
            lock=lock_one,
            output=output,
        )
    )


@command()
def remove(
    name: Annotated[str, typer.Argument(help="The tool's name.", metavar="NAME")],
    manifest: ManifestOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Remove a tool from tools.yaml (comments and layout kept) and delete its lock."""
    from toolcache.commands.edit import remove as run_remove

    raise typer.Exit(run_remove(_manifest_path(manifest), name, output=Output(quiet=quiet)))


@command()
def tools(
    manifest: ManifestOpt = None,
    output_format: Annotated[
        ListFormat, typer.Option("--format", help="Output format.")
    ] = ListFormat.text,
) -> None:
    """The manifest's tools: requirement, locked version, with, command."""
    from toolcache.commands.edit import tools as run_tools

    raise typer.Exit(
        run_tools(_manifest_path(manifest), output_format=output_format.value, output=Output())
    )


store_app = _typer("store", "Look after a shared store: list its archives, prune old ones.")
app.add_typer(store_app, name="store")
RequiredStoreOpt = Annotated[
    str,
    typer.Option(
        "--store", envvar="TOOLCACHE_STORE", help=_STORE_HELP, show_default=False, metavar="<url>"
    ),
]


@store_app.command("ls", cls=_Command)
def store_ls(
    store: RequiredStoreOpt,
    output_format: Annotated[
        ListFormat, typer.Option("--format", help="Output format.")
    ] = ListFormat.text,
) -> None:
    """The store's archives: name, size, when written."""
    from toolcache.commands.store import ls

    raise typer.Exit(ls(store, output_format=output_format.value, output=Output()))


@store_app.command("prune", cls=_Command)
def store_prune(
    store: RequiredStoreOpt,
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than", help="Remove archives written this long ago (30d).", metavar="<age>"
        ),
    ] = "30d",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would go.")] = False,
) -> None:
    """Remove the store's archives written more than --older-than ago."""
    from toolcache.commands.store import prune

    raise typer.Exit(prune(store, older_than=older_than, dry_run=dry_run, output=Output()))


def main(argv: list[str]) -> int:
    """Run the CLI; known errors become one line and exit 1, Ctrl-C 130, bugs 3."""
    from toolcache.errors import ToolcacheError

    output = Output()
    try:
        code = app(args=argv, prog_name="toolcache", standalone_mode=False)
    except ToolcacheError as exc:
        output.error(str(exc))
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        output.error("aborted")
        return 130
    except KeyboardInterrupt:
        output.error("interrupted")
        return 130
    except OSError as exc:
        message = os_error_message(exc)
        if message is None:
            return _bug(exc, output)
        output.error(message)
        return 1
    except Exception as exc:  # a usage error (click's, vendored or not) or a bug
        show, exit_code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(exit_code, int):
            output.close()
            show()
            return exit_code
        if type(exc).__module__.split(".")[0] in ("httpx", "httpcore", "h11", "ssl"):
            # What the network did (a redirect loop, a corrupt compressed body): not a bug.
            output.error(f"network error: {type(exc).__name__}: {exc}")
            return 1
        return _bug(exc, output)
    finally:
        output.close()  # a failed or interrupted (typer: exit 130) command's live display
    return code if isinstance(code, int) else 0


#: Errors of the machine, not of toolcache, with what the user can do about each.
_OS_HINTS = {
    "ENOSPC": "the disk is full: free some space (`toolcache gc` frees environments) "
    "or set TOOLCACHE_CACHE_DIR to a folder on another disk",
    "EDQUOT": "the disk quota is used up: free some space or set TOOLCACHE_CACHE_DIR elsewhere",
    "EROFS": "the file system is read-only: set TOOLCACHE_CACHE_DIR to a writable folder",
    "EACCES": "check the folder's owner and permissions, or set TOOLCACHE_CACHE_DIR to a "
    "folder you can write",
    "EPERM": "check the folder's owner and permissions, or set TOOLCACHE_CACHE_DIR to a "
    "folder you can write",
    "ENAMETOOLONG": "the path is too long for this file system: use a shorter "
    "TOOLCACHE_CACHE_DIR or project path",
}


def os_error_message(exc: OSError) -> str | None:
    """One line for an OS error a user can meet (disk full, read-only, permission denied,
    path too long), naming the path and what to do; None for anything else (a bug)."""
    import errno

    name = errno.errorcode.get(exc.errno or 0, "")
    hint = _OS_HINTS.get(name)
    if hint is None:
        return None
    if exc.filename:
        return f"{exc.filename}: {exc.strerror or name} ({hint})"
    return f"{exc.strerror or name} (the cache is {paths.cache_root()}; {hint})"


def _bug(exc: BaseException, output: Output) -> int:
    import datetime
    import traceback

    log_dir = paths.cache_root() / "logs"
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S")
        log = log_dir / f"crash-{stamp}.log"
        log.write_text("".join(traceback.format_exception(exc)), encoding="utf-8")
        where = f"; details in {log}"
    except OSError:
        where = ""
    output.error(f"unexpected {type(exc).__name__}: {exc}{where}")
    return 3
