"""Interpreter discovery on macOS, simulated: a Mac's folders laid out in ``tmp_path``.

A macOS ``Host`` rooted at ``tmp_path/mac`` looks for ``/opt/homebrew``, ``/usr/local``,
``/Library/Frameworks``, ``/usr/bin`` and the runner's ``/Users/runner/hostedtoolcache``
there; uv's and pyenv's folders and ``RUNNER_TOOL_CACHE`` come from the (patched) environment
as on a Mac. Every Python in them is a shell script printing what the probe prints in a
CPython on macOS (``tests.support.fake_pythons``) and logging that it ran.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.fake_pythons import fake_python, probe_output, runs
from tests.test_macos_tags import _MAC, CASES
from toolcache import host as host_mod
from toolcache.discovery import find_interpreter
from toolcache.errors import InterpreterNotFound
from toolcache.host import Host
from toolcache.interpreter import probe


class Mac:
    """A Mac's folders under ``root``, the fake Pythons put there, and the run log."""

    def __init__(self, base: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = base / "mac"
        self.home = base / "home"  # HOME, as the autouse fixture sets it
        self.log = base / "ran.log"
        self.cache = base / "cache"
        self.host: Host = host_mod.for_platform("darwin", root=self.root)
        (self.root / "empty").mkdir(parents=True)
        monkeypatch.setenv("PATH", str(self.root / "empty"))
        for name in (
            "PYENV_ROOT",
            "UV_PYTHON_INSTALL_DIR",
            "XDG_DATA_HOME",
            "ASDF_DATA_DIR",
            "RUNNER_TOOL_CACHE",
            "HOMEBREW_PREFIX",
            "DEVELOPER_DIR",
        ):
            monkeypatch.delenv(name, raising=False)

    def at(self, absolute: str) -> Path:
        """``/opt/homebrew/bin`` on this Mac."""
        return self.host.path(absolute)

    def python(self, path: Path, version: str, *, framework: str = "") -> Path:
        answer = probe_output(version=version, executable=path, framework=framework)
        return fake_python(path, answer, self.log)

    def uv(self, version: str, base: Path | None = None) -> Path:
        folder = (base or self.home / ".local/share/uv/python") / (
            f"cpython-{version}-macos-aarch64-none"
        )
        return self.python(folder / "bin/python3", version)

    def pyenv(self, version: str) -> Path:
        return self.python(self.home / f".pyenv/versions/{version}/bin/python3", version)

    def homebrew(self, version: str, prefix: str = "/opt/homebrew") -> Path:
        """``opt/python@X.Y``, a link into the Cellar's framework build, as Homebrew lays it."""
        minor = ".".join(version.split(".")[:2])
        cellar = self.at(prefix) / f"Cellar/python@{minor}/{version}"
        self.python(cellar / f"bin/python{minor}", version, framework="Python")
        opt = self.at(prefix) / f"opt/python@{minor}"
        opt.parent.mkdir(parents=True, exist_ok=True)
        opt.symlink_to(Path("..") / "Cellar" / f"python@{minor}" / version)
        return opt / "bin" / f"python{minor}"

    def python_org(self, version: str) -> Path:
        minor = ".".join(version.split(".")[:2])
        versions = self.at("/Library/Frameworks/Python.framework/Versions")
        exe = self.python(versions / minor / "bin/python3", version, framework="Python")
        current = versions / "Current"
        if not current.exists():
            current.symlink_to(minor)
        return exe

    def tool_cache(self, version: str, base: Path | None = None) -> Path:
        where = base or self.at("/Users/runner/hostedtoolcache")
        return self.python(where / f"Python/{version}/arm64/bin/python3", version)

    def find(self, request: str | None) -> Path:
        return find_interpreter(request, self.cache, host=self.host).executable


@pytest.fixture
def mac(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Mac:
    return Mac(tmp_path, monkeypatch)


def test_the_fake_answer_has_the_keys_of_a_real_probe_on_a_mac() -> None:
    """The fakes below stand in for real probes only if they say what a real one says."""
    proc = subprocess.run(
        [sys.executable, "-c", _MAC, json.dumps(CASES["macos15-arm64"])],
        capture_output=True,
        text=True,
        check=True,
    )
    real = json.loads(proc.stdout)["probe"]
    fake = probe_output(version="3.12.8", executable=Path("/x/bin/python3"))
    assert set(fake) == set(real)
    for key in ("markers", "config", "mac"):
        assert set(fake[key]) == set(real[key]), key


def test_each_kind_of_mac_python_is_found(mac: Mac, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stands in for a Mac with a Python of each kind and none on PATH (a git GUI runs
    hooks with PATH=/usr/bin:/bin): each is found by its own version."""
    found = {
        "3.8": mac.uv("3.8.20"),
        "3.9": mac.pyenv("3.9.21"),
        "3.10": mac.homebrew("3.10.16"),
        "3.11": mac.homebrew("3.11.11", prefix="/usr/local"),  # Intel Homebrew
        "3.12": mac.python_org("3.12.8"),
        "3.13": mac.tool_cache("3.13.1"),
    }
    for request, exe in found.items():
        assert mac.find(request) == exe, request
    assert mac.find(">=3.8") == found["3.13"]
    # The versioned opt/python@3.10 of Homebrew holds python3.10 only.
    assert found["3.10"].name == "python3.10"

    # Where the environment moves them: UV_PYTHON_INSTALL_DIR, XDG_DATA_HOME,
    # RUNNER_TOOL_CACHE; Homebrew's own bin folder when nothing else has the version.
    moved = mac.uv("3.14.0", base=mac.root / "uv-pythons")
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(mac.root / "uv-pythons"))
    assert mac.find("3.14") == moved
    monkeypatch.delenv("UV_PYTHON_INSTALL_DIR")
    xdg = mac.uv("3.14.1", base=mac.root / "xdg" / "uv" / "python")
    monkeypatch.setenv("XDG_DATA_HOME", str(mac.root / "xdg"))
    assert mac.find("3.14") == xdg
    runner = mac.tool_cache("3.7.17", base=mac.root / "runner-tools")
    monkeypatch.setenv("RUNNER_TOOL_CACHE", str(mac.root / "runner-tools"))
    assert mac.find("3.7") == runner
    brew_bin = mac.python(mac.at("/opt/homebrew/bin/python3"), "3.15.0")
    assert mac.find("3.15") == brew_bin


def test_among_equal_versions_the_order_is_uv_pyenv_homebrew_python_org_runner_usr_bin(
    mac: Mac, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stands in for a Mac with CPython 3.12.8 installed six ways: the documented order
    decides, and Apple's /usr/bin comes last even though it is on PATH."""
    clt = mac.at("/Library/Developer/CommandLineTools/usr/bin/python3")
    mac.python(clt, "3.9.6")
    order = [
        mac.uv("3.12.8"),
        mac.pyenv("3.12.8"),
        mac.homebrew("3.12.8"),
        mac.python_org("3.12.8"),
        mac.tool_cache("3.12.8"),
        mac.python(mac.at("/usr/bin/python3"), "3.12.8"),
    ]
    monkeypatch.setenv("PATH", str(mac.at("/usr/bin")))
    for expected in order:
        assert mac.find("3.12") == expected
        assert mac.find(">=3.11") == expected
        expected.unlink()
    # The default request is what typing python3 gives, /usr/bin's included.
    mac.python(mac.at("/usr/bin/python3"), "3.12.8")
    assert mac.find(None) == mac.at("/usr/bin/python3")


def test_a_higher_patch_release_wins_over_the_source_order(mac: Mac) -> None:
    """Stands in for uv's 3.12.4 beside Homebrew's python@3.12 at 3.12.8: the folder name
    ``python@3.12`` names no patch, so it is probed too, and the newer release wins."""
    uv = mac.uv("3.12.4")
    brew = mac.homebrew("3.12.8")
    mac.pyenv("3.11.9")
    assert mac.find("3.12") == brew
    assert mac.find(">=3.10") == brew
    # The 3.11 folder sorts below the 3.12 ones and was never probed.
    assert set(runs(mac.log)) == {str(uv), str(brew.resolve())}


def test_the_xcode_select_stub_is_never_run_without_the_command_line_tools(
    mac: Mac, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stands in for a Mac without the Command Line Tools, where /usr/bin/python3 is the
    xcode-select stub that opens an install dialog when run."""
    stub = fake_python(mac.at("/usr/bin/python3"), None, mac.log)
    monkeypatch.setenv("PATH", str(mac.at("/usr/bin")))
    for request in (None, "3", "3.9", ">=3.8", str(stub)):
        with pytest.raises(InterpreterNotFound, match="xcode-select --install"):
            mac.find(request)
    assert runs(mac.log) == []

    # Another Python is used instead, the stub still untouched: Homebrew's, found in its
    # bin folder when that is on PATH after /usr/bin, and when it is not on PATH at all.
    brew = mac.python(mac.at("/opt/homebrew/bin/python3"), "3.13.1")
    for path in ([mac.at("/usr/bin"), brew.parent], [mac.at("/usr/bin")]):
        monkeypatch.setenv("PATH", os.pathsep.join(map(str, path)))
        if len(path) == 2:
            assert mac.find(None) == brew
        assert mac.find("3") == brew
        assert mac.find("3.13") == brew
        assert mac.find(">=3.8") == brew
    assert set(runs(mac.log)) == {str(brew)}

    # A link to the stub is the stub.
    link = mac.root / "elsewhere" / "python3"
    link.parent.mkdir()
    link.symlink_to(stub)
    with pytest.raises(InterpreterNotFound, match="stub"):
        mac.find(str(link))
    assert str(stub) not in runs(mac.log)


@pytest.mark.parametrize(
    "developer_dir",
    [
        "/Library/Developer/CommandLineTools",
        "/Applications/Xcode.app/Contents/Developer",
        "DEVELOPER_DIR",
        "xcode_select_link",
    ],
)
def test_the_stub_is_run_once_a_developer_folder_has_python(
    mac: Mac, developer_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stands in for a Mac with the Command Line Tools or Xcode (found where xcrun looks):
    /usr/bin/python3 then runs their Python 3.9, and is found."""
    if developer_dir == "DEVELOPER_DIR":
        folder = mac.root / "custom" / "Developer"
        monkeypatch.setenv("DEVELOPER_DIR", str(folder))
    elif developer_dir == "xcode_select_link":
        folder = mac.root / "Applications" / "Xcode-beta.app" / "Contents" / "Developer"
        link = mac.at("/var/db/xcode_select_link")
        link.parent.mkdir(parents=True)
        link.symlink_to(folder)
    else:
        folder = mac.at(developer_dir)
    mac.python(folder / "usr/bin/python3", "3.9.6")
    stub = mac.python(mac.at("/usr/bin/python3"), "3.9.6")
    monkeypatch.setenv("PATH", str(stub.parent))
    assert mac.find(None) == stub
    assert mac.find("3.9") == stub
    assert runs(mac.log) == [str(stub)]


def test_a_developer_folder_without_python_still_leaves_the_stub_alone(mac: Mac) -> None:
    """Stands in for Xcode selected but older than Xcode 11 (no python3 in it)."""
    mac.at("/Applications/Xcode.app/Contents/Developer/usr/bin").mkdir(parents=True)
    stub = fake_python(mac.at("/usr/bin/python3"), None, mac.log)
    with pytest.raises(InterpreterNotFound, match="stub"):
        mac.find(str(stub))
    assert runs(mac.log) == []


def test_a_linux_host_does_not_look_in_mac_folders(mac: Mac) -> None:
    """The same tree seen by the Linux host: python.org's and Homebrew's folders are not
    searched there, and /usr/bin/python3 is an ordinary Python."""
    mac.python_org("3.12.8")
    mac.homebrew("3.11.11")
    linux = host_mod.for_platform("linux", root=mac.root)
    with pytest.raises(InterpreterNotFound):
        find_interpreter("3.12", mac.cache, host=linux)
    usr = mac.python(mac.at("/usr/bin/python3"), "3.12.8")
    assert find_interpreter("3.12", mac.cache, host=linux).executable == usr


def test_a_probed_mac_python_has_mac_tags_and_says_whether_it_is_a_framework(
    mac: Mac,
) -> None:
    """Stands in for probing python.org's framework Python and a uv Python on a Mac."""
    framework = probe(mac.python_org("3.12.8"), mac.cache)
    standalone = probe(mac.uv("3.12.8"), mac.cache)
    assert (framework.framework, standalone.framework) == ("Python", "")
    assert framework.tags[0] == "cp312-cp312-macosx_15_0_arm64"
    assert "cp312-abi3-macosx_11_0_universal2" in framework.tags
    assert framework.hash != standalone.hash  # sysconfig platform: universal2 vs arm64
