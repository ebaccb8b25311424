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
    requirements: tuple[ResolverRequirement, ...]

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


def _join(items: list[str], word: str = "and") -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {word} {items[-1]}"


def _entries(infos: Iterable[Information]) -> list[_Entry]:
    versions: dict[tuple[str, str | None], set[Version]] = {}
    requirements: dict[tuple[str, str | None], list[ResolverRequirement]] = {}
    for info in infos:
        parent: Candidate | None = info.parent
        key = (str(info.requirement), parent.identifier if parent else None)
        versions.setdefault(key, set())
        requirements.setdefault(key, []).append(info.requirement)
        if parent is not None:
            versions[key].add(parent.version)
    entries = [
        _Entry(key[0], key[1], tuple(sorted(versions[key])), tuple(requirements[key]))
        for key in versions
    ]
    # Who depends on it first, then the user's own requirements.
    entries.sort(key=lambda e: (e.parent_name is None, e.parent_name or "", e.versions, e.text))
    return entries


def _format_versions(versions: list[Version]) -> str:
    shown = [str(v) for v in versions[-_MAX_LISTED_VERSIONS:]]
    hidden = len(versions) - len(shown)
    return f"{hidden} older, {', '.join(shown)}" if hidden else ", ".join(shown)


def _no_version_line(
    name: NormalizedName, entries: list[_Entry], prereleases: bool | None, provider: Provider
) -> str:
    """``no version of foo satisfies foo>=99 (available: 1.0, 1.1; 1.2 is yanked)``."""
    files = sorted(provider.files(name), key=lambda f: f.version)
    if len(entries) == 1:
        (entry,) = entries
        wanted = entry.text + (f", required by {entry.who()}" if entry.parent_name else "")
    else:
        wanted = _join(
            [f"{e.text} (required by {e.who() or 'you'})" for e in entries[:_MAX_LISTED_PARENTS]]
            + (
                [f"{len(entries) - _MAX_LISTED_PARENTS} more"]
                if len(entries) > _MAX_LISTED_PARENTS
                else []
            ),
            "or",
        )
    notes: dict[Version, str] = {}
    for entry in entries:
        for file in files:
            reason = provider.rejection(file, entry.requirements, prereleases)
            if reason is None:
                reason = provider.python_mismatch(file)
            if reason is not None and reason != "does not match":
                notes.setdefault(file.version, f"{file.version} {reason}")
    available = _format_versions([f.version for f in files])
    detail = "; ".join([f"available: {available}", *(notes[v] for v in sorted(notes))])
    return f"no version of {name} satisfies {wanted} ({detail})"


def _has_viable(
    provider: Provider,
    name: NormalizedName,
    requirements: Iterable[ResolverRequirement],
    prereleases: bool | None,
) -> bool:
    return (
        next(iter(provider.viable_files(name, list(requirements), prereleases)), None) is not None
    )


def explain_impossible(causes: Iterable[Information], provider: Provider) -> tuple[str, str]:
    """The cause lines (one per project involved) and the hint line for a failed resolution."""
    groups: dict[NormalizedName, list[Information]] = {}
    for info in causes:
        groups.setdefault(info.requirement.name, []).append(info)

    lines: list[str] = []
    kinds: set[str] = set()
    for name in sorted(groups):
        infos = groups[name]
        if not provider.files(name):
            lines.append(f"no package named {name} on the index")
            kinds.add("missing")
            continue
        entries = _entries(infos)
        prereleases = provider.allows_prereleases(name, [i.requirement for i in infos])
        unmet = [e for e in entries if not _has_viable(provider, name, e.requirements, prereleases)]
        if unmet:
            lines.append(_no_version_line(name, unmet, prereleases, provider))
            kinds.add("no-version")
            continue
        kinds.add("conflict")
        all_requirements = [r for e in entries for r in e.requirements]
        if len(entries) > 1 and not _has_viable(provider, name, all_requirements, prereleases):
            first, *rest = entries
            joint = ", which conflicts with" if first.parent_name else " conflicts with"
            lines.append(f"{first.describe()}{joint} {_join([e.describe() for e in rest])}")
        else:
            asked = _join([e.describe() for e in entries])
            lines.append(
                f"{asked}; every version of {name} that fits conflicts with other requirements"
            )

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
