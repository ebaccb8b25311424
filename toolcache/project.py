"""The project a tool checks: what its ``pyproject.toml`` says the tool must see.

A tool in the manifest can ask for the project's PEP 735 dependency groups (``with-groups``)
and for its ``[project] dependencies`` with some extras (``with-project``). The pyproject is
the one in the manifest's folder, or the one a tool's ``project:`` key names (a folder or a
``.toml`` file, relative to the manifest's folder). Groups are expanded with packaging's
``dependency_groups`` (``include-group`` followed, names normalised); the project itself is
never added, only its dependencies: the tool checks the source tree where it is.

What is read becomes part of the tool's lock inputs (``ProjectInputs.recorded``), so a change
to a group or to the dependencies makes the lock stale and the staleness message names it.
Every problem is a ``PyprojectError`` with the line of the pyproject it is about (or 0), which
the manifest reports at that ``file:line``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

#: A larger pyproject is refused unread, like a manifest over 1 MiB.
MAX_BYTES = 2**20


class PyprojectError(ValueError):
    """A problem with the project's pyproject: ``line`` is 0 when the file as a whole is wrong
    (then the manifest line that asked for it is the better place to report it)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass(frozen=True)
class Pyproject:
    path: Path
    text: str
    data: Mapping[str, Any]

    def line(self, table: str, key: str | None = None) -> int:
        """The line of ``[table]`` (or of ``key`` in it, names compared normalised); 0 when
        not found the simple way (inline tables, dotted keys)."""
        return find_line(self.text, table, key)


@dataclass(frozen=True)
class ProjectInputs:
    """What a tool takes from its project: the requirements and how they are recorded.

    ``shown`` is the pyproject's path relative to the manifest's folder (POSIX form), as
    recorded in the lock and named in messages. ``groups`` and ``extras`` keep the manifest's
    order; ``dependencies`` is None unless ``with-project`` was given.
    """

    shown: str
    groups: tuple[tuple[str, tuple[Requirement, ...]], ...] = ()
    dependencies: tuple[Requirement, ...] | None = None
    extras: tuple[tuple[str, tuple[Requirement, ...]], ...] = ()
    path: Path | None = None

    @property
    def requirements(self) -> tuple[Requirement, ...]:
        out = [r for _, reqs in self.groups for r in reqs]
        out += list(self.dependencies or ())
        out += [r for _, reqs in self.extras for r in reqs]
        return tuple(out)

    def recorded(self, canonical: Any) -> dict[str, Any]:
        """The lock inputs (keys absent when unused, so older locks keep their hash);
        ``canonical`` turns a requirement into its recorded string."""

        def each(reqs: Sequence[Requirement]) -> list[str]:
            return sorted({canonical(r) for r in reqs})

        out: dict[str, Any] = {"pyproject": self.shown}
        if self.groups:
            out["dependency-groups"] = {name: each(reqs) for name, reqs in self.groups}
        if self.dependencies is not None:
            out["project-dependencies"] = each(self.dependencies)
        if self.extras:
            out["project-extras"] = {name: each(reqs) for name, reqs in self.extras}
        return out


