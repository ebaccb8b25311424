"""The manifest, ``tools.yaml``: named tools, each a requirement to run.

```yaml
python: "3.12"                 # optional default interpreter request
index-url: https://pypi.org/simple
extra-index-urls: []
find-links: []
exclude-newer: 2026-11-01T00:00:00Z
environments:                  # optional: the Pythons and machines the tools must run on
  python: ["3.11", "3.12", "pypy3.10"]   # minor versions; cp3.12/cpython3.12, pp3.10 also work
  platforms: [x86_64-manylinux_2_28, aarch64-apple-darwin, x86_64-pc-windows-msvc]
tools:
  lint:
    from: ruff==0.8.0          # PEP 508 requirement
    with: []                   # more requirements installed beside it
    with-groups: [typing]      # PEP 735 groups of the project's pyproject (toolcache.project)
    with-project: true         # its [project] dependencies; or a list of extras
    project: .                 # where that pyproject is (default: the manifest's folder)
    env: {MYPYPATH: src}       # set when the tool runs (not PATH, VIRTUAL_ENV, PYTHONHOME)
    run: ruff check            # the command (default: the script named like `from`)
    python: ">=3.10"           # a version request or a path
    environments:              # overrides the top-level keys it names, one by one
      platforms: [x86_64-manylinux_2_28]   # python: still the top-level list
```

Parsing walks PyYAML's node graph rather than loaded values so that every problem names
``file:line``, scalars keep their source text (``python: 3.10`` stays "3.10"), and duplicate
keys are caught. All problems are collected and raised together as one ``ManifestError``.

Hostile or mistaken input gets the same treatment, never an exception: a manifest over 1 MiB
or not a regular file is refused unread; YAML nested deeper than 50 levels stops composing;
aliases, anchors and explicit tags are refused; booleans, numbers and nulls are refused where a
string belongs (numbers are Python requests: ``python: 3.12``); user text quoted in a message
is clipped, so every problem is one short line.
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from toolcache.errors import ManifestError, Problem, ToolcacheError
from toolcache.paths import relative_posix
from toolcache.project import ProjectInputs

TOP_KEYS = (
    "python",
    "index-url",
    "extra-index-urls",
    "find-links",
    "exclude-newer",
    "environments",
    "tools",
)
TOOL_KEYS = (
    "from",
    "with",
    "with-groups",
    "with-project",
    "project",
    "env",
    "run",
    "python",
    "environments",
)
#: Variables toolcache sets itself when it starts a tool: a tool's ``env:`` cannot set them.
OWNED_ENV = ("PATH", "VIRTUAL_ENV", "PYTHONHOME")
#: An environment variable's name in ``env:``, matched whole.
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ENVIRONMENT_KEYS = ("python", "platforms")
#: A tool name, matched whole (``fullmatch``): it names lock files and environments.
TOOL_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
MAX_NAME = 64
#: A larger manifest is refused unread: real ones are a few kilobytes.
MAX_BYTES = 2**20
#: Deeper YAML is refused while it is composed, long before Python's recursion limit (a real
#: manifest nests four levels: tools, a tool, its environments, their list).
MAX_DEPTH = 50
#: The oldest Python minor toolcache manages (the probe refuses older interpreters).
_OLDEST_MINOR = 8
#: User text quoted in a message shows at most this many characters (then "…" and its length).
_SHOWN = 50
_REQUEST_FORMS = (
    "a version (3.12), a specifier (>=3.11), an implementation (cpython3.12, pypy3.10) or a path"
)

_YAML = "tag:yaml.org,2002:"
_STR, _NULL, _INT, _FLOAT = (_YAML + kind for kind in ("str", "null", "int", "float"))
_TIMESTAMP, _MERGE = _YAML + "timestamp", _YAML + "merge"
#: Scalars that are strings: the plain ``=`` resolves to ``!!value`` but is just the text.
_STRINGS = frozenset({_STR, _YAML + "value"})
_NUMBERS = frozenset({_INT, _FLOAT})
_KINDS = {
    _YAML + "bool": "a boolean",
    _INT: "a number",
    _FLOAT: "a number",
    _TIMESTAMP: "a date",
    _MERGE: "a YAML merge key",
}
#: The tag of a node the composer refused (an alias, a tagged node): reported once, by the
#: composer; the parser skips it without a second problem.
_REFUSED = "tag:toolcache,2026:refused"


@dataclass(frozen=True)
class Environments:
    """Where a tool must run: Python minor versions and platforms, in the user's order.

    ``python`` holds ``"3.12"`` for CPython and ``"pypy3.10"`` for PyPy (``cp3.12``,
    ``cpython3.12``, ``pp3.10`` and any letter case are accepted in the manifest);
    ``platforms`` holds the platform strings stripped and lower-cased, each one
    ``toolcache.platforms`` accepts. ``None`` means the key was not given. Neither tuple has
    duplicates. ``line`` is the line of the ``environments:`` key.
    """

    python: tuple[str, ...] | None
    platforms: tuple[str, ...] | None
    line: int

    def over(self, default: Environments | None) -> Environments:
        """These keys, each one not given here taken from ``default`` (the top level)."""
        if default is None:
            return self
        return Environments(
            python=self.python if self.python is not None else default.python,
            platforms=self.platforms if self.platforms is not None else default.platforms,
            line=self.line,
        )


@dataclass(frozen=True)
class Tool:
    """One named tool. ``run`` is the command as argv; ``python`` the effective request."""

    name: str
    requirement: Requirement
    with_: tuple[Requirement, ...]
    run: tuple[str, ...]
    python: str | None
    line: int
    environments: Environments | None = None
    #: What ``with-groups`` and ``with-project`` took from the project's pyproject.
    project: ProjectInputs | None = None
    #: ``env:``: (name, value) in the manifest's order, set when the tool runs.
    env: tuple[tuple[str, str], ...] = ()

    @property
    def manifest_requirements(self) -> tuple[Requirement, ...]:
        """``from`` and ``with``: what the manifest itself names."""
        return (self.requirement, *self.with_)

    @property
    def requirements(self) -> tuple[Requirement, ...]:
        """Everything resolved together: the manifest's and the project's requirements."""
        extra = self.project.requirements if self.project is not None else ()
        return (self.requirement, *self.with_, *extra)


@dataclass(frozen=True)
class Manifest:
    path: Path
    tools: Mapping[str, Tool]
    python: str | None = None
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    exclude_newer: datetime | None = None
    environments: Environments | None = None

    @property
    def lock_dir(self) -> Path:
        """Locks live beside the manifest: ``tools.yaml`` → ``tools.lock/pylock.<tool>.toml``."""
        return self.path.parent / f"{self.path.stem}.lock"

    def lock_path(self, tool: str) -> Path:
        return self.lock_dir / f"pylock.{tool}.toml"

    def select(self, names: list[str] | None) -> list[Tool]:
        """The tools named (all when ``names`` is empty), or a ManifestError for unknown ones."""
        if not names:
            return list(self.tools.values())
        problems = [
            Problem(str(self.path), 0, f"no tool named {_quote(n)}{_suggest(n, list(self.tools))}")
            for n in names
            if n not in self.tools
        ]
        if problems:
            raise ManifestError(problems)
        return [self.tools[n] for n in dict.fromkeys(names)]


def load(path: Path) -> Manifest:
    """Read and validate a manifest, raising one ManifestError with every problem found."""
    shown = str(path)
    try:
        data = _read(path)
    except FileNotFoundError:
        raise ManifestError([Problem(shown, 0, "manifest not found")]) from None
    except _Unreadable as exc:
        raise ManifestError([Problem(shown, 0, str(exc))]) from None
    except OSError as exc:
        raise ManifestError([Problem(shown, 0, f"cannot read manifest: {exc}")]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ManifestError([Problem(shown, line, f"cannot read manifest: {exc}")]) from None
    return parse(text, path)


class _Unreadable(Exception):
    """The manifest path is not something to read: the message says why."""


def _read(path: Path) -> bytes:
    """The file's bytes: at most ``MAX_BYTES``, and only from a regular file.

    A FIFO or a device is refused before it is opened (opening a FIFO waits for a writer;
    ``/dev/zero`` never ends), and the opened file is checked again, without blocking, in case
    the path was replaced in between.
    """
    if not stat.S_ISREG(path.stat().st_mode):
        raise _Unreadable("not a regular file")
    flags = os.O_RDONLY
    for name in ("O_BINARY", "O_NONBLOCK", "O_NOCTTY"):
        flags |= getattr(os, name, 0)
    too_large = _Unreadable("manifest is larger than 1 MiB")
    with os.fdopen(os.open(path, flags), "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise _Unreadable("not a regular file")
        if info.st_size > MAX_BYTES:
            raise too_large
        data = file.read(MAX_BYTES + 1)  # it may have grown since
    if len(data) > MAX_BYTES:
        raise too_large
    return data


def parse(text: str, path: Path) -> Manifest:
    shown = str(path)
    root, problems, fatal = _compose(text, shown)
    if fatal is not None:
        raise ManifestError(sorted([*problems, fatal], key=lambda p: p.line))
    parser = _Parser(shown)
    manifest = parser.manifest(root, path)
    problems += parser.problems
    if problems:
        raise ManifestError(sorted(problems, key=lambda p: p.line))
    assert manifest is not None
    return manifest


class _TooDeep(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


class _Loader(yaml.SafeLoader):
    """PyYAML's safe composer, refusing what a manifest has no use for as it composes.

    Aliases and anchors (which let a few lines expand to billions of nodes) and explicit tags
    are recorded in ``refusals`` as (line, message); an alias becomes, and a tagged node is
    marked, a ``_REFUSED`` node. A collection nested deeper than ``MAX_DEPTH`` raises
    ``_TooDeep``: composing recurses, and would otherwise hit Python's recursion limit.
    """

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.refusals: list[tuple[int, str]] = []
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event: yaml.NodeEvent = self.peek_event()  # type: ignore[no-untyped-call]
        marks: Any = (event.start_mark, event.end_mark)
        line = int(marks[0].line) + 1
        if isinstance(event, yaml.AliasEvent):
            self.get_event()  # type: ignore[no-untyped-call]
            anchor = _bare(event.anchor or "")
            self.refusals.append((line, f"YAML aliases are not supported (*{anchor})"))
            return yaml.ScalarNode(_REFUSED, "", *marks)
        if event.anchor is not None:
            self.refusals.append((line, f"YAML anchors are not supported (&{_bare(event.anchor)})"))
            event.anchor = None  # not remembered: any alias to it is refused anyway
        tag = getattr(event, "tag", None)
        nested = isinstance(event, yaml.CollectionStartEvent)
        if nested:
            if self.depth >= MAX_DEPTH:
                raise _TooDeep(line)
            self.depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            if nested:
                self.depth -= 1
        if tag is not None and node is not None:
            self.refusals.append((line, f"unsupported YAML tag {_shown_tag(tag)}"))
            node.tag = _REFUSED
        return node


def _compose(text: str, shown: str) -> tuple[yaml.Node | None, list[Problem], Problem | None]:
    """The node graph (``None`` for an empty document), the refusals, and the problem that
    stopped composing if one did (then the graph is ``None`` too)."""
    loader: _Loader | None = None
    root: yaml.Node | None = None
    fatal: Problem | None = None
    try:
        loader = _Loader(text)  # the reader checks every character here
        root = loader.get_single_node()
    except _TooDeep as exc:
        fatal = Problem(shown, exc.line, f"nested too deeply (more than {MAX_DEPTH} levels)")
    except RecursionError:  # a safety net: MAX_DEPTH stops composing well before
        fatal = Problem(shown, 0, "nested too deeply")
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = int(mark.line) + 1 if mark is not None else 0
        detail = _one_line(str(exc.problem or exc.context or "malformed"))
        fatal = Problem(shown, line, f"invalid YAML: {detail}")
    except yaml.reader.ReaderError as exc:
        line = len(_LINE_BREAK.findall(text, 0, exc.position)) + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        fatal = Problem(shown, line, f"invalid YAML: special character #x{code:04x} is not allowed")
    except yaml.YAMLError as exc:
        fatal = Problem(shown, 0, f"invalid YAML: {_one_line(str(exc))}")
    finally:
        if loader is not None:
            loader.dispose()
    refusals = [Problem(shown, *r) for r in loader.refusals] if loader is not None else []
    return root, refusals, fatal


#: Line breaks as YAML counts them (``Mark.line``).
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def _quote(text: str) -> str:
    """``repr(text)``; a long one clipped to ``_SHOWN`` characters, followed by its length."""
    shown = repr(text)
    if len(shown) <= _SHOWN + 2:
        return shown
    keep = text[:_SHOWN]
    while len(repr(keep + "…")) > _SHOWN + 2:
        keep = keep[:-1]
    return f"{keep + '…'!r} ({len(text)} characters)"


def _bare(text: str) -> str:
    """A tag or an anchor name as written, unless it is long or odd: then quoted and clipped."""
    return text if len(text) <= _SHOWN and text.isprintable() and " " not in text else _quote(text)


def _shown_tag(tag: str) -> str:
    if tag.startswith(_YAML):
        return _bare("!!" + tag[len(_YAML) :])
    return _bare(tag if tag.startswith("!") else f"!<{tag}>")


def _one_line(text: str) -> str:
    """A library's message as one line of at most 150 characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= 150 else flat[:149] + "…"


