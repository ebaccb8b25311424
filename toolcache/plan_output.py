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


def render_text(doc: Mapping[str, Any]) -> str:
    rows = []
    for name, t in doc["tools"].items():
        pins = " ".join(f"{p['name']}=={p['version']}" for p in t["packages"])
        rows.append([name, t["python"], env_id(t), pins])
    text = table(rows, ["tool", "python", "environment", "packages"])
    text += "\n" + table(
        [
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
