"""Resolution rules, checked against the in-memory finder."""

from __future__ import annotations

import random

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.resolver.fakes import FakeFinder, Release, Spec, make_target
from toolcache.errors import ResolutionError
from toolcache.resolver.provider import PrereleasePolicy
from toolcache.resolver.reporter import Progress
from toolcache.resolver.resolve import Resolution, resolve
from toolcache.target import Target


def run(
    packages: Spec,
    *requirements: str,
    target: Target | None = None,
    prereleases: PrereleasePolicy = "if-necessary-or-explicit",
    max_rounds: int = 20000,
) -> Resolution:
    finder = FakeFinder(packages, target or make_target())
    return resolve(
        [Requirement(r) for r in requirements],
        finder,
        finder.target,
        prereleases=prereleases,
        max_rounds=max_rounds,
    )


def pins(resolution: Resolution) -> dict[str, str]:
    return {p.name: str(p.version) for p in resolution.packages}


def failure(
    packages: Spec,
    *requirements: str,
    target: Target | None = None,
    prereleases: PrereleasePolicy = "if-necessary-or-explicit",
    max_rounds: int = 20000,
) -> str:
    with pytest.raises(ResolutionError) as info:
        run(packages, *requirements, target=target, prereleases=prereleases, max_rounds=max_rounds)
    return str(info.value)


# --- basics -----------------------------------------------------------------------------------


def test_chain_picks_newest_versions() -> None:
    packages: Spec = {
        "a": {"1.0": ["b"], "2.0": ["b>=1.1"]},
        "b": {"1.0": [], "1.1": ["c<3"], "1.2": ["c<3"]},
        "c": {"2.0": [], "2.5": [], "3.0": []},
    }
    assert pins(run(packages, "a")) == {"a": "2.0", "b": "1.2", "c": "2.5"}


def test_packages_sorted_and_files_kept() -> None:
    resolution = run({"zed": {"1.0": ["Alpha"]}, "alpha": {"0.1": []}}, "zed")
    assert [p.name for p in resolution.packages] == ["alpha", "zed"]
    zed = resolution.packages[1]
    assert zed.file.filename == "zed-1.0-py3-none-any.whl"
    assert zed.requires_dist == (Requirement("Alpha"),)
    assert resolution.warnings == ()


def test_no_requirements_resolve_to_nothing() -> None:
    finder = FakeFinder({})
    assert resolve([], finder, finder.target) == Resolution(packages=(), warnings=())
    assert finder.find_calls == [] and finder.prefetched == []


def test_names_are_normalized() -> None:
    packages: Spec = {"types-pyyaml": {"6.0.12": []}, "tool": {"1.0": ["Types_PyYAML>=6"]}}
    resolution = run(packages, "Tool", "types-PyYAML")
    assert pins(resolution) == {"tool": "1.0", "types-pyyaml": "6.0.12"}
    assert resolution.packages[0].dependencies == ("types-pyyaml",)


def test_dependencies_are_what_was_pulled_in_for_the_target() -> None:
    packages: Spec = {
        "app": {
            "1.0": [
                "zlib-ng",
                "colorama; sys_platform == 'win32'",
                "tomli; python_version < '3.11'",
                "attrs",
                "rich; extra == 'fancy'",
            ]
        },
        "zlib-ng": {"1.0": []},
        "colorama": {"0.4": []},
        "tomli": {"2.0": []},
        "attrs": {"23.1": []},
        "rich": {"13.0": []},
    }
    resolution = run(packages, "app")
    app = resolution.packages[0]
    assert app.name == "app"
    assert app.dependencies == ("attrs", "zlib-ng")
    assert len(app.requires_dist) == 5
    fancy = run(packages, "app[fancy]")
    assert fancy.packages[0].dependencies == ("attrs", "rich", "zlib-ng")
    assert "rich" in pins(fancy)


def test_progress_callback_sees_pins() -> None:
    seen: list[Progress] = []
    finder = FakeFinder({"a": {"1.0": ["b"]}, "b": {"1.0": []}})
    resolve([Requirement("a")], finder, finder.target, progress=seen.append)
    assert seen[-1].done
    assert seen[-1].pinned == 2
    assert all(not p.done for p in seen[:-1])