def _refused(node: yaml.Node) -> bool:
    return node.tag == _REFUSED


def _kind(node: yaml.Node) -> str | None:
    """What YAML made of a scalar that is not a string (``None`` for a string or a null)."""
    if node.tag in _STRINGS or node.tag == _NULL:
        return None
    return _KINDS.get(node.tag, f"a {node.tag}")


def _suggest(word: str, options: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word[:100], options, n=1)
    return f" (did you mean {_quote(close[0])}?)" if close else ""


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


class _Parser:
    """Walks the node graph, recording a problem per mistake; refused nodes are skipped."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Problem] = []

    def problem(self, node: yaml.Node | None, message: str) -> None:
        self.problems.append(Problem(self.path, _line(node) if node is not None else 0, message))

    def mapping(
        self, node: yaml.Node, what: str, keys: tuple[str, ...] | None
    ) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """Key → (key node, value node); reports non-mappings, duplicates and unknown keys."""
        if _refused(node):
            return {}
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, f"{what} must be a mapping")
            return {}
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            if _refused(key_node):
                continue
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _NULL:
                self.problem(key_node, f"{what} keys must be strings")
                continue
            if key_node.tag == _MERGE:
                self.problem(key_node, "YAML merge keys (<<) are not supported")
                continue
            kind = _kind(key_node)
            if kind is not None:
                self.problem(key_node, f"{what} keys must be strings, not {kind} (quote it)")
                continue
            key = str(key_node.value)
            if key in out:
                self.problem(key_node, f"duplicate key {_quote(key)} in {what}")
                continue
            if keys is not None and key not in keys:
                expected = ", ".join(keys)
                hint = _suggest(key, keys) or f" (expected one of: {expected})"
                self.problem(key_node, f"unknown key {_quote(key)} in {what}{hint}")
                continue
            out[key] = (key_node, value_node)
        return out

    def string(self, node: yaml.Node, what: str, allow: frozenset[str] = frozenset()) -> str | None:
        """A scalar's text, stripped. ``allow``: tags accepted besides strings (numbers)."""
        if _refused(node):
            return None
        if not isinstance(node, yaml.ScalarNode) or node.tag == _NULL:
            self.problem(node, f"{what} must be a string")
            return None
        kind = _kind(node)
        if kind is not None and node.tag not in allow:
            self.problem(node, f"{what} must be a string, not {kind} (quote it)")
            return None
        value = str(node.value).strip()
        if not value:
            self.problem(node, f"{what} must not be empty")
            return None
        return value

    def strings(self, node: yaml.Node, what: str) -> list[tuple[str, yaml.Node]]:
        if _refused(node):
            return []
        if isinstance(node, yaml.ScalarNode) and node.tag in _STRINGS:
            value = self.string(node, what)
            return [(value, node)] if value is not None else []
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, f"{what} must be a list of strings")
            return []
        out = []
        for item in node.value:
            value = self.string(item, f"each entry of {what}")
            if value is not None:
                out.append((value, item))
        return out

    def requirement(self, text: str, node: yaml.Node, what: str) -> Requirement | None:
        local = self.local_path(text)
        if local is not None:
            if not local.exists():
                self.problem(node, f"{what}: local path {_quote(text)} does not exist ({local})")
                return None
            return self.local_requirement(text, local.resolve(), node, what)
        req = self.parsed(text, node, what)
        if req is None:
            return None
        if req.url:
            self.problem(node, f"{what}: direct URL requirements are not supported: {_quote(text)}")
            return None
        return req

    def parsed(self, text: str, node: yaml.Node, what: str) -> Requirement | None:
        """``text`` as a requirement, or None with the problem reported at ``node``."""
        try:
            return Requirement(text)
        except InvalidRequirement as exc:
            detail = _one_line(str(exc).splitlines()[0])
            self.problem(node, f"{what}: invalid requirement {_quote(text)}: {detail}")
            return None

    def local_requirement(
        self, text: str, local: Path, node: yaml.Node, what: str
    ) -> Requirement | None:
        """A project folder or a wheel file as ``name[extras] @ file:///abs; marker``: the name
        is the one written before ``@``, else the wheel's or the pyproject's ``[project] name``
        (see ``toolcache.local``)."""
        from packaging.utils import InvalidWheelFilename, parse_wheel_filename

        from toolcache.local import project_name

        given, extras, marker = None, "", ""
        if "@" in text:
            written = self.parsed(text, node, what)
            if written is None:
                return None
            given = written.name
            extras = f"[{','.join(sorted(written.extras))}]" if written.extras else ""
            marker = f"; {written.marker}" if written.marker is not None else ""
        if local.is_dir():
            if not (local / "pyproject.toml").is_file() and not (local / "setup.py").is_file():
                self.problem(
                    node, f"{what}: {_quote(text)} is a folder without pyproject.toml or setup.py"
                )
                return None
            name = given or project_name(local)
            if name is None:
                self.problem(
                    node,
                    f"{what}: cannot tell the project name of {_quote(text)}: give it a "
                    "[project] name in pyproject.toml or write it as 'name @ file:PATH'",
                )
                return None
        elif local.name.endswith(".whl"):
            try:
                name = parse_wheel_filename(local.name)[0]
            except InvalidWheelFilename:
                self.problem(node, f"{what}: {_quote(local.name)} is not a valid wheel file name")
                return None
            if given is not None and canonicalize_name(given) != name:
                self.problem(node, f"{what}: {_quote(local.name)} is not a wheel of {given}")
                return None
        else:
            self.problem(node, f"{what}: {_quote(text)} is neither a project folder nor a wheel")
            return None
        try:
            return Requirement(f"{name}{extras} @ {local.as_uri()}{marker}")
        except InvalidRequirement as exc:
            detail = _one_line(str(exc).splitlines()[0])
            self.problem(node, f"{what}: invalid requirement {_quote(text)}: {detail}")
            return None

    def local_path(self, text: str) -> Path | None:
        """Where a local requirement points (``./plugin``, ``../x.whl``, ``name @ file://...``),
        relative to the manifest's folder; None for anything else."""
        if "@" in text and "file:" in text:
            from toolcache.local import local_path

            try:
                found = local_path(Requirement(text))
            except InvalidRequirement:
                return None  # reported as an invalid requirement
            return None if found is None else Path(self.path).parent / found
        if (
            text.startswith(("./", "../", "/", ".\\", "..\\"))
            or text in (".", "..")
            or (text.endswith(".whl") and " " not in text)
        ):
            return Path(self.path).parent / text
        return None

    def python_request(self, node: yaml.Node, what: str) -> str | None:
        """A request discovery can read, checked here so that a wrong one has a line.

        Numbers are requests (``python: 3.12``, the source text kept); booleans are not.
        """
        from toolcache.discovery import parse_request

        value = self.string(node, what, allow=_NUMBERS)
        if value is None:
            return None
        try:
            request = parse_request(value)
            # Discovery compares versions with the request's specifier: one that packaging
            # cannot read (more digits than int() takes) fails there, so it fails here.
            request.plausible(request.implementation, (3, 12, 0))
        except RuntimeError:  # Path.expanduser: `~name/...` for a user this machine lacks
            user = re.split(r"[\\/]", value[1:], maxsplit=1)[0]
            home = f"the home folder of user {_quote(user)}" if user else "the home folder"
            self.problem(
                node,
                f"{what}: {_quote(value)} is read as a path in {home}, which does not exist",
            )
            return None
        except (ToolcacheError, ValueError):
            self.problem(
                node,
                f"{what}: {_quote(value)} is not a Python request: expected {_REQUEST_FORMS}",
            )
            return None
        return value

    def timestamp(self, node: yaml.Node) -> datetime | None:
        value = self.string(node, "exclude-newer", allow=frozenset({_TIMESTAMP, *_NUMBERS}))
        if value is None:
            return None
        parsed = parse_timestamp(value)
        if parsed is None:
            self.problem(
                node,
                f"exclude-newer: {_quote(value)} is not a date or an RFC 3339 timestamp "
                "(e.g. 2026-11-01 or 2026-11-01T00:00:00Z)",
            )
        return parsed

    def manifest(self, root: yaml.Node | None, path: Path) -> Manifest | None:
        if root is None:
            self.problem(None, "manifest is empty: expected a 'tools:' mapping")
            return None
        top = self.mapping(root, "the manifest", TOP_KEYS)
        python = None
        if "python" in top:
            python = self.python_request(top["python"][1], "python")
        index_url = self.string(top["index-url"][1], "index-url") if "index-url" in top else None
        extra = (
            [v for v, _ in self.strings(top["extra-index-urls"][1], "extra-index-urls")]
            if ("extra-index-urls" in top)
            else []
        )
        links = (
            [v for v, _ in self.strings(top["find-links"][1], "find-links")]
            if ("find-links" in top)
            else []
        )
        exclude_newer = self.timestamp(top["exclude-newer"][1]) if "exclude-newer" in top else None
        environments = None
        if "environments" in top:
            environments = self.environments(*top["environments"], "environments")
        tools: dict[str, Tool] = {}
        if "tools" not in top:
            if isinstance(root, yaml.MappingNode) and not _refused(root):
                self.problem(root, "missing 'tools:' mapping of tool names to requirements")
        else:
            tools_node = top["tools"][1]
            entries = self.mapping(tools_node, "tools", None)
            if isinstance(tools_node, yaml.MappingNode) and not tools_node.value:
                self.problem(tools_node, "'tools' is empty: name at least one tool")
            # Lock files are named after tools: `lint` and `Lint` would share one on macOS.
            folded: dict[str, str] = {}
            for name, (key_node, value_node) in entries.items():
                first = folded.setdefault(name.lower(), name)
                if first != name:
                    self.problem(
                        key_node,
                        f"tool {_quote(name)}: its lock file would be the lock file of "
                        f"{_quote(first)} on a case-insensitive file system (macOS, Windows): "
                        "rename one",
                    )
                tool = self.tool(name, key_node, value_node, python, environments)
                if tool is not None:
                    tools[name] = tool
        return Manifest(
            path=path,
            tools=tools,
            python=python,
            index_url=index_url,
            extra_index_urls=tuple(extra),
            find_links=tuple(links),
            exclude_newer=exclude_newer,
            environments=environments,
        )

    def tool(
        self,
        name: str,
        key_node: yaml.Node,
        node: yaml.Node,
        default_python: str | None,
        default_environments: Environments | None = None,
    ) -> Tool | None:
        where = f"tool {_quote(name)}"
        ok = True
        if len(name) > MAX_NAME:
            self.problem(key_node, f"{where}: names are at most {MAX_NAME} characters")
            ok = False
        elif not TOOL_NAME.fullmatch(name):
            self.problem(key_node, f"{where}: names may use letters, digits, '.', '_' and '-'")
            ok = False
        if _refused(node):
            return None
        if isinstance(node, yaml.ScalarNode) and node.tag != _NULL:
            # Shorthand: `lint: ruff==0.8.0`.
            text = self.string(node, f"{where} requirement")
            req = self.requirement(text, node, where) if text else None
            if req is None or not ok:
                return None
            return Tool(
                name=name,
                requirement=req,
                with_=(),
                run=default_run(req),
                python=default_python,
                line=_line(key_node),
                environments=default_environments,
            )
        if not isinstance(node, yaml.MappingNode):
            self.problem(
                node, f"{where} must be a requirement (lint: ruff==0.8.0) or a mapping with 'from'"
            )
            return None
        fields = self.mapping(node, where, TOOL_KEYS)
        req = None
        if "from" not in fields:
            if not any(_refused(k) and k.value == "from" for k, _ in node.value):  # reported
                self.problem(key_node, f"{where}: missing 'from' (the requirement to install)")
            ok = False
        else:
            text = self.string(fields["from"][1], f"{where}: 'from'")
            req = self.requirement(text, fields["from"][1], f"{where}: 'from'") if text else None
            ok = ok and req is not None
        with_reqs: list[Requirement] = []
        if "with" in fields:
            for text, item in self.strings(fields["with"][1], f"{where}: 'with'"):
                parsed = self.requirement(text, item, f"{where}: 'with'")
                if parsed is None:
                    ok = False
                else:
                    with_reqs.append(parsed)
        run: tuple[str, ...] | None = None
        if "run" in fields:
            run = self.command(fields["run"][1], f"{where}: 'run'")
            ok = ok and run is not None
        python = default_python
        if "python" in fields:
            python = self.python_request(fields["python"][1], f"{where}: 'python'")
            ok = ok and python is not None
        environments = default_environments
        if "environments" in fields:
            own = self.environments(*fields["environments"], f"{where}: environments")
            ok = ok and own is not None
            environments = own.over(default_environments) if own is not None else None
        before = len(self.problems)
        project = self.project(fields, where)
        env = self.env(fields["env"][1], f"{where}: 'env'") if "env" in fields else ()
        ok = ok and len(self.problems) == before
        if not ok or req is None:
            return None
        return Tool(
            name=name,
            requirement=req,
            with_=tuple(with_reqs),
            run=run or default_run(req),
            python=python,
            line=_line(key_node),
            environments=environments,
            project=project,
            env=env,
        )

    def project(
        self, fields: dict[str, tuple[yaml.Node, yaml.Node]], where: str
    ) -> ProjectInputs | None:
        """``with-groups`` and ``with-project`` read from the project's pyproject."""
        from toolcache import project as pyproject_

        groups: list[tuple[str, yaml.Node]] = []
        if "with-groups" in fields:
            what = f"{where}: 'with-groups'"
            groups = self.distinct(self.strings(fields["with-groups"][1], what), what, _name)
        extras: list[tuple[str, yaml.Node]] | None = None
        if "with-project" in fields:
            what = f"{where}: 'with-project'"
            extras = self.with_project(fields["with-project"][1], what)
            if extras is not None:
                extras = self.distinct(extras, what, _name)
        location = None
        if "project" in fields:
            location = self.string(fields["project"][1], f"{where}: 'project'")
        if not groups and extras is None:
            if "project" in fields:
                self.problem(
                    fields["project"][0],
                    f"{where}: 'project' is used only with 'with-groups' or 'with-project'",
                )
            return None
        asking = fields["with-groups" if groups else "with-project"][0]
        folder = Path(self.path).parent
        path = pyproject_.locate(folder, location)
        shown = str(path)
        recorded = relative_posix(path, folder)

        def report(exc: pyproject_.PyprojectError) -> None:
            """At the pyproject's line when it has one, else at the manifest's key."""
            if exc.line:
                self.problems.append(Problem(shown, exc.line, exc.message))
            else:
                self.problem(asking, f"{where}: {exc.message}")

        try:
            pyproject = pyproject_.read(path)
        except pyproject_.PyprojectError as exc:
            report(exc)
            return None
        found: dict[str, tuple[Requirement, ...]] = {}
        deps: tuple[Requirement, ...] | None = None
        by_extra: dict[str, tuple[Requirement, ...]] = {}
        stage = "groups"
        try:
            if groups:
                found = pyproject_.groups(pyproject, [g for g, _ in groups])
            stage = "extras"
            if extras is not None:
                deps, by_extra = pyproject_.dependencies(pyproject, [e for e, _ in extras])
        except KeyError as exc:
            missing = str(exc.args[0])
            if stage == "groups":
                node = next(n for g, n in groups if g == missing)
                known = [str(k) for k in pyproject.data.get("dependency-groups") or {}]
                self.problem(
                    node,
                    f"{where}: no dependency group {_quote(missing)} in {shown}"
                    f"{_suggest(missing, known)}",
                )
            else:
                node = next(n for e, n in extras or () if e == missing)
                table = (pyproject.data.get("project") or {}).get("optional-dependencies") or {}
                self.problem(
                    node,
                    f"{where}: no extra {_quote(missing)} in {shown}"
                    f"{_suggest(missing, [str(k) for k in table])}",
                )
            return None
        except pyproject_.PyprojectError as exc:
            report(exc)
            return None
        return ProjectInputs(
            shown=recorded,
            groups=tuple((g, found[g]) for g, _ in groups),
            dependencies=deps,
            extras=tuple((e, by_extra[e]) for e, _ in extras or ()),
            path=path,
        )

    def with_project(self, node: yaml.Node, what: str) -> list[tuple[str, yaml.Node]] | None:
        """``true`` → no extras, a list → those extras, ``false`` → None (not asked)."""
        if _refused(node):
            return None
        if isinstance(node, yaml.ScalarNode) and node.tag == _YAML + "bool":
            return [] if str(node.value).lower() in ("true", "yes", "on") else None
        if isinstance(node, yaml.SequenceNode):
            return self.strings(node, what)
        self.problem(node, f"{what} must be true or a list of the project's extras")
        return None

    def env(self, node: yaml.Node, what: str) -> tuple[tuple[str, str], ...]:
        """``env:``, a mapping of variable names to literal strings (numbers keep their text)."""
        out = []
        for name, (key_node, value_node) in self.mapping(node, what, None).items():
            if not ENV_NAME.fullmatch(name):
                self.problem(key_node, f"{what}: {_quote(name)} is not a variable name")
                continue
            if name.upper() in OWNED_ENV or name.upper().startswith("TOOLCACHE_"):
                self.problem(
                    key_node,
                    f"{what}: {name} is set by toolcache when it starts the tool "
                    f"(it cannot set {', '.join(OWNED_ENV)} or TOOLCACHE_*)",
                )
                continue
            value = self.string(value_node, f"{what}: {name}", allow=_NUMBERS)
            if value is not None:
                out.append((name, value))
        return tuple(out)

    def environments(self, key_node: yaml.Node, node: yaml.Node, what: str) -> Environments | None:
        """An ``environments:`` mapping, or None (with problems reported) when it is wrong."""
        fields = self.mapping(node, what, ENVIRONMENT_KEYS)
        if not isinstance(node, yaml.MappingNode) or _refused(node):
            return None
        before = len(self.problems)
        if not node.value:
            self.problem(node, f"{what} is empty: give 'python', 'platforms' or both")
        python = None
        if "python" in fields:
            python = self.entries(
                fields["python"][1], f"{what}: python", "Python version", allow=_NUMBERS
            )
            python = self.python_minors(python, f"{what}: python")
        platforms = None
        if "platforms" in fields:
            platforms = self.entries(fields["platforms"][1], f"{what}: platforms", "platform")
            platforms = self.platforms(platforms, f"{what}: platforms")
        if len(self.problems) > before:
            return None
        return Environments(
            python=tuple(v for v, _ in python) if python is not None else None,
            platforms=tuple(v for v, _ in platforms) if platforms is not None else None,
            line=_line(key_node),
        )

    def entries(
        self, node: yaml.Node, what: str, noun: str, allow: frozenset[str] = frozenset()
    ) -> list[tuple[str, yaml.Node]]:
        """A list of scalars or one scalar, each kept as its source text (``3.10``, not 3.1)."""
        if _refused(node):
            return []
        if isinstance(node, yaml.SequenceNode):
            if not node.value:
                self.problem(node, f"{what} must name at least one {noun}")
            items = node.value
            each = f"each entry of {what}"
        elif isinstance(node, yaml.ScalarNode) and node.tag != _NULL:
            items, each = [node], what
        else:
            self.problem(node, f"{what} must be a list of strings")
            return []
        out = []
        for item in items:
            value = self.string(item, each, allow)
            if value is not None:
                out.append((value, item))
        return out

    def distinct(
        self,
        entries: list[tuple[str, yaml.Node]],
        what: str,
        normalise: Callable[[str], str],
    ) -> list[tuple[str, yaml.Node]]:
        """Entries normalised; one ``normalise`` refuses (with the problem's text as a
        ``ValueError``), or that repeats an earlier one, is reported and left out."""
        out: list[tuple[str, yaml.Node]] = []
        seen: dict[str, str] = {}
        for text, node in entries:
            try:
                value = normalise(text)
            except ValueError as exc:
                self.problem(node, f"{what}: {exc}")
                continue
            if value in seen:
                self.problem(
                    node, f"{what}: {_quote(text)} is listed twice (first as {_quote(seen[value])})"
                )
            else:
                seen[value] = text
                out.append((value, node))
        return out

    def python_minors(
        self, entries: list[tuple[str, yaml.Node]], what: str
    ) -> list[tuple[str, yaml.Node]]:
        """Entries normalised to ``3.12`` (CPython) or ``pypy3.10``; wrong ones are reported."""
        from toolcache.lockfile.targets import parse_python, python_text

        def normalise(text: str) -> str:
            try:
                implementation, python = parse_python(text)
            except (ToolcacheError, ValueError):  # ValueError: more digits than int() reads
                raise ValueError(
                    f"{_quote(text)} is not a minor version like 3.12 or pypy3.10"
                ) from None
            if python < (3, _OLDEST_MINOR):
                raise ValueError(
                    f"{_quote(text)} is older than 3.{_OLDEST_MINOR}, the oldest "
                    "Python toolcache manages"
                )
            return python_text(implementation, python)

        return self.distinct(entries, what, normalise)

    def platforms(
        self, entries: list[tuple[str, yaml.Node]], what: str
    ) -> list[tuple[str, yaml.Node]]:
        """Entries in their canonical names; each must be a platform ``target_for`` accepts."""
        from toolcache.lockfile.targets import canonical_platform
        from toolcache.platforms import ACCEPTED_PLATFORMS

        def normalise(text: str) -> str:
            try:
                return canonical_platform(text)
            except (ToolcacheError, ValueError):  # ValueError: more digits than int() reads
                raise ValueError(
                    f"unknown platform {_quote(text)}: expected one of {ACCEPTED_PLATFORMS}"
                ) from None

        return self.distinct(entries, what, normalise)

    def command(self, node: yaml.Node, what: str) -> tuple[str, ...] | None:
        if _refused(node):
            return None
        if isinstance(node, yaml.SequenceNode):
            argv = [v for v, _ in self.strings(node, what)]
            if len(argv) != len(node.value):
                return None
        else:
            text = self.string(node, what)
            if text is None:
                return None
            try:
                argv = shlex.split(text)
            except ValueError as exc:
                self.problem(node, f"{what}: cannot split command {_quote(text)}: {exc}")
                return None
        if not argv:
            self.problem(node, f"{what} must name a command")
            return None
        return tuple(argv)


def default_run(req: Requirement) -> tuple[str, ...]:
    """The console script named like the package, as ``uvx`` and ``pipx run`` assume."""
    return (canonicalize_name(req.name),)


def _name(text: str) -> str:
    """A group's or an extra's name as PEP 735 and PEP 685 compare them."""
    return str(canonicalize_name(text))


def parse_timestamp(value: str) -> datetime | None:
    """An RFC 3339 timestamp or a plain date (midnight UTC), as a timezone-aware datetime."""
    text = value.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        text += "T00:00:00+00:00"
    text = re.sub(r"[zZ]$", "+00:00", text)
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return parsed.astimezone(timezone.utc)
    except (ValueError, OverflowError):  # OverflowError: 0001-01-01T00:00:00+01:00 in UTC
        return None


def format_timestamp(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
