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
    run: ruff check            # the command (default: the script named like `from`)
    python: ">=3.10"           # a version request or a path
    environments:              # overrides the top-level keys it names, one by one
      platforms: [x86_64-manylinux_2_28]   # python: still the top-level list
```

Parsing walks PyYAML's node graph rather than loaded values so that every problem names
``file:line``, scalars keep their source text (``python: 3.10`` stays "3.10"), and duplicate
keys are caught. All problems are collected and raised together as one ``ManifestError``.
"""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from toolcache.errors import ManifestError, Problem, ToolcacheError

TOP_KEYS = (
    "python",
    "index-url",
    "extra-index-urls",
    "find-links",
    "exclude-newer",
    "environments",
    "tools",
)
TOOL_KEYS = ("from", "with", "run", "python", "environments")
ENVIRONMENT_KEYS = ("python", "platforms")
TOOL_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
#: The oldest Python minor toolcache manages (the probe refuses older interpreters).
_OLDEST_MINOR = 8


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

    @property
    def requirements(self) -> tuple[Requirement, ...]:
        return (self.requirement, *self.with_)


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
            Problem(str(self.path), 0, f"no tool named {n!r}{_suggest(n, list(self.tools))}")
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
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError([Problem(shown, 0, "manifest not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError([Problem(shown, 0, f"cannot read manifest: {exc}")]) from None
    return parse(text, path)


def parse(text: str, path: Path) -> Manifest:
    parser = _Parser(str(path))
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else 0
        raise ManifestError([Problem(str(path), line, f"invalid YAML: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise ManifestError([Problem(str(path), 0, f"invalid YAML: {exc}")]) from None
    manifest = parser.manifest(root, path)
    if parser.problems:
        raise ManifestError(sorted(parser.problems, key=lambda p: p.line))
    assert manifest is not None
    return manifest


def _suggest(word: str, options: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, options, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


class _Parser:
    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Problem] = []

    def problem(self, node: yaml.Node | None, message: str) -> None:
        self.problems.append(Problem(self.path, _line(node) if node is not None else 0, message))

    def mapping(
        self, node: yaml.Node, what: str, keys: tuple[str, ...] | None
    ) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """Key → (key node, value node); reports non-mappings, duplicates and unknown keys."""
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, f"{what} must be a mapping")
            return {}
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.problem(key_node, f"{what} keys must be strings")
                continue
            key = str(key_node.value)
            if key in out:
                self.problem(key_node, f"duplicate key {key!r} in {what}")
                continue
            if keys is not None and key not in keys:
                expected = ", ".join(keys)
                hint = _suggest(key, keys) or f" (expected one of: {expected})"
                self.problem(key_node, f"unknown key {key!r} in {what}{hint}")
                continue
            out[key] = (key_node, value_node)
        return out

    def string(self, node: yaml.Node, what: str) -> str | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag == "tag:yaml.org,2002:null":
            self.problem(node, f"{what} must be a string")
            return None
        value = str(node.value).strip()
        if not value:
            self.problem(node, f"{what} must not be empty")
            return None
        return value

    def strings(self, node: yaml.Node, what: str) -> list[tuple[str, yaml.Node]]:
        if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:str":
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
        try:
            req = Requirement(text)
        except InvalidRequirement as exc:
            detail = str(exc).splitlines()[0]
            self.problem(node, f"{what}: invalid requirement {text!r}: {detail}")
            return None
        if req.url:
            self.problem(node, f"{what}: direct URL requirements are not supported: {text!r}")
            return None
        return req

    def python_request(self, node: yaml.Node, what: str) -> str | None:
        value = self.string(node, what)
        if value is not None and not re.match(r"^[\w.@<>=!~,* /\\:+-]+$", value):
            self.problem(node, f"{what}: {value!r} is not a version request or a path")
            return None
        return value

    def timestamp(self, node: yaml.Node) -> datetime | None:
        value = self.string(node, "exclude-newer")
        if value is None:
            return None
        parsed = parse_timestamp(value)
        if parsed is None:
            self.problem(
                node,
                f"exclude-newer: {value!r} is not a date or an RFC 3339 timestamp "
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
            if isinstance(root, yaml.MappingNode):
                self.problem(root, "missing 'tools:' mapping of tool names to requirements")
        else:
            tools_node = top["tools"][1]
            entries = self.mapping(tools_node, "tools", None)
            if isinstance(tools_node, yaml.MappingNode) and not tools_node.value:
                self.problem(tools_node, "'tools' is empty: name at least one tool")
            for name, (key_node, value_node) in entries.items():
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
        where = f"tool {name!r}"
        ok = True
        if not TOOL_NAME.match(name):
            self.problem(key_node, f"{where}: names may use letters, digits, '.', '_' and '-'")
            ok = False
        if isinstance(node, yaml.ScalarNode) and node.tag != "tag:yaml.org,2002:null":
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
        fields = self.mapping(node, where, TOOL_KEYS)
        if not isinstance(node, yaml.MappingNode):
            return None
        req = None
        if "from" not in fields:
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
        )

    def environments(self, key_node: yaml.Node, node: yaml.Node, what: str) -> Environments | None:
        """An ``environments:`` mapping, or None (with problems reported) when it is wrong."""
        fields = self.mapping(node, what, ENVIRONMENT_KEYS)
        if not isinstance(node, yaml.MappingNode):
            return None
        before = len(self.problems)
        if not node.value:
            self.problem(node, f"{what} is empty: give 'python', 'platforms' or both")
        python = None
        if "python" in fields:
            python = self.entries(fields["python"][1], f"{what}: python", "Python version")
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

    def entries(self, node: yaml.Node, what: str, noun: str) -> list[tuple[str, yaml.Node]]:
        """A list of scalars or one scalar, each kept as its source text (``3.10``, not 3.1)."""
        if isinstance(node, yaml.SequenceNode):
            if not node.value:
                self.problem(node, f"{what} must name at least one {noun}")
            items = node.value
            each = f"each entry of {what}"
        elif isinstance(node, yaml.ScalarNode) and node.tag != "tag:yaml.org,2002:null":
            items, each = [node], what
        else:
            self.problem(node, f"{what} must be a list of strings")
            return []
        out = []
        for item in items:
            value = self.string(item, each)
            if value is not None:
                out.append((value, item))
        return out

    def python_minors(
        self, entries: list[tuple[str, yaml.Node]], what: str
    ) -> list[tuple[str, yaml.Node]]:
        """Entries normalised to ``3.12`` (CPython) or ``pypy3.10``; wrong ones are reported."""
        from toolcache.lockfile.targets import parse_python, python_text

        out: list[tuple[str, yaml.Node]] = []
        seen: dict[str, str] = {}
        for text, node in entries:
            try:
                implementation, python = parse_python(text)
            except ToolcacheError:
                self.problem(node, f"{what}: {text!r} is not a minor version like 3.12 or pypy3.10")
                continue
            version = python_text(implementation, python)
            if python < (3, _OLDEST_MINOR):
                self.problem(
                    node,
                    f"{what}: {text!r} is older than 3.{_OLDEST_MINOR}, the oldest "
                    "Python toolcache manages",
                )
            elif version in seen:
                self.problem(node, f"{what}: {text!r} is listed twice (first as {seen[version]!r})")
            else:
                seen[version] = text
                out.append((version, node))
        return out

    def platforms(
        self, entries: list[tuple[str, yaml.Node]], what: str
    ) -> list[tuple[str, yaml.Node]]:
        """Entries stripped and lower-cased; each must be a platform ``target_for`` accepts."""
        from toolcache.lockfile.targets import canonical_platform

        out: list[tuple[str, yaml.Node]] = []
        seen: dict[str, str] = {}
        for text, node in entries:
            try:
                platform = canonical_platform(text)
            except ToolcacheError as exc:
                self.problem(node, f"{what}: {exc}")
                continue
            if platform in seen:
                self.problem(
                    node, f"{what}: {text!r} is listed twice (first as {seen[platform]!r})"
                )
            else:
                seen[platform] = text
                out.append((platform, node))
        return out

    def command(self, node: yaml.Node, what: str) -> tuple[str, ...] | None:
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
                self.problem(node, f"{what}: cannot split command {text!r}: {exc}")
                return None
        if not argv:
            self.problem(node, f"{what} must name a command")
            return None
        return tuple(argv)


def default_run(req: Requirement) -> tuple[str, ...]:
    """The console script named like the package, as ``uvx`` and ``pipx run`` assume."""
    return (canonicalize_name(req.name),)


def parse_timestamp(value: str) -> datetime | None:
    """An RFC 3339 timestamp or a plain date (midnight UTC), as a timezone-aware datetime."""
    text = value.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        text += "T00:00:00+00:00"
    text = re.sub(r"[zZ]$", "+00:00", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def format_timestamp(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
