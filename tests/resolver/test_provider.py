"""The provider's hooks on their own: identifiers, preference, narrowing, caching."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from resolvelib.structs import RequirementInformation

from tests.resolver.fakes import FakeFinder, Spec
from toolcache.resolver.candidates import (
    Candidate,
    ResolverRequirement,
    mentions_prerelease,
    pins_exactly,
    split_requirement,
)
from toolcache.resolver.provider import Information, Provider, split_identifier

PACKAGES: Spec = {
    "a": {"1.0": ["b"], "2.0": ["b", "c; extra == 'x'"]},
    "b": {"1.0": []},
    "c": {"1.0": []},
}


def provider(packages: Spec = PACKAGES) -> tuple[Provider, FakeFinder]:
    finder = FakeFinder(packages)
    return Provider(finder, finder.target, prereleases="if-necessary-or-explicit"), finder


def reqs(text: str) -> list[ResolverRequirement]:
    return list(split_requirement(Requirement(text)))


class InfoMap(Mapping[str, Iterator[Information]]):
    """Like resolvelib's mapping: every lookup gives a fresh iterator."""

    def __init__(self, entries: dict[str, list[tuple[ResolverRequirement, Candidate | None]]]):
        self._entries = {
            k: [RequirementInformation(r, p) for r, p in v] for k, v in entries.items()
        }

    def __getitem__(self, key: str) -> Iterator[Information]:
        return iter(self._entries[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


def test_identifiers_split_extras() -> None:
    assert [r.identifier for r in reqs("Black[Jupyter,d]>=24")] == [
        "black",
        "black[d]",
        "black[jupyter]",
    ]
    assert split_identifier("black[jupyter]") == ("black", "jupyter")
    assert split_identifier("black") == ("black", None)


def test_specifier_helpers() -> None:
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    assert pins_exactly(SpecifierSet("==1.0"), Version("1.0"))
    assert pins_exactly(SpecifierSet("===1.0"), Version("1.0"))
    assert not pins_exactly(SpecifierSet("==1.*"), Version("1.0"))
    assert not pins_exactly(SpecifierSet(">=1.0"), Version("1.0"))
    assert mentions_prerelease(SpecifierSet(">=1.0b1"))
    assert mentions_prerelease(SpecifierSet("==2.0.*,>=2.0rc1"))
    assert not mentions_prerelease(SpecifierSet("!=1.0b1"))
    assert not mentions_prerelease(SpecifierSet(">=1.0"))


def test_extra_candidate_depends_on_its_base_and_the_extra_only() -> None:
    p, finder = provider()
    (candidate,) = list(p.find_matches("a[x]", {"a[x]": iter(reqs("a[x]")[1:])}, {})())[:1]
    deps = [(d.identifier, str(d.specifier), d.internal) for d in p.get_dependencies(candidate)]
    assert deps == [("a", "==2.0", True), ("c", "", False)]
    assert finder.prefetched == ["c"]


def test_dependencies_are_cached() -> None:
    p, finder = provider()
    (candidate, _) = list(p.find_matches("a", {"a": iter(reqs("a"))}, {})())
    p.get_dependencies(candidate)
    p.get_dependencies(candidate)
    assert finder.metadata_calls.count((canonicalize_name("a"), candidate.version)) == 1
    assert finder.find_calls == ["a"]


def test_preference_pins_first_then_depth_then_name() -> None:
    p, _ = provider()
    (a2, _) = list(p.find_matches("a", {"a": iter(reqs("a"))}, {})())
    information = InfoMap(
        {
            "z": [(reqs("z==1")[0], None)],
            "b": [(reqs("b")[0], a2)],
            "a": [(reqs("a")[0], None)],
            "c": [(reqs("c<2")[0], a2)],
        }
    )

    def key(identifier: str) -> Any:
        return p.get_preference(identifier, {}, {}, information, [])

    assert sorted(["b", "c", "a", "z"], key=key) == ["z", "a", "c", "b"]


def test_narrowing_keeps_backtrack_causes() -> None:
    p, _ = provider()
    (a2, _) = list(p.find_matches("a", {"a": iter(reqs("a"))}, {})())
    cause: Information = RequirementInformation(reqs("b<1")[0], a2)
    narrowed = p.narrow_requirement_selection(["a", "b", "c"], {}, {}, {}, [cause])
    assert list(narrowed) == ["a", "b"]
    assert list(p.narrow_requirement_selection(["c"], {}, {}, {}, [cause])) == ["c"]
