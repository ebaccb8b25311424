"""The probe on macOS, simulated on this Linux machine: its tags are ``sys_tags()``'s.

Each case runs this interpreter in a subprocess told it is a Mac: ``sys.platform``,
``platform.mac_ver``/``machine``/``system``, ``sysconfig.get_platform`` and config variables
and ``importlib.machinery.EXTENSION_SUFFIXES`` replaced by what a CPython on that macOS and CPU
reports, and ``subprocess.run`` answering the ``SYSTEM_VERSION_COMPAT=0`` question that a
build linked against an old SDK must ask. In that process packaging's own ``sys_tags()`` and
``_probe.collect()`` both run; the tags toolcache computes from the probe's data, back in this
process as on a real run, must be the same list.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from toolcache import interpreter as interpreter_module

_MAC = r"""
import importlib.machinery, json, platform, subprocess, sys, sysconfig

case = json.loads(sys.argv[1])
config = dict(sysconfig.get_config_vars())
config.update(case["config"])
asked = []


def get_config_vars(*names):
    return [config.get(n) for n in names] if names else config


class Answer:
    returncode = 0
    stdout = case["real"] + "\n"


def run(*args, **kwargs):
    asked.append(kwargs.get("env"))
    return Answer


platform.mac_ver = lambda *a, **k: (case["reported"], ("", "", ""), case["arch"])
platform.machine = lambda: case["arch"]
platform.system = lambda: "Darwin"
platform.release = lambda: "24.0.0"
sysconfig.get_config_var = config.get
sysconfig.get_config_vars = get_config_vars
sysconfig.get_platform = lambda: case["platform"]
importlib.machinery.EXTENSION_SUFFIXES[:] = case["suffixes"]
subprocess.run = run
sys.platform = "darwin"

from packaging import tags
from toolcache import _probe

sys_tags = [str(t) for t in tags.sys_tags()]
data = _probe.collect()
print(json.dumps({"sys_tags": sys_tags, "probe": data, "asked": asked}))
"""

_NODOT = f"{sys.version_info[0]}{sys.version_info[1]}"


def _case(
    reported: str,
    arch: str,
    platform: str,
    *,
    real: str = "",
    framework: str = "",
) -> dict[str, Any]:
    return {
        "reported": reported,
        "arch": arch,
        "platform": platform,
        "real": real or reported,
        "config": {
            "SOABI": f"cpython-{_NODOT}-darwin",
            "EXT_SUFFIX": f".cpython-{_NODOT}-darwin.so",
            "Py_GIL_DISABLED": 0,
            "Py_DEBUG": 0,
            "py_version_nodot": _NODOT,
            "PYTHONFRAMEWORK": framework,
        },
        "suffixes": [f".cpython-{_NODOT}-darwin.so", ".abi3.so", ".so"],
    }


CASES = {
    # uv's and pyenv's builds (python-build-standalone targets macOS 11 on arm64, 10.9 on Intel)
    "macos13-arm64": _case("13.6.9", "arm64", "macosx-11.0-arm64"),
    "macos14-arm64": _case("14.7.1", "arm64", "macosx-11.0-arm64"),
    "macos15-arm64": _case("15.3", "arm64", "macosx-11.0-arm64"),
    "macos26-arm64": _case("26.0", "arm64", "macosx-11.0-arm64"),
    "macos13-x86_64": _case("13.6.9", "x86_64", "macosx-10.9-x86_64"),
    "macos14-x86_64": _case("14.7.1", "x86_64", "macosx-10.9-x86_64"),
    "macos15-x86_64": _case("15.3", "x86_64", "macosx-10.9-x86_64"),
    "macos26-x86_64": _case("26.0", "x86_64", "macosx-10.9-x86_64"),
    # built against a pre-26 SDK, on macOS 26: told 16.0 (cpython#135675); packaging keeps it
    "macos26-as-16.0-arm64": _case("16.0", "arm64", "macosx-11.0-arm64", real="26.0"),
    "macos26-as-16.0-x86_64": _case("16.0", "x86_64", "macosx-10.9-x86_64", real="26.0"),
    # built against a pre-11 SDK, on macOS 13: told 10.16; packaging asks for the real one
    "macos13-as-10.16-x86_64": _case("10.16", "x86_64", "macosx-10.9-x86_64", real="13.6"),
    # python.org's framework build (universal2), natively on Apple silicon and under Rosetta
    "framework-universal2-arm64": _case(
        "15.3", "arm64", "macosx-10.13-universal2", framework="Python"
    ),
    "framework-universal2-x86_64": _case(
        "14.7.1", "x86_64", "macosx-10.13-universal2", framework="Python"
    ),
}


def _simulate(case: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", _MAC, json.dumps(case)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    found: dict[str, Any] = json.loads(proc.stdout)
    return found


@pytest.mark.parametrize("name", list(CASES))
def test_probe_tags_are_sys_tags_on_a_simulated_mac(name: str) -> None:
    """Stands in for running the probe and ``packaging.tags.sys_tags()`` in a CPython on
    that macOS version and CPU (and for a python.org framework build)."""
    case = CASES[name]
    found = _simulate(case)
    data = found["probe"]
    expected = found["sys_tags"]
    assert interpreter_module.compute_tags(data) == expected
    assert expected[0].endswith(f"_{case['arch']}")
    assert data["markers"]["sys_platform"] == "darwin"
    assert data["config"]["PYTHONFRAMEWORK"] == case["config"]["PYTHONFRAMEWORK"]
    mac = data["mac"]
    assert (mac["reported"], mac["system"], mac["arch"]) == (
        case["reported"],
        case["real"],
        case["arch"],
    )
    # Asked again, with compatibility mode off as packaging asks, for 10.16 and 16.0 only.
    assert all(env == {"SYSTEM_VERSION_COMPAT": "0"} for env in found["asked"])
    assert bool(found["asked"]) == (case["reported"] in {"10.16", "16.0"})
    payload = interpreter_module.hash_payload(data, expected)
    assert payload["mac_arch"] == case["arch"]


def test_a_16_0_report_keeps_macos_16_tags_as_packaging_does() -> None:
    """Stands in for an old-SDK CPython on macOS 26: packaging (26.x) re-reads ``10.16``
    only, so its newest tag is ``macosx_16_0`` and the probe's is too; the real version is
    recorded beside it."""
    found = _simulate(CASES["macos26-as-16.0-arm64"])
    tags = interpreter_module.compute_tags(found["probe"])
    platforms = list(dict.fromkeys(t.split("-")[2] for t in tags))
    assert platforms[0] == "macosx_16_0_arm64"
    assert "macosx_11_0_arm64" in platforms and "macosx_26_0_arm64" not in platforms
    assert found["probe"]["mac"]["version"] == "16.0"
    assert found["probe"]["mac"]["system"] == "26.0"


def test_a_10_16_report_is_read_again() -> None:
    """Stands in for a pre-Big Sur SDK build on macOS 13: its tags start at macOS 13."""
    found = _simulate(CASES["macos13-as-10.16-x86_64"])
    tags = interpreter_module.compute_tags(found["probe"])
    assert tags[0].endswith("macosx_13_0_x86_64")
    assert found["probe"]["mac"]["version"] == "13.6"
