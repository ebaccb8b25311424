"""Targets for machines that are not this one, checked against packaging's own tag code."""

from __future__ import annotations

import sys
import sysconfig

import pytest
from packaging import tags as ptags

from toolcache.errors import ToolcacheError
from toolcache.platforms import (
    Machine,
    linux_platforms,
    manylinux_platforms,
    platform_tags,
    target_for,
)


def _strings(tags: tuple[ptags.Tag, ...] | list[ptags.Tag]) -> list[str]:
    return [str(t) for t in tags]


@pytest.mark.skipif(
    sysconfig.get_platform() != "linux-x86_64" or sys.maxsize < 2**32,
    reason="packaging's Linux tag code reads the running machine: x86_64 Linux only",
)
def test_manylinux_2_28_matches_packaging_on_such_a_machine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # packaging itself, told that this machine has glibc 2.28 and no musl.
    from packaging import _manylinux, _musllinux

    monkeypatch.setattr(_manylinux, "_get_glibc_version", lambda: _manylinux._GLibCVersion(2, 28))
    monkeypatch.setattr(_manylinux, "_get_manylinux_module", lambda: None)
    monkeypatch.setattr(_musllinux, "_get_musl_version", lambda executable: None)
    platforms = list(ptags._linux_platforms(is_32bit=False))
    expected = [
        *ptags.cpython_tags((3, 12), ["cp312"], platforms),
        *ptags.compatible_tags((3, 12), "cp312", platforms),
    ]

    target = target_for("3.12", "x86_64-manylinux_2_28")
    assert _strings(target.tags) == _strings(expected)


def test_manylinux_2_28_tags() -> None:
    found = _strings(target_for("3.12", "x86_64-manylinux_2_28").tags)
    for tag in (
        "cp312-cp312-manylinux_2_28_x86_64",
        "cp312-abi3-manylinux_2_17_x86_64",
        "cp312-cp312-manylinux2014_x86_64",
        "cp38-abi3-manylinux1_x86_64",
        "py3-none-any",
        "cp312-none-any",
    ):
        assert tag in found
    assert not [t for t in found if "manylinux_2_29" in t or "manylinux_2_31" in t]
    assert not [t for t in found if "musllinux" in t]
    # Legacy aliases sit right after the glibc version they stand for.
    manylinux = [t for t in found if t.startswith("cp312-cp312-")]
    assert manylinux[:3] == [
        "cp312-cp312-linux_x86_64",
        "cp312-cp312-manylinux_2_28_x86_64",
        "cp312-cp312-manylinux_2_27_x86_64",
    ]
    at = manylinux.index("cp312-cp312-manylinux_2_17_x86_64")
    assert manylinux[at + 1] == "cp312-cp312-manylinux2014_x86_64"
    assert manylinux[-2:] == ["cp312-cp312-manylinux_2_5_x86_64", "cp312-cp312-manylinux1_x86_64"]
    assert found[0] == "cp312-cp312-linux_x86_64"
    assert found[-1] == "py30-none-any"


def test_markers_are_synthesised_like_uv() -> None:
    assert dict(target_for("3.12", "aarch64-manylinux_2_17").markers) == {
        "implementation_name": "cpython",
        "implementation_version": "3.12.0",
        "os_name": "posix",
        "platform_machine": "aarch64",
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": "3.12.0",
        "python_version": "3.12",
        "sys_platform": "linux",
    }
    assert target_for("3.11.4", None).markers["python_full_version"] == "3.11.4"


@pytest.mark.parametrize(
    ("platform", "first", "absent"),
    [
        ("linux", "cp312-cp312-linux_x86_64", "manylinux_2_29"),
        ("x86_64-unknown-linux-gnu", "cp312-cp312-linux_x86_64", "manylinux_2_29"),
        ("aarch64-unknown-linux-gnu", "cp312-cp312-linux_aarch64", "manylinux1"),
        ("x86_64-manylinux2014", "cp312-cp312-linux_x86_64", "manylinux_2_18"),
        ("x86_64-unknown-linux-musl", "cp312-cp312-linux_x86_64", "manylinux"),
        ("x86_64-musllinux_1_1", "cp312-cp312-linux_x86_64", "musllinux_1_2"),
        ("macos", "cp312-cp312-macosx_13_0_arm64", "x86_64"),
        ("x86_64-apple-darwin", "cp312-cp312-macosx_13_0_x86_64", "arm64"),
        ("windows", "cp312-cp312-win_amd64", "linux"),
        ("i686-pc-windows-msvc", "cp312-cp312-win32", "amd64"),
    ],
)
def test_platform_forms(platform: str, first: str, absent: str) -> None:
    found = _strings(target_for("3.12", platform).tags)
    assert found[0] == first
    assert not [t for t in found if absent in t]
    assert found[-1] == "py30-none-any"


