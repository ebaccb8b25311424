"""``toolcache plan --explain``: why the key changed, per environment.

Compares the current plan's JSON document with an earlier one (the last plan recorded for the
manifest in this cache, or a plan JSON file such as the previous CI run's ``--format json``
output) and says, per tool, what moved: the environment, and why: which interpreter field
(version, ABI, tags, libc, ...), which packages, which input of the lock (a requirement with
its manifest line, a dependency group, an index setting, the targets). Standard library only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from toolcache import stamp
from toolcache.errors import ToolcacheError


def recorded(cache_root: Path, manifest_path: Path) -> dict[str, Any] | None:
    """The last plan recorded for ``manifest_path`` in this cache, valid or not."""
    try:
        data = json.loads(stamp.stamp_file(cache_root, manifest_path).read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("tools"), dict):
        return None
    tools = {
        name: entry["document"]
        for name, entry in data["tools"].items()
        if isinstance(entry, dict) and isinstance(entry.get("document"), dict)
    }
    return {"key": data.get("key"), "tools": tools}


def read_plan(path: Path) -> dict[str, Any]:
    """A plan JSON document written by ``plan --format json``."""
    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise ToolcacheError(f"{path}: cannot read it ({exc.strerror})") from None
    except ValueError as exc:
        raise ToolcacheError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("version") != 1 or "tools" not in data:
        raise ToolcacheError(f"{path}: not a plan document (toolcache plan --format json)")
    return data


def _env(entry: Mapping[str, Any]) -> str:
    return f"{str(entry.get('interpreter', ''))[:16]}/{str(entry.get('resolution', ''))[:16]}"


def _interpreter(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    if before.get("interpreter") == after.get("interpreter"):
        return []
    old, new = before.get("interpreter-fields"), after.get("interpreter-fields")
    lines = []
    if isinstance(old, dict) and isinstance(new, dict):
        for field in sorted(set(old) | set(new)):
            if old.get(field) != new.get(field):
                lines.append(
                    f"interpreter {field}: {_show(old.get(field))} -> {_show(new.get(field))}"
                )
    else:
        lines.append("interpreter: its hash changed (the earlier plan records no fields)")
    if before.get("python") != after.get("python"):
        lines.append(f"python: {before.get('python')} -> {after.get('python')}")
    return lines


def _show(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return "none" if value is None else str(value)


def _packages(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    def versions(entry: Mapping[str, Any]) -> dict[str, str]:
        return {str(p["name"]): str(p["version"]) for p in entry.get("packages", [])}

    old, new = versions(before), versions(after)
    moved = [
        f"{n} {old[n]} -> {new[n]}" for n in sorted(old.keys() & new.keys()) if old[n] != new[n]
    ]
    moved += [f"+ {n} {new[n]}" for n in sorted(new.keys() - old.keys())]
    moved += [f"- {n} {old[n]}" for n in sorted(old.keys() - new.keys())]
    return [f"packages: {'; '.join(moved)}"] if moved else []


def _inputs(before: Mapping[str, Any], after: Mapping[str, Any], where: str) -> list[str]:
    old, new = before.get("inputs"), after.get("inputs")
    if not isinstance(old, dict) or not isinstance(new, dict):
        return []
    return _differences(old, new, "", where)


def _differences(
    old: Mapping[str, Any], new: Mapping[str, Any], prefix: str, where: str
) -> list[str]:
    lines = []
    for key in sorted(set(old) | set(new)):
        name = f"{prefix}{key}"
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            lines.extend(_differences(a, b, f"{name}.", where))
        elif isinstance(a, list) and isinstance(b, list):
            added = [x for x in b if x not in a]
            removed = [x for x in a if x not in b]
            parts = [f"+ {_show(x)}" for x in added] + [f"- {_show(x)}" for x in removed]
            suffix = f" ({where})" if name == "requirements" and where else ""
            lines.append(f"input {name}: {'; '.join(parts) or 'reordered'}{suffix}")
        else:
            lines.append(f"input {name}: {_show(a)} -> {_show(b)}")
    return lines


def explain(
    before: Mapping[str, Any], after: Mapping[str, Any], lines_of: Mapping[str, str]
) -> str:
    """The explanation of ``after`` against ``before``; ``lines_of`` gives each tool's place in
    the manifest (``tools.yaml:9``)."""
    out = []
    old_tools: Mapping[str, Any] = before.get("tools", {})
    for name, entry in after.get("tools", {}).items():
        where = lines_of.get(name, "")
        previous = old_tools.get(name)
        if previous is None:
            out.append(f"{name}: new tool{f' ({where})' if where else ''}: {_env(entry)}")
            continue
        if _env(previous) == _env(entry):
            out.append(f"{name}: unchanged ({_env(entry)})")
            continue
        out.append(f"{name}: environment {_env(previous)} -> {_env(entry)}")
        reasons = [
            *_interpreter(previous, entry),
            *_packages(previous, entry),
            *_inputs(previous, entry, where),
        ]
        out.extend(f"  {reason}" for reason in reasons or ["(no recorded field differs)"])
    for name in old_tools:
        if name not in after.get("tools", {}):
            out.append(f"{name}: no longer planned ({_env(old_tools[name])})")
    old_key, new_key = before.get("key"), after.get("key")
    if old_key and old_key != new_key:
        out.append(f"key: {old_key} -> {new_key}")
    else:
        out.append(f"key: {new_key} (unchanged)" if old_key else f"key: {new_key}")
    return "\n".join(out) + "\n"