def test_dependencies_are_prefetched() -> None:
    finder = FakeFinder({"a": {"1.0": ["c", "b"]}, "b": {"1.0": []}, "c": {"1.0": []}})
    resolve([Requirement("a")], finder, finder.target)
    assert finder.prefetched[:3] == ["a", "b", "c"]


# --- markers ----------------------------------------------------------------------------------


def test_top_level_markers_evaluated_against_target() -> None:
    packages: Spec = {"tomli": {"2.0": []}, "black": {"24.1": []}}
    requirements = ("black", "tomli; python_version < '3.11'")
    assert pins(run(packages, *requirements, target=make_target("3.10.12"))) == {
        "black": "24.1",
        "tomli": "2.0",
    }
    assert pins(run(packages, *requirements, target=make_target("3.12.1"))) == {"black": "24.1"}


def test_transitive_markers_by_python_version() -> None:
    packages: Spec = {
        "black": {
            "24.1": [
                "tomli>=1.1; python_version < '3.11'",
                "typing-extensions>=4; python_version < '3.11'",
            ]
        },
        "tomli": {"2.0": []},
        "typing-extensions": {"4.9": []},
    }
    assert pins(run(packages, "black", target=make_target("3.10.0"))) == {
        "black": "24.1",
        "tomli": "2.0",
        "typing-extensions": "4.9",
    }
    assert pins(run(packages, "black", target=make_target("3.11.0"))) == {"black": "24.1"}


def test_empty_marker_never_matches() -> None:
    packages: Spec = {"a": {"1.0": ["b; python_version < '2' and python_version > '3'"]}}
    assert pins(run(packages, "a")) == {"a": "1.0"}


# --- requires-python --------------------------------------------------------------------------


def test_metadata_requires_python_skips_release() -> None:
    packages: Spec = {
        "tool": {"1.0": Release(), "2.0": Release(requires_python=">=3.12")},
    }
    assert pins(run(packages, "tool", target=make_target("3.11.2"))) == {"tool": "1.0"}
    assert pins(run(packages, "tool", target=make_target("3.12.0"))) == {"tool": "2.0"}


def test_file_requires_python_double_checked() -> None:
    packages: Spec = {"tool": {"1.0": Release(), "2.0": Release(file_requires_python=">=3.12")}}
    finder = FakeFinder(packages, make_target("3.11.0"), drop_by_requires_python=False)
    assert [str(f.version) for f in finder.find(canonicalize_name("tool"))] == ["2.0", "1.0"]
    assert pins(resolve([Requirement("tool")], finder, finder.target)) == {"tool": "1.0"}


def test_requires_python_failure_is_explained() -> None:
    message = failure(
        {"tool": {"2.0": Release(requires_python=">=3.12")}},
        "tool",
        target=make_target("3.10.4"),
    )
    assert message.splitlines()[0] == (
        "no version of tool satisfies tool (available: 2.0; 2.0 requires Python >=3.12)"
    )
    assert "3.10.4" in message.splitlines()[1]


# --- extras -----------------------------------------------------------------------------------


def test_extra_pulls_in_its_requirements_at_the_same_version() -> None:
    packages: Spec = {
        "black": {
            "24.1": ["click", "ipython; extra == 'jupyter'"],
            "24.2": ["click", "ipython>=8; extra == 'jupyter'", "tokenize-rt; extra == 'jupyter'"],
        },
        "click": {"8.1": []},
        "ipython": {"7.0": [], "8.2": []},
        "tokenize-rt": {"5.0": []},
    }
    resolution = run(packages, "black[jupyter]")
    assert pins(resolution) == {
        "black": "24.2",
        "click": "8.1",
        "ipython": "8.2",
        "tokenize-rt": "5.0",
    }
    assert resolution.packages[0].dependencies == ("click", "ipython", "tokenize-rt")


