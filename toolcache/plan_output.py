"""``plan``'s outputs, made from its versioned JSON document. Standard library only, so the
recorded-plan path (``stamp``) prints exactly what the full path prints."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from toolcache import keys
from toolcache.errors import ToolcacheError
from toolcache.output import table

JSON_VERSION = 1


def document(
    tools: Mapping[str, Mapping[str, Any]], *, key: str, restore_prefix: str, cache_path: Path
) -> dict[str, Any]:
    return {
        "version": JSON_VERSION,
        "key": key,
        "restore-prefix": restore_prefix,
        "cache-path": str(cache_path),
        "tools": {name: dict(entry) for name, entry in tools.items()},
    }


def env_id(entry: Mapping[str, Any]) -> str:
    return keys.env_id(str(entry["interpreter"]), str(entry["resolution"]))


def render_json(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True)


def render_text(doc: Mapping[str, Any], width: int | None = None) -> str:
    """One row per tool: its Python, its environment (the folder ``CACHE/envs/<interpreter
    hash>/<resolution hash>``, each cut to 16 characters) and its packages, wrapped to the
    terminal (``width``, by default the terminal's or ``$COLUMNS``, 100 when neither says);
    then each interpreter's path, the key, the restore prefix and the cache path."""
    import shutil
    import textwrap

    if width is None:
        width = shutil.get_terminal_size((100, 24)).columns
    rows = []
    interpreters: dict[str, None] = {}
    for name, t in doc["tools"].items():
        # "CPython 3.11.7 at /path" or "CPython 3.12.x on <platform> (described)": the
        # version in the table, the whole description once below it.
        described = str(t["python"])
        version = described.split(" at ", 1)[0].split(" on ", 1)[0]
        if version != described:
            interpreters[described] = None
        pins = " ".join(f"{p['name']}=={p['version']}" for p in t["packages"])
        rows.append([name, version, env_id(t), pins])
    header = ["tool", "python", "environment", "packages"]
    fixed = sum(max(len(r[i]) for r in [header, *rows]) + 2 for i in range(3))
    room = width - fixed

    def wrap(pins: str, room: int) -> list[str]:
        return textwrap.wrap(pins, max(room, 1), break_long_words=False, break_on_hyphens=False)

    if room >= 40:  # packages in their column, wrapped
        wrapped: list[list[str]] = []
        for name, version, env, pins in rows:
            lines = wrap(pins, room)
            wrapped.append([name, version, env, lines[0] if lines else ""])
            wrapped.extend(["", "", "", line] for line in lines[1:])
        text = table(wrapped, header)
    else:  # a narrow terminal: packages on indented lines under their tool
        lines = table([r[:3] for r in rows], header[:3]).splitlines()
        text = lines[0] + "\n"
        for line, row in zip(lines[1:], rows, strict=True):
            text += line + "\n" + "".join(f"    {part}\n" for part in wrap(row[3], width - 4))
    text += "\n" + table(
        [
            *(["python", found] for found in interpreters),
            ["key", doc["key"]],
            ["restore-prefix", doc["restore-prefix"]],
            ["cache-path", doc["cache-path"]],
        ]
    )
    return text


def append_github_file(path_var: str, environ: Mapping[str, str], text: str) -> None:
    target = environ.get(path_var)
    if not target:
        raise ToolcacheError(f"--format github needs ${path_var} (set by GitHub Actions)")
    with Path(target).open("a", encoding="utf-8") as fh:
        fh.write(text)


def github_outputs(values: Mapping[str, str]) -> str:
    """``name=value`` lines for ``$GITHUB_OUTPUT``; multi-line values in heredoc form."""
    lines = []
    for name, value in values.items():
        if "\n" in value:
            delimiter = "toolcache_" + keys.digest(value)[:16]
            lines.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
        else:
            lines.append(f"{name}={value}\n")
    return "".join(lines)


def write_github(doc: Mapping[str, Any], environ: Mapping[str, str]) -> None:
    """Step outputs to ``$GITHUB_OUTPUT`` and a table to ``$GITHUB_STEP_SUMMARY``."""
    outputs = {
        "key": doc["key"],
        "restore-prefix": doc["restore-prefix"],
        "cache-path": doc["cache-path"],
        "tools": " ".join(doc["tools"]),
        "plan": json.dumps(doc, separators=(",", ":"), sort_keys=True),
    }
    append_github_file("GITHUB_OUTPUT", environ, github_outputs(outputs))
    summary = [
        "### toolcache plan\n\n",
        "| tool | python | packages | environment |\n",
        "|---|---|---|---|\n",
    ]
    for name, t in doc["tools"].items():
        summary.append(f"| {name} | {t['python']} | {len(t['packages'])} | `{env_id(t)}` |\n")
    summary.append(f"\nCache key: `{doc['key']}`\n")
    if environ.get("GITHUB_STEP_SUMMARY"):
        append_github_file("GITHUB_STEP_SUMMARY", environ, "".join(summary))


def emit(doc: Mapping[str, Any], output_format: str, environ: Mapping[str, str]) -> str:
    """The text for stdout in ``output_format`` (writing GitHub's files for ``github``)."""
    if output_format == "json":
        return render_json(doc)
    if output_format == "github":
        write_github(doc, environ)
    return render_text(doc)
