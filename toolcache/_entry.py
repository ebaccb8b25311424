"""The console script, and the fast paths of ``run``, ``plan`` and ``restore``.

Standard library and toolcache's small modules only. When the ``_hit`` record of a tool is
valid (manifest, lock, interpreters, environment and settings unchanged), ``run`` starts the
tool importing nothing but ``os``, ``sys`` and ``zlib``; when the ``stamp`` record of the
manifest is valid, ``plan`` prints without importing Typer, PyYAML, packaging or httpx, and
``restore`` restores from the archives folder (``commands.restore_fast``).
Anything else, an option this parser does not know included, goes to the full CLI, which does
the same job the long way and records the result for next time.
"""

from __future__ import annotations

import os
import sys

RUN_FLAGS = {"--locked", "--frozen", "--offline", "-q", "--quiet"}
PLAN_FLAGS = RUN_FLAGS
VALUED = {"-m": "manifest", "--manifest": "manifest", "--cache-dir": "cache_dir"}
#: ``run``'s own: an ad hoc run's package (``--from``, ``--with``) and interpreter.
RUN_VALUED = {**VALUED, "--from": "from", "--with": "with", "--python": "python", "-p": "python"}
#: The options ``plan`` and ``restore`` share: which tools, and how to print.
LISTING_VALUED = {**VALUED, "--tool": "tool", "-t": "tool", "--format": "format"}
PLAN_VALUED = {**LISTING_VALUED, "--key-suffix": "key_suffix"}
RESTORE_FLAGS = {*RUN_FLAGS, "--no-build"}
RESTORE_VALUED = {**LISTING_VALUED, "--from": "from"}


class _Unsupported(Exception):
    """The fast path does not handle this command line; the full CLI will."""


def _parse(
    args: list[str], flags: set[str], valued: dict[str, str], positional: bool
) -> tuple[dict[str, list[str]], set[str], list[str]]:
    """Options before the first positional; with ``positional`` the rest is returned as is."""
    values: dict[str, list[str]] = {}
    seen: set[str] = set()
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("-") and arg != "-":
            name, eq, inline = arg.partition("=")
            if name in flags and not eq:
                seen.add(name)
            elif name in valued:
                if eq:
                    value = inline
                elif i + 1 < len(args):
                    i += 1
                    value = args[i]
                else:
                    raise _Unsupported
                values.setdefault(valued[name], []).append(value)
            else:
                raise _Unsupported
            i += 1
            continue
        if not positional:
            raise _Unsupported
        rest = args[i:]
        break
    else:
        if positional:
            raise _Unsupported
        rest = []
    if {"--locked", "--frozen"} <= seen:
        raise _Unsupported  # they exclude each other: the full CLI says so
    return values, seen, rest


def _cache_root(values: dict[str, list[str]]) -> str:
    from toolcache import paths

    if "cache_dir" in values:
        return os.path.abspath(os.path.expanduser(values["cache_dir"][-1]))
    return paths.cache_root_str()


def _manifest(values: dict[str, list[str]]) -> str:
    from toolcache import paths

    return paths.find_manifest(values["manifest"][-1] if "manifest" in values else None)


def fast_run(args: list[str]) -> int | None:
    """Run the tool from a valid hit record; None to take the long way."""
    from toolcache import _hit

    values, _flags, rest = _parse(args, RUN_FLAGS, RUN_VALUED, positional=True)
    tool, extra = rest[0], rest[1:]
    if extra[:1] == ["--"]:
        extra = extra[1:]
    from_, python = values.get("from", [None])[-1], values.get("python", [None])[-1]
    from toolcache.paths import absolute_python

    python = absolute_python(python)
    cache_root = _cache_root(values)
    if from_ is not None or "@" in tool:  # ad hoc: no manifest involved
        key = _hit.adhoc_key(tool, from_, values.get("with", []), python, None)
        found = _hit.read_adhoc(cache_root, key)
    else:
        manifest = _manifest(values)
        found = None
        if python is None and "with" not in values:  # else never recorded for the manifest
            found = _hit.read(cache_root, manifest, tool)
        if found is None:  # a bare name the manifest did not have: run ad hoc last time
            key = _hit.adhoc_key(tool, None, values.get("with", []), python, manifest)
            found = _hit.read_adhoc(cache_root, key)
    if found is None:
        return None
    env_dir, bin_dir, argv, tool_env = found
    os.environ.update(tool_env)  # the tool's `env:` from the manifest
    _hit.mark_used(env_dir)
    from toolcache.runner import exec_tool

    return exec_tool(env_dir, bin_dir, [*argv, *extra], tool)


def fast_plan(args: list[str]) -> int | None:
    """Print the plan from a valid record; None to take the long way."""
    import platform
    from pathlib import Path

    from toolcache import keys, paths, plan_output, stamp
    from toolcache.output import Output

    values, flags, _ = _parse(args, PLAN_FLAGS, PLAN_VALUED, positional=False)
    output_format = values.get("format", ["text"])[-1]
    if output_format not in ("text", "json", "github"):
        return None
    cache_root = Path(_cache_root(values))
    record = stamp.load(cache_root, Path(_manifest(values)), os.environ)
    if record is None:
        return None
    names = list(dict.fromkeys(values.get("tool", []))) or list(record.get("all-tools", []))
    entries = {}
    for name in names:
        entry = stamp.tool(record, name)
        if entry is None:
            return None
        entries[name] = entry
    if not entries:
        return None
    prefix = keys.restore_prefix(
        sys.platform, platform.machine(), values.get("key_suffix", [""])[-1]
    )
    document = plan_output.document(
        {name: e["document"] for name, e in entries.items()},
        key=keys.cache_key(prefix, [e["env-id"] for e in entries.values()]),
        restore_prefix=prefix,
        cache_path=paths.archives_dir(cache_root),
    )
    Output(quiet="-q" in flags or "--quiet" in flags).result(
        plan_output.emit(document, output_format, os.environ)
    )
    return 0


def fast_restore(args: list[str]) -> int | None:
    """Restore from the archives folder with the record ``plan`` left; None to take the long
    way (``commands.restore_fast``)."""
    from pathlib import Path

    from toolcache.commands import restore_fast
    from toolcache.output import Output

    values, flags, _ = _parse(args, RESTORE_FLAGS, RESTORE_VALUED, positional=False)
    output_format = values.get("format", ["text"])[-1]
    if output_format not in ("text", "json", "github") or os.environ.get("TOOLCACHE_STORE"):
        return None
    from_ = values.get("from", [None])[-1]
    return restore_fast.restore(
        Path(_manifest(values)),
        values.get("tool", []),
        cache_root=Path(_cache_root(values)),
        from_=Path(os.path.abspath(from_)) if from_ is not None else None,
        output_format=output_format,
        output=Output(quiet="-q" in flags or "--quiet" in flags),
    )


FAST = {"run": fast_run, "plan": fast_plan, "restore": fast_restore}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if os.environ.get("TOOLCACHE_NO_FAST_PATH") != "1" and args[:1] and args[0] in FAST:
        fast = FAST[args[0]]
        try:
            code = fast(args[1:])
        except _Unsupported:
            code = None
        except Exception:  # anything odd: the full path will say it properly
            code = None
        if code is not None:
            return code
    from toolcache.cli import main as cli_main

    return cli_main(args)