def test_extra_and_base_land_on_one_version() -> None:
    packages: Spec = {
        "black": {"24.1": ["ipython; extra == 'jupyter'"], "24.2": ["ipython; extra == 'jupyter'"]},
        "ipython": {"8.2": []},
    }
    assert pins(run(packages, "black<24.2", "black[jupyter]"))["black"] == "24.1"
    assert pins(run(packages, "black[jupyter]<24.2", "black"))["black"] == "24.1"


def test_extra_requiring_another_extra_of_itself() -> None:
    packages: Spec = {
        "pkg": {
            "1.0": [
                "pkg[cli,docs]; extra == 'all'",
                "click; extra == 'cli'",
                "sphinx; extra == 'docs'",
            ],
            "2.0": [
                "pkg[cli]; extra == 'all'",
                "pkg[docs]; extra == 'all'",
                "click>=8; extra == 'cli'",
                "sphinx>=7; extra == 'docs'",
            ],
        },
        "click": {"7.0": [], "8.1": []},
        "sphinx": {"6.0": [], "7.2": []},
    }
    resolution = run(packages, "pkg[all]")
    assert pins(resolution) == {"click": "8.1", "pkg": "2.0", "sphinx": "7.2"}
    assert resolution.packages[1].dependencies == ("click", "sphinx")
    assert pins(run(packages, "pkg[all]<2"))["pkg"] == "1.0"


def test_missing_extra_is_a_warning() -> None:
    packages: Spec = {"tool": {"1.0": ["click"]}, "click": {"8.1": []}}
    resolution = run(packages, "tool[nope]")
    assert pins(resolution) == {"click": "8.1", "tool": "1.0"}
    assert resolution.warnings == ("tool==1.0 does not provide the extra 'nope'",)


def test_declared_extra_without_requirements_is_no_warning() -> None:
    packages: Spec = {"tool": {"1.0": Release(extras=["empty"])}}
    assert run(packages, "tool[empty]").warnings == ()


def test_extra_marker_names_are_normalized() -> None:
    packages: Spec = {"tool": {"1.0": ["rich; extra == 'Fancy_Output'"]}, "rich": {"13.0": []}}
    assert "rich" in pins(run(packages, "tool[fancy-output]"))


# --- backtracking, cycles ---------------------------------------------------------------------


def test_backtracks_to_older_release() -> None:
    packages: Spec = {
        "a": {"1.0": ["b>=1"], "2.0": ["b<1"]},
        "b": {"0.9": [], "1.0": [], "1.5": []},
    }
    assert pins(run(packages, "a", "b>=1")) == {"a": "1.0", "b": "1.5"}


def test_backtracks_through_transitive_conflict() -> None:
    packages: Spec = {
        "app": {"1.0": ["x", "y"]},
        "x": {"1.0": ["shared<2"], "2.0": ["shared>=2"]},
        "y": {"1.0": ["shared<2"], "2.0": ["shared<2"]},
        "shared": {"1.0": [], "2.0": []},
    }
    assert pins(run(packages, "app")) == {"app": "1.0", "shared": "1.0", "x": "1.0", "y": "2.0"}


def test_self_dependency() -> None:
    packages: Spec = {"a": {"1.0": ["a", "b"], "2.0": ["a>=1", "b"]}, "b": {"1.0": []}}
    resolution = run(packages, "a")
    assert pins(resolution) == {"a": "2.0", "b": "1.0"}
    assert resolution.packages[0].dependencies == ("b",)


def test_circular_dependencies() -> None:
    packages: Spec = {"a": {"1.0": ["b"]}, "b": {"1.0": ["a"], "2.0": ["a>=2"]}}
    resolution = run(packages, "a")
    assert pins(resolution) == {"a": "1.0", "b": "1.0"}
    assert [p.dependencies for p in resolution.packages] == [("b",), ("a",)]


def test_too_deep_is_a_resolution_error() -> None:
    packages: Spec = {"a": {"1.0": ["b"]}, "b": {"1.0": ["c"]}, "c": {"1.0": []}}
    message = failure(packages, "a", max_rounds=1)
    assert message.startswith("resolution gave up after 1 rounds")
    assert message.splitlines()[-1].startswith("hint: ")


