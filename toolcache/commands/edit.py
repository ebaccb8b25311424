"""``toolcache add``, ``remove`` and ``tools``: the manifest's tools, edited and listed.

The manifest is edited as text, located by PyYAML's node marks: an entry of the ``tools:``
mapping is the lines from its key to the last line of its value (comment lines right above
the key, with no blank line between, are its own). ``remove`` deletes those lines and ``add``
writes a new entry after the last one, in the block layout the file already uses; every other
byte (comments, blank lines, quoting, flow or block style, line endings) stays as it was.
A round-trip YAML library (ruamel.yaml) was tried and re-indents sequences and moves comment
columns on a plain load and dump, so it is not used. The edited text is parsed as a manifest
before it is written: an edit never leaves a manifest toolcache cannot read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from packaging.utils import canonicalize_name

from toolcache import atomic
from toolcache.errors import ManifestError, ToolcacheError
from toolcache.manifest import MAX_NAME, TOOL_NAME, Manifest, load, parse
from toolcache.output import Output, table


class EditError(ToolcacheError):
    """An edit of the manifest that cannot be made; ``path`` is the manifest."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


def _last_line(node: yaml.Node) -> int:
    """The 0-based line of a node's last character (block collections end where the next
    token starts, past comments and blank lines: their last child is used instead)."""
    if isinstance(node, yaml.MappingNode) and node.flow_style is not True and node.value:
        return _last_line(node.value[-1][1])
    if isinstance(node, yaml.SequenceNode) and node.flow_style is not True and node.value:
        return _last_line(node.value[-1])
    end = node.end_mark
    return end.line - 1 if end.column == 0 and end.line > node.start_mark.line else end.line


def _tools_node(text: str, path: Path) -> yaml.MappingNode | None:
    """The ``tools:`` mapping's node, None when there is no ``tools:`` key."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(root, yaml.MappingNode):
        raise EditError(path, "not a mapping: edit it by hand")
    for key, value in root.value:
        if key.value == "tools":
            if not isinstance(value, yaml.MappingNode) or value.flow_style is True:
                raise EditError(path, "'tools:' is not a block mapping: edit it by hand")
            return value
    return None


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _scalar(text: str) -> str:
    """``text`` as a YAML scalar: plain when that reads back the same, else quoted."""
    dumped: str = yaml.safe_dump(text, width=10**6, default_flow_style=True)
    return dumped.removesuffix("\n").removesuffix("\n...")


def _flow_list(items: list[str]) -> str:
    return "[" + ", ".join(_scalar(i) for i in items) + "]"


def _entry(name: str, requirement: str, with_: list[str], run: str | None, step: int) -> list[str]:
    """The new entry's lines, below a key at column 0 (shifted by the caller)."""
    if not with_ and run is None:
        return [f"{_scalar(name)}: {_scalar(requirement)}"]
    pad = " " * step
    lines = [f"{_scalar(name)}:", f"{pad}from: {_scalar(requirement)}"]
    if with_:
        lines.append(f"{pad}with: {_flow_list(with_)}")
    if run is not None:
        lines.append(f"{pad}run: {_scalar(run)}")
    return lines


def _check(text: str, path: Path) -> Manifest:
    """The edited text as a manifest, or an EditError saying what is wrong with it."""
    try:
        return parse(text, path)
    except ManifestError as exc:
        raise EditError(path, f"the edit would make the manifest invalid: {exc}") from None


def _valid(text: str, path: Path) -> None:
    """Refuse to edit a manifest that is not valid already (at its ``file:line``)."""
    try:
        parse(text, path)
    except ManifestError as exc:
        raise ToolcacheError(f"{exc} (fix this before toolcache edits the manifest)") from None


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return ""


def added(
    text: str, path: Path, name: str, requirement: str, *, with_: list[str], run: str | None
) -> str:
    """``text`` with a tool appended to its ``tools:`` mapping (made when missing)."""
    nl = _newline(text)
    tools = _tools_node(text, path) if text.strip() else None
    if tools is None:
        body = "".join(f"  {line}{nl}" for line in _entry(name, requirement, with_, run, 2))
        sep = "" if not text or text.endswith(("\n", "\r")) else nl
        return f"{text}{sep}tools:{nl}{body}"
    if any(k.value == name for k, _ in tools.value):
        raise EditError(path, f"a tool named {name!r} is already in the manifest")
    indent = tools.value[0][0].start_mark.column if tools.value else 2
    step = 2
    for key, value in tools.value:
        if isinstance(value, yaml.MappingNode) and value.flow_style is not True and value.value:
            step = value.value[0][0].start_mark.column - key.start_mark.column
            break
    lines = text.splitlines(keepends=True)
    after = _last_line(tools.value[-1][1]) + 1 if tools.value else tools.start_mark.line + 1
    if lines[after - 1 : after] and not lines[after - 1].endswith(("\n", "\r")):
        lines[after - 1] += nl
    new = [" " * indent + line + nl for line in _entry(name, requirement, with_, run, step)]
    return "".join(lines[:after] + new + lines[after:])


