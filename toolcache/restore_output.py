"""What ``toolcache restore`` prints: a row per tool (``Restored``), as text, versioned JSON,
or GitHub step outputs and a step summary. Standard library only: the fast path of ``restore``
(``commands.restore_fast``) prints with it too."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolcache import plan_output
from toolcache.envs import store as env_store
from toolcache.output import Output, table

JSON_VERSION = 1
STATUSES = ("hit", "restored", "built", "missing")


@dataclass(frozen=True)
class Restored:
    tool: str
    env_id: str
    environment: Path
    status: str  # one of STATUSES
    seconds: float
    source: str | None  # the archive restored from
    refused: str | None  # why an archive was not used
    # The environment as this run found or made it (None when missing): checked once, here.
    found: env_store.Environment | None = field(default=None, compare=False, repr=False)


def document(rows: list[Restored]) -> dict[str, Any]:
    """The JSON output (``"version": 1``)."""
    return {
        "version": JSON_VERSION,
        "tools": {
            r.tool: {
                "status": r.status,
                "environment": str(r.environment),
                "env-id": r.env_id,
                "seconds": round(r.seconds, 3),
                "source": r.source,
                "refused": r.refused,
            }
            for r in rows
        },
    }


def render_text(rows: list[Restored]) -> str:
    return table(
        [[r.tool, r.status, r.env_id, f"{r.seconds:.2f}s"] for r in rows],
        ["tool", "status", "environment", "time"],
    )


def _output_name(tool: str) -> str:
    return "status-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in tool)


def write_github(rows: list[Restored], environ: Mapping[str, str]) -> None:
    """``status-<tool>=<status>`` lines, ``cache-hit`` (true when nothing was built or
    missing) and ``statuses`` (a JSON object of tool to status, which the action passes on)
    to ``$GITHUB_OUTPUT``; a tool/status/time table to ``$GITHUB_STEP_SUMMARY``."""
    outputs = {_output_name(r.tool): r.status for r in rows}
    hit = all(r.status in ("hit", "restored") for r in rows)
    outputs["cache-hit"] = "true" if hit else "false"
    statuses = {r.tool: r.status for r in rows}
    outputs["statuses"] = json.dumps(statuses, separators=(",", ":"), sort_keys=True)
    plan_output.append_github_file("GITHUB_OUTPUT", environ, plan_output.github_outputs(outputs))
    if environ.get("GITHUB_STEP_SUMMARY"):
        summary = ["### toolcache restore\n\n", "| tool | status | time |\n", "|---|---|---|\n"]
        summary += [f"| {r.tool} | {r.status} | {r.seconds:.2f}s |\n" for r in rows]
        plan_output.append_github_file("GITHUB_STEP_SUMMARY", environ, "".join(summary))


def emit(rows: list[Restored], output_format: str, output: Output) -> None:
    """Print the rows as ``output_format`` asks (``github`` also writes the step outputs)."""
    if output_format == "json":
        output.result(json.dumps(document(rows), indent=2))
        return
    if output_format == "github":
        write_github(rows, os.environ)
    output.result(render_text(rows))