def test_shuffled_requirements_give_the_same_answer() -> None:
    packages: Spec = {
        "a": {"1.0": ["c>=1"], "2.0": ["c<1", "d"]},
        "b": {"1.0": ["c"], "2.0": ["c>=2"]},
        "c": {"0.5": [], "1.0": [], "2.0": [], "3.0": ["d<1"]},
        "d": {"0.1": [], "1.0": ["a"]},
        "e": {"1.0": ["a[x]"], "1.1": ["b"]},
    }
    requirements = ["a", "b", "c!=3.0", "d", "e", "e"]
    expected = run(packages, *requirements)
    rng = random.Random(7)
    for _ in range(10):
        rng.shuffle(requirements)
        assert run(packages, *requirements) == expected


# --- yanked -----------------------------------------------------------------------------------

YANKED: Spec = {
    "pytest": {
        "8.0.0": [],
        "8.1.0": Release(yanked="broken on Windows"),
        "8.1.1": Release(yanked=""),
    }
}


def test_yanked_skipped_without_exact_pin() -> None:
    resolution = run(YANKED, "pytest>=8")
    assert pins(resolution) == {"pytest": "8.0.0"}
    assert resolution.warnings == ()


def test_yanked_chosen_when_pinned_with_warning() -> None:
    resolution = run(YANKED, "pytest==8.1.0")
    assert pins(resolution) == {"pytest": "8.1.0"}
    assert resolution.warnings == ("pytest==8.1.0 is yanked (reason: broken on Windows)",)
    assert run(YANKED, "pytest===8.1.1").warnings == ("pytest==8.1.1 is yanked",)


@pytest.mark.parametrize("requirement", ["pytest==8.1.*", "pytest~=8.1.0", "pytest>=8.1"])
def test_yanked_not_chosen_by_loose_specifiers(requirement: str) -> None:
    message = failure(YANKED, requirement)
    assert message.splitlines()[0].startswith(f"no version of pytest satisfies {requirement}")
    assert "8.1.0 is yanked (broken on Windows)" in message


# --- prereleases ------------------------------------------------------------------------------

HTTPX: Spec = {
    "httpx": {
        "0.27.0": ["click; extra == 'cli'"],
        "0.28.1": ["click; extra == 'cli'"],
        "1.0.dev6": ["click; extra == 'cli'"],
    },
    "click": {"8.1.7": [], "8.2.0rc1": []},
}


def test_final_release_preferred_over_newer_prerelease() -> None:
    assert pins(run(HTTPX, "httpx[cli]")) == {"click": "8.1.7", "httpx": "0.28.1"}


def test_explicit_prerelease_specifier_allows_prereleases() -> None:
    assert pins(run(HTTPX, "httpx>=1.0.dev1"))["httpx"] == "1.0.dev6"
    assert pins(run(HTTPX, "httpx>=0.27.0rc1"))["httpx"] == "1.0.dev6"
    assert pins(run(HTTPX, "httpx==1.0.dev6"))["httpx"] == "1.0.dev6"


def test_exclusion_of_prerelease_is_not_explicit() -> None:
    assert pins(run(HTTPX, "httpx!=1.0.dev5"))["httpx"] == "0.28.1"


def test_transitive_explicit_prerelease() -> None:
    packages: Spec = {"app": {"1.0": ["click>=8.2.0rc1"]}, "click": HTTPX["click"]}
    assert pins(run(packages, "app"))["click"] == "8.2.0rc1"


def test_prerelease_if_necessary() -> None:
    packages: Spec = {"tool": {"1.0": [], "2.0b1": [], "2.0b2": []}}
    assert pins(run(packages, "tool>1"))["tool"] == "2.0b2"
    assert pins(run({"only": {"0.1a1": []}}, "only"))["only"] == "0.1a1"


def test_prerelease_only_when_finals_fail() -> None:
    packages: Spec = {
        "app": {"1.0": ["lib", "dep"]},
        "lib": {"1.0": ["dep<1"], "2.0a1": ["dep>=1"]},
        "dep": {"0.5": [], "1.0": []},
    }
    assert pins(run(packages, "app", "dep>=1")) == {"app": "1.0", "dep": "1.0", "lib": "2.0a1"}
    assert pins(run(packages, "app")) == {"app": "1.0", "dep": "0.5", "lib": "1.0"}