def removed(text: str, path: Path, name: str) -> str:
    """``text`` without the tool's entry (and the comment lines right above it)."""
    tools = _tools_node(text, path)
    entries = [] if tools is None else [k.value for k, _ in tools.value]
    if tools is None or name not in entries:
        raise EditError(path, f"no tool named {name!r} in the manifest")
    key, value = next((k, v) for k, v in tools.value if k.value == name)
    lines = text.splitlines(keepends=True)
    start, end = key.start_mark.line, _last_line(value) + 1
    while start > 0 and lines[start - 1].lstrip().startswith("#"):
        start -= 1
    first = start <= tools.start_mark.line  # right below `tools:`
    blank = first or not lines[start - 1].strip()
    if blank and end < len(lines) and not lines[end].strip():
        end += 1  # one blank line between entries, not two; none right below `tools:`
    elif blank and not first and end >= len(lines):
        start -= 1  # nor a blank line at the end of the file
    return "".join(lines[:start] + lines[end:])


def _valid_name(path: Path, name: str) -> None:
    if len(name) > MAX_NAME or not TOOL_NAME.fullmatch(name):
        raise EditError(
            path,
            f"{name!r} is not a tool name (letters, digits, '.', '_' and '-', at most {MAX_NAME})",
        )


def add(
    manifest_path: Path,
    name: str,
    requirement: str,
    *,
    with_: list[str],
    run: str | None,
    lock: Callable[[Path, str], int],
    output: Output,
) -> int:
    """Add a tool to the manifest, then ``lock`` it; a failed lock puts the manifest back."""
    _valid_name(manifest_path, name)
    existed = manifest_path.exists()
    before = _read(manifest_path)
    if before.strip():
        _valid(before, manifest_path)
    # The requirements are checked as the manifest checks them (local paths included).
    after = added(before, manifest_path, name, requirement, with_=with_, run=run)
    _check(after, manifest_path)
    atomic.write_bytes(manifest_path, after.encode("utf-8"))
    try:
        code = lock(manifest_path, name)
    except BaseException:
        # Put the manifest back, unless it was edited meanwhile (a lock can take minutes).
        if _read(manifest_path) == after:
            if existed:
                atomic.write_bytes(manifest_path, before.encode("utf-8"))
            else:
                manifest_path.unlink(missing_ok=True)
        raise
    output.progress(f"added {name!r} to {manifest_path}")
    return code


def remove(manifest_path: Path, name: str, *, output: Output) -> int:
    """Remove a tool from the manifest and delete its lock file."""
    try:
        text = manifest_path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise EditError(manifest_path, "manifest not found") from None
    _valid(text, manifest_path)
    after = removed(text, manifest_path, name)
    manifest = _check(after, manifest_path)
    atomic.write_bytes(manifest_path, after.encode("utf-8"))
    manifest.lock_path(name).unlink(missing_ok=True)
    output.progress(f"removed {name!r} from {manifest_path}")
    return 0


def _pins(manifest: Manifest, name: str) -> str:
    """The locked versions of a tool's own package ("-" when it is not locked)."""
    from toolcache.lockfile import document

    tool = manifest.tools[name]
    try:
        found = document.read(manifest.lock_path(name))
    except ToolcacheError:
        return "?"
    if found is None or found.outdated is not None:
        return "-"
    own = canonicalize_name(tool.requirement.name)
    versions = {
        str(p.get("version"))
        for p in found.document.get("packages", [])
        if canonicalize_name(str(p.get("name", ""))) == own
    }
    return ",".join(sorted(versions)) or "-"


def tools(manifest_path: Path, *, output_format: str, output: Output) -> int:
    """The manifest's tools: name, requirement, locked version, ``with``, command."""
    import shlex

    manifest = load(manifest_path)
    rows: list[dict[str, Any]] = [
        {
            "name": name,
            "from": str(tool.requirement),
            "pinned": _pins(manifest, name),
            "with": [str(r) for r in tool.with_],
            "run": shlex.join(tool.run),
        }
        for name, tool in manifest.tools.items()
    ]
    if output_format == "json":
        output.result(json.dumps({"version": 1, "tools": rows}, indent=2))
        return 0
    body = [
        [str(r["name"]), str(r["from"]), str(r["pinned"]), ", ".join(r["with"]) or "-", r["run"]]
        for r in rows
    ]
    output.result(table(body, ["tool", "from", "pinned", "with", "run"]))
    return 0
