"""Turn resolvelib's failure data into text a person can act on.

``ResolutionImpossible.causes`` is a list of (requirement, parent) pairs. They are grouped by
project; each group becomes one line:

- ``no package named foo on the index`` when the finder knows no release of it;
- ``no version of foo satisfies foo>=99 (available: 1.0, 1.1)`` when one requirement alone
  matches nothing usable (with why the near misses were refused: yanked, Python, prerelease);
- ``black==24.8.0 depends on click>=8.0.0, which conflicts with the requirement click<8``
  when the requirements on a project exclude each other;

followed by one ``hint:`` line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from packaging.utils import NormalizedName
from packaging.version import Version

from toolcache.resolver.candidates import Candidate, ResolverRequirement
from toolcache.resolver.provider import Information, Provider

_MAX_LISTED_VERSIONS = 10
_MAX_LISTED_PARENTS = 3


@dataclass(frozen=True)
class _Entry:
    """One requirement text and everyone (or the user) who asked for it."""

    text: str
    parent_name: str | None  # identifier of the parents; None for a top-level requirement
    versions: tuple[Version, ...]

    def who(self) -> str:
        """Who asked: ``black==24.8.0``, ``a==1.0 and a==1.1``; "" for the user."""
        if self.parent_name is None:
            return ""
        parents = [f"{self.parent_name}=={v}" for v in self.versions]
        if len(parents) > _MAX_LISTED_PARENTS:
            first, last = self.versions[0], self.versions[-1]
            return f"{self.parent_name} {first} to {last} ({len(parents)} versions)"
        return _join(parents)

    def describe(self) -> str:
        if self.parent_name is None:
            return f"the requirement {self.text}"
        verb = "depends" if len(self.versions) == 1 else "depend"
        return f"{self.who()} {verb} on {self.text}"


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def _entries(infos: Iterable[Information]) -> list[_Entry]:
    by_key: dict[tuple[str, str | None], set[Version]] = {}
    for info in infos:
        parent: Candidate | None = info.parent
        key = (str(info.requirement), parent.identifier if parent else None)
        versions = by_key.setdefault(key, set())
        if parent is not None:
            versions.add(parent.version)
    entries = [
        _Entry(text, parent_name, tuple(sorted(versions)))
        for (text, parent_name), versions in by_key.items()
    ]
    # Who depends on it first, then the user's own requirements.
    entries.sort(key=lambda e: (e.parent_name is None, e.parent_name or "", e.versions, e.text))
    return entries


def _format_versions(versions: list[Version]) -> str:
    shown = [str(v) for v in versions[-_MAX_LISTED_VERSIONS:]]
    hidden = len(versions) - len(shown)
    return f"{hidden} older, {', '.join(shown)}" if hidden else ", ".join(shown)


def _no_version_line(
    name: NormalizedName, entry: _Entry, requirements: list[ResolverRequirement], provider: Provider
) -> str:
    files = provider.files(name)
    line = f"no version of {name} satisfies {entry.text}"
    if entry.parent_name is not None:
        line += f", required by {entry.who()}"
    prereleases = provider.allows_prereleases(name, requirements)
    notes: list[str] = []
    for file in sorted(files, key=lambda f: f.version):
        reason = provider.rejection(file, requirements, prereleases)
        if reason is None:
            reason = provider.python_mismatch(file)
        if reason is not None and reason != "does not match":
            notes.append(f"{file.version} {reason}")
    available = _format_versions(sorted(f.version for f in files))
    detail = "; ".join([f"available: {available}", *notes])
    return f"{line} ({detail})"


def explain_impossible(causes: Iterable[Information], provider: Provider) -> tuple[str, str]:
    """The cause lines (one per project involved) and the hint line for a failed resolution."""
    groups: dict[NormalizedName, list[Information]] = {}
    for info in causes:
        groups.setdefault(info.requirement.name, []).append(info)

    lines: list[str] = []
    kinds: set[str] = set()
    for name in sorted(groups):
        infos = groups[name]
        requirements = [info.requirement for info in infos]
        entries = _entries(infos)
        if not provider.files(name):
            lines.append(f"no package named {name} on the index")
            kinds.add("missing")
            continue
        prereleases = provider.allows_prereleases(name, requirements)
        viable = next(iter(provider.viable_files(name, requirements, prereleases)), None)
        if len(entries) == 1 and viable is None:
            lines.append(_no_version_line(name, entries[0], requirements, provider))
            kinds.add("no-version")
        elif viable is None:
            first, *rest = entries
            others = _join([e.describe() for e in rest])
            lines.append(f"{first.describe()}, which conflicts with {others}")
            kinds.add("conflict")
        else:
            asked = _join([e.describe() for e in entries])
            lines.append(
                f"{asked}; every version of {name} that fits conflicts with other requirements"
            )
            kinds.add("conflict")

    if "missing" in kinds:
        hint = "hint: check the spelling of the package name and the index URL"
    elif "no-version" in kinds:
        python = provider.target.python_full_version
        hint = (
            "hint: check the version constraints, the index settings (exclude-newer) "
            f"and the target Python ({python})"
        )
    else:
        hint = (
            "hint: loosen one of these requirements, or pin other versions of the packages "
            "that declare them"
        )
    return "\n".join(lines), hint


def format_impossible(causes: Iterable[Information], provider: Provider) -> str:
    """The full message: cause lines, then the hint."""
    lines, hint = explain_impossible(causes, provider)
    return f"{lines}\n{hint}" if lines else f"no set of versions satisfies the requirements\n{hint}"


def format_too_deep(rounds: int) -> str:
    """The message for a resolution that hit its round limit."""
    return (
        f"resolution gave up after {rounds} rounds without settling on a set of versions\n"
        "hint: pin some requirements more tightly (name==version) to narrow the search"
    )