def changes(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> list[str]:
    """What changed between two recorded ``project`` inputs, as a person would say it."""
    old, new = old or {}, new or {}
    where = str(new.get("pyproject") or old.get("pyproject") or "pyproject.toml")
    if old.get("pyproject") and new.get("pyproject") and old["pyproject"] != new["pyproject"]:
        return [f"the project file changed from {old['pyproject']} to {new['pyproject']}"]
    out = []
    for key, noun in (("dependency-groups", "dependency group"), ("project-extras", "extra")):
        before, after = old.get(key) or {}, new.get(key) or {}
        for name in sorted(set(before) | set(after)):
            if before.get(name) != after.get(name):
                out.append(f"{noun} {name!r} of {where} changed")
    if old.get("project-dependencies") != new.get("project-dependencies"):
        out.append(f"the project dependencies of {where} changed")
    return out


_HEADER = re.compile(r"\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?")
_KEY = re.compile(r"""\s*(?:"([^"]+)"|'([^']+)'|([A-Za-z0-9_.-]+))\s*=""")


def _normal(text: str) -> str:
    return canonicalize_name(text.strip().strip("\"'"))


def find_line(text: str, table: str, key: str | None = None) -> int:
    current: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        header = _HEADER.fullmatch(line)
        if header is not None:
            current = ".".join(p.strip().strip("\"'") for p in header.group(1).split("."))
            if key is None and current == table:
                return number
            continue
        if key is not None and current == table:
            match = _KEY.match(line)
            if match is not None and _normal(next(g for g in match.groups() if g)) == _normal(key):
                return number
    return 0


def locate(folder: Path, project: str | None) -> Path:
    """The pyproject for a manifest in ``folder``: ``project`` (a folder or a file, relative
    to ``folder``) or ``folder/pyproject.toml``."""
    path = folder / project if project is not None else folder
    return path if path.suffix == ".toml" else path / "pyproject.toml"


def read(path: Path) -> Pyproject:
    """The pyproject at ``path``; PyprojectError (line 0, or the TOML error's) when it cannot
    be read."""
    try:
        data = path.read_bytes() if path.is_file() else None
    except OSError as exc:
        raise PyprojectError(0, f"cannot read {path}: {exc.strerror or exc}") from None
    if data is None:
        raise PyprojectError(0, f"no pyproject.toml at {path}")
    if len(data) > MAX_BYTES:
        raise PyprojectError(0, f"{path} is larger than 1 MiB")
    try:
        text = data.decode("utf-8")
        parsed = tomllib.loads(text)
    except UnicodeDecodeError as exc:
        raise PyprojectError(0, f"cannot read {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        line = int(getattr(exc, "lineno", 0) or 0)
        first = str(exc).splitlines()[0] if str(exc) else "malformed"
        raise PyprojectError(line, f"invalid TOML: {first}") from None
    return Pyproject(path, text, parsed)


def _first(exc: BaseException) -> BaseException:
    """The first leaf of an exception group (packaging collects its errors into groups)."""
    while True:
        inner = getattr(exc, "exceptions", None)
        if not inner:
            return exc
        exc = inner[0]


def groups(pyproject: Pyproject, names: Sequence[str]) -> dict[str, tuple[Requirement, ...]]:
    """Each named group expanded (``include-group`` followed). A group the pyproject lacks
    is a KeyError naming it (the manifest reports it at its own line); anything wrong in
    the groups is a PyprojectError at the line of the group it is in."""
    from packaging.dependency_groups import CyclicDependencyGroup, DependencyGroupResolver

    table = pyproject.data.get("dependency-groups")
    if table is None:
        table = {}
    if not isinstance(table, Mapping):
        raise PyprojectError(
            pyproject.line("dependency-groups"), "[dependency-groups] must be a table"
        )
    known = {canonicalize_name(str(n)) for n in table}
    missing = [n for n in names if canonicalize_name(n) not in known]
    if missing:
        raise KeyError(missing[0])
    try:
        resolver = DependencyGroupResolver(table)
    except Exception as exc:  # packaging reports duplicates as an exception group
        raise PyprojectError(pyproject.line("dependency-groups"), _say(_first(exc))) from None
    out: dict[str, tuple[Requirement, ...]] = {}
    for name in names:
        try:
            out[name] = resolver.resolve(name)
        except Exception as exc:  # an exception group of ValueError, TypeError, LookupError
            leaf = _first(exc)
            if isinstance(leaf, CyclicDependencyGroup):
                line = pyproject.line("dependency-groups", leaf.group)
                raise PyprojectError(
                    line,
                    f"dependency group {leaf.group!r} includes {leaf.include_group!r}, "
                    f"which includes it again (a cycle, reached from {name!r})",
                ) from None
            raise PyprojectError(
                _broken_group_line(pyproject, resolver, name),
                f"dependency group {name!r}: {_say(leaf)}",
            ) from None
        for req in out[name]:
            _no_url(req, pyproject.line("dependency-groups", name), f"dependency group {name!r}")
    return out


def _no_url(req: Requirement, line: int, where: str) -> None:
    """A pyproject's requirements come from an index: a direct URL or ``file:`` path is
    refused, as the manifest refuses one (a local requirement belongs in the manifest, where
    its files are tracked)."""
    if req.url:
        raise PyprojectError(
            line,
            f"{where}: {req.name} @ {req.url}: direct URL and path requirements are not "
            "supported here; name a local path in the manifest's from/with instead",
        )


def _broken_group_line(pyproject: Pyproject, resolver: Any, name: str) -> int:
    """The line of the first group reachable from ``name`` that cannot be read alone."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        group = canonicalize_name(todo.pop(0))
        if group in seen:
            continue
        seen.add(group)
        try:
            items = resolver.lookup(group)
        except Exception:
            return pyproject.line("dependency-groups", group)
        todo += [i.include_group for i in items if not isinstance(i, Requirement)]
    return pyproject.line("dependency-groups", name)


def _say(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 150 else text[:149] + "…"


def dependencies(
    pyproject: Pyproject, extras: Sequence[str]
) -> tuple[tuple[Requirement, ...], dict[str, tuple[Requirement, ...]]]:
    """``[project] dependencies`` and each named extra's requirements. Dynamic dependencies,
    an unknown extra or a bad requirement are PyprojectErrors at their line; an unknown extra
    is a KeyError naming it (reported at the manifest's line)."""
    project = pyproject.data.get("project")
    if not isinstance(project, Mapping):
        raise PyprojectError(0, f"{pyproject.path.name} has no [project] table")
    dynamic = project.get("dynamic") or []
    wanted = ["dependencies"] + (["optional-dependencies"] if extras else [])
    for field in wanted:
        if isinstance(dynamic, list) and field in dynamic:
            raise PyprojectError(
                pyproject.line("project", "dynamic"),
                f"the project's {field} are dynamic (computed by its build backend when it "
                "builds): toolcache cannot read them; list them in with: or a dependency group",
            )
    deps = _requirements(pyproject, project.get("dependencies", []), "project", "dependencies")
    optional = project.get("optional-dependencies", {})
    if not isinstance(optional, Mapping):
        raise PyprojectError(
            pyproject.line("project", "optional-dependencies"),
            "[project] optional-dependencies must be a table",
        )
    by_name = {canonicalize_name(str(k)): k for k in optional}
    out: dict[str, tuple[Requirement, ...]] = {}
    for extra in extras:
        key = by_name.get(canonicalize_name(extra))
        if key is None:
            raise KeyError(extra)
        out[extra] = _requirements(
            pyproject, optional[key], "project.optional-dependencies", str(key)
        )
    return deps, out


def _requirements(
    pyproject: Pyproject, value: object, table: str, key: str
) -> tuple[Requirement, ...]:
    line = pyproject.line(table, key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PyprojectError(line, f"{table} {key} must be a list of strings")
    out = []
    for text in value:
        try:
            out.append(Requirement(text))
        except InvalidRequirement as exc:
            raise PyprojectError(
                line, f"{key}: invalid requirement {text!r}: {_say(exc)}"
            ) from None
        _no_url(out[-1], line, key)
    return tuple(out)