def test_musllinux_tags() -> None:
    found = _strings(target_for("3.12", "x86_64-unknown-linux-musl").tags)
    assert "cp312-cp312-musllinux_1_2_x86_64" in found
    assert "cp312-abi3-musllinux_1_0_x86_64" in found
    assert target_for("3.12", "x86_64-unknown-linux-musl").markers["sys_platform"] == "linux"


def test_macos_uses_packaging_mac_platforms() -> None:
    machine = Machine(
        system="Darwin",
        sysconfig_platform="macosx-11.0-arm64",
        mac_version=(13, 0),
        mac_arch="arm64",
    )
    assert platform_tags(machine) == list(ptags.mac_platforms((13, 0), "arm64"))
    windows = target_for("3.12", "windows").markers
    assert (windows["sys_platform"], windows["os_name"], windows["platform_machine"]) == (
        "win32",
        "nt",
        "AMD64",
    )


def test_32_bit_linux_and_arm() -> None:
    i686 = Machine(
        system="Linux", sysconfig_platform="linux-x86_64", pointer_bits=32, glibc=(2, 17)
    )
    assert linux_platforms(i686) == ["linux_i686"]  # not an i386 ELF: no manylinux
    armv8l = Machine(
        system="Linux",
        sysconfig_platform="linux-aarch64",
        pointer_bits=32,
        glibc=(2, 17),
        armhf=True,
    )
    found = linux_platforms(armv8l)
    assert found[:3] == ["linux_armv8l", "linux_armv7l", "manylinux_2_17_armv8l"]
    assert "manylinux2014_armv7l" in found
    assert "manylinux_2_16_armv8l" not in found


def test_manylinux_across_glibc_major_versions() -> None:
    found = list(manylinux_platforms(["x86_64"], (3, 1)))
    assert found[:3] == ["manylinux_3_1_x86_64", "manylinux_3_0_x86_64", "manylinux_2_50_x86_64"]
    assert found[-1] == "manylinux1_x86_64"


@pytest.mark.parametrize("platform", ["solaris", "x86_64-unknown-freebsd", "sparc-manylinux_2_17"])
def test_unknown_platforms_say_what_is_accepted(platform: str) -> None:
    with pytest.raises(ToolcacheError, match=r"unknown platform .*expected one of linux, windows"):
        target_for("3.12", platform)


@pytest.mark.parametrize("version", ["3", "three", "3.12.1.4", ""])
def test_bad_versions(version: str) -> None:
    with pytest.raises(ToolcacheError, match=r"expected X\.Y or X\.Y\.Z"):
        target_for(version, "linux")


def test_only_cpython_and_pypy_can_be_targeted() -> None:
    with pytest.raises(ToolcacheError, match="only cpython and pypy"):
        target_for("3.10", "linux", implementation="graalpy")
    pypy = target_for("3.10", "linux", implementation="pypy")
    assert str(pypy.tags[1]) == "pp310-pypy310_pp73-manylinux_2_28_x86_64"
    assert pypy.markers["implementation_name"] == "pypy"


def test_minor_only_target_ignores_single_patch_exclusions() -> None:
    """`--python-version 3.9` compares lower bounds, as uv does: exclusions of single releases
    above a package's lower bound do not matter; an exact 3.9.0 target is exact."""
    from packaging.specifiers import SpecifierSet

    from toolcache.platforms import target_for

    minor = target_for("3.9", "x86_64-manylinux_2_28")
    exact = target_for("3.9.0", "x86_64-manylinux_2_28")
    # cryptography 47 and 48: the same exclusions, lower bounds on either side of 3.9.0.
    assert minor.allows_python(SpecifierSet(">=3.8,!=3.9.0,!=3.9.1"))
    assert not exact.allows_python(SpecifierSet(">=3.8,!=3.9.0,!=3.9.1"))
    assert not minor.allows_python(SpecifierSet(">=3.9,!=3.9.0,!=3.9.1"))
    assert minor.allows_python(SpecifierSet(">=3.9"))
    assert not minor.allows_python(SpecifierSet(">=3.9.2"))
    assert not minor.allows_python(SpecifierSet(">=3.10"))
    assert not minor.allows_python(SpecifierSet("!=3.9.*"))
    assert minor.allows_python(SpecifierSet(">=3.8"))