def test_prerelease_policies() -> None:
    assert pins(run(HTTPX, "httpx", prereleases="allow"))["httpx"] == "1.0.dev6"
    assert pins(run(HTTPX, "httpx>=1.0.dev1", prereleases="allow"))["httpx"] == "1.0.dev6"
    assert pins(run(HTTPX, "httpx>=0.27.0rc1", prereleases="disallow"))["httpx"] == "0.28.1"
    message = failure(HTTPX, "httpx>=1.0.dev1", prereleases="disallow")
    assert "1.0.dev6 is a prerelease" in message


# --- failures ---------------------------------------------------------------------------------

BLACK: Spec = {
    "black": {
        "24.4.2": ["click>=8.0.0", "packaging>=22.0"],
        "24.8.0": ["click>=8.0.0", "packaging>=22.0"],
    },
    "click": {"7.1.2": [], "8.0.0": [], "8.1.7": []},
    "packaging": {"24.1": []},
}


def test_conflict_message_names_both_sides() -> None:
    assert failure(BLACK, "black==24.8.0", "click<8") == (
        "black==24.8.0 depends on click>=8.0.0, which conflicts with the requirement click<8\n"
        "hint: loosen one of these requirements, or pin other versions of the packages "
        "that declare them"
    )


def test_conflict_over_every_version_of_a_parent() -> None:
    message = failure(BLACK, "black", "click<8")
    assert message.splitlines()[0] == (
        "black==24.4.2 and black==24.8.0 depend on click>=8.0.0, "
        "which conflicts with the requirement click<8"
    )


def test_conflict_between_top_level_requirements() -> None:
    message = failure(BLACK, "click<8", "click>=8.1")
    assert message.splitlines()[0] == (
        "the requirement click<8 conflicts with the requirement click>=8.1"
    )


def test_conflict_between_two_parents() -> None:
    packages: Spec = {
        "a": {"1.0": ["shared<2"]},
        "b": {"1.0": ["shared>=2"]},
        "shared": {"1.0": [], "2.0": []},
    }
    message = failure(packages, "a", "b")
    assert "a==1.0 depends on shared<2" in message
    assert "b==1.0 depends on shared>=2" in message
    assert "conflicts with" in message


def test_no_matching_version_message() -> None:
    message = failure({"foo": {"1.0": [], "1.1": []}}, "foo>=99")
    assert message.splitlines()[0] == "no version of foo satisfies foo>=99 (available: 1.0, 1.1)"


def test_no_matching_version_transitive() -> None:
    message = failure({"app": {"1.0": ["foo>=99"]}, "foo": {"1.0": []}}, "app")
    assert message.splitlines()[0] == (
        "no version of foo satisfies foo>=99, required by app==1.0 (available: 1.0)"
    )


def test_long_version_lists_are_shortened() -> None:
    packages: Spec = {"foo": {f"1.{i}": [] for i in range(15)}}
    message = failure(packages, "foo>=99")
    assert "(available: 5 older, 1.5, 1.6," in message
    assert message.splitlines()[0].endswith("1.14)")


def test_each_unmet_requirement_is_named() -> None:
    packages: Spec = {"a": {str(i): [f"b<{i}"] for i in range(1, 6)}, "b": {"9": []}}
    message = failure(packages, "a", "b")
    assert message.splitlines()[0] == (
        "no version of b satisfies b<1 (required by a==1), b<2 (required by a==2), "
        "b<3 (required by a==3) or 2 more (available: 9)"
    )


def test_no_such_package_message() -> None:
    message = failure({}, "nosuchthing")
    assert message == (
        "no package named nosuchthing on the index\n"
        "hint: check the spelling of the package name and the index URL"
    )


def test_no_such_transitive_package() -> None:
    message = failure({"app": {"1.0": ["ghost"]}}, "app")
    assert message.splitlines()[0] == "no package named ghost on the index"


def test_direct_url_requirement_refused() -> None:
    message = failure({}, "foo @ https://example.com/foo-1.0.tar.gz")
    assert "direct URL" in message
