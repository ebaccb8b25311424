"""The console script, and the cache-hit paths of ``run`` and ``plan``.

Standard library and toolcache's small modules only. When the ``stamp`` record for the
manifest is valid (manifest, locks, interpreters and settings unchanged) and, for ``run``, the
environment is present and healthy, the tool is started (``run``) or the plan printed
(``plan``) without importing Typer, PyYAML, packaging, httpx or resolvelib. Anything else, an
option this parser does not know included, goes to the full CLI, which does the same job the
long way and records the result for next time.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

RUN_FLAGS = {"--locked", "--frozen", "--offline", "-q", "--quiet"}
PLAN_FLAGS = RUN_FLAGS
VALUED = {"-m": "manifest", "--manifest": "manifest", "--cache-dir": "cache_dir"}
PLAN_VALUED = {
    **VALUED,
    "--tool": "tool",
    "-t": "tool",
    "--format": "format",
    "--key-suffix": "key_suffix",
}


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
        return values, seen, args[i:]
    if positional:
        raise _Unsupported
    return values, seen, []


def _cache_root(values: dict[str, list[str]]) -> Path:
    from toolcache import paths

    if "cache_dir" in values:
        return Path(values["cache_dir"][-1]).expanduser().absolute()
    return paths.cache_root()


def _manifest(values: dict[str, list[str]]) -> Path:
    return Path(values.get("manifest", ["tools.yaml"])[-1])


def fast_run(args: list[str]) -> int | None:
    """Run the tool from a valid record and a healthy environment; None to take the long way."""
    from toolcache import stamp
    from toolcache.envs.store import lookup

    values, _flags, rest = _parse(args, RUN_FLAGS, VALUED, positional=True)
    tool, extra = rest[0], rest[1:]
    if extra[:1] == ["--"]:
        extra = extra[1:]
    cache_root = _cache_root(values)
    record = stamp.load(cache_root, _manifest(values), os.environ)
    entry = stamp.tool(record, tool) if record is not None else None
    if entry is None:
        return None
    document = entry["document"]
    env = lookup(cache_root, document["interpreter"], document["resolution"])
    if env is None:
        return None
    from toolcache.runner import exec_tool

    return exec_tool(env.path, env.bin_dir, [*entry["run"], *extra], tool)


def fast_plan(args: list[str]) -> int | None:
    """Print the plan from a valid record; None to take the long way."""
    import platform

    from toolcache import keys, paths, plan_output, stamp
    from toolcache.output import Output

    values, flags, _ = _parse(args, PLAN_FLAGS, PLAN_VALUED, positional=False)
    output_format = values.get("format", ["text"])[-1]
    if output_format not in ("text", "json", "github"):
        return None
    cache_root = _cache_root(values)
    record = stamp.load(cache_root, _manifest(values), os.environ)
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


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if os.environ.get("TOOLCACHE_NO_FAST_PATH") != "1" and args[:1] in (["run"], ["plan"]):
        fast = fast_run if args[0] == "run" else fast_plan
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
