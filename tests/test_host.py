"""The host seam: each operating system's answers, and the ones this process gets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from toolcache import host as host_mod


@pytest.mark.parametrize(
    ("sys_platform", "family", "bin_dir", "suffix", "launcher", "link", "lib64"),
    [
        ("linux", "linux", "bin", "", host_mod.SH_LAUNCHER, host_mod.REFLINK, True),
        ("darwin", "darwin", "bin", "", host_mod.SH_LAUNCHER, host_mod.CLONEFILE, False),
        ("win32", "win32", "Scripts", ".exe", host_mod.EXE_LAUNCHER, host_mod.COPY, False),
        ("freebsd14", "posix", "bin", "", host_mod.SH_LAUNCHER, host_mod.COPY, False),
    ],
)
def test_each_platform_has_its_answers(
    sys_platform: str,
    family: str,
    bin_dir: str,
    suffix: str,
    launcher: str,
    link: str,
    lib64: bool,
) -> None:
    found = host_mod.for_platform(sys_platform)
    assert host_mod.family(sys_platform) == found.sys_platform == family
    assert (found.bin_dir, found.exe_suffix, found.launcher, found.link, found.lib64) == (
        bin_dir,
        suffix,
        launcher,
        link,
        lib64,
    )
    assert found.executable("python3") == f"python3{suffix}"
    assert found.symlinks == (family != "win32")


def test_this_process_gets_its_own_platform() -> None:
    assert host_mod.current() == host_mod.for_platform(sys.platform)


def test_a_rooted_host_finds_system_folders_under_its_root(tmp_path: Path) -> None:
    mac = host_mod.for_platform("darwin", root=tmp_path)
    assert mac.path("/usr/bin") == tmp_path / "usr" / "bin"
    assert [r.source for r in mac.interpreter_roots({}, tmp_path / "home")] == [
        "uv",
        "pyenv",
        "asdf",
        "homebrew",
        "homebrew",
        "homebrew",
        "homebrew",
        "python.org",
        "toolcache",
        "toolcache",
    ]
    linux = host_mod.for_platform("linux")
    sources = [r.source for r in linux.interpreter_roots({}, Path("/home/u"))]
    assert sources == ["uv", "pyenv", "asdf", "toolcache", "toolcache"]
    assert all(source in host_mod.SOURCES for source in sources)


def test_roots_follow_the_environment_variables(tmp_path: Path) -> None:
    environ = {
        "UV_PYTHON_INSTALL_DIR": "/u",
        "PYENV_ROOT": "/p",
        "ASDF_DATA_DIR": "/a",
        "RUNNER_TOOL_CACHE": "/t",
        "HOMEBREW_PREFIX": "/brew",
    }
    roots = host_mod.for_platform("darwin", root=tmp_path).interpreter_roots(environ, tmp_path)
    paths = [str(r.path) for r in roots]
    assert paths[:3] == ["/u", "/p/versions", "/a/installs/python"]
    assert str(tmp_path / "brew" / "opt") in paths
    assert "/t/Python" in paths and "/t/PyPy" in paths
    xdg = host_mod.for_platform("linux").interpreter_roots({"XDG_DATA_HOME": "/x"}, tmp_path)
    assert xdg[0].path == Path("/x/uv/python")


def test_only_macos_refuses_a_usr_bin_python(tmp_path: Path) -> None:
    exe = tmp_path / "usr" / "bin" / "python3"
    exe.parent.mkdir(parents=True)
    exe.write_text("")
    assert host_mod.for_platform("linux", root=tmp_path).refuses(exe, {}) is None
    mac = host_mod.for_platform("darwin", root=tmp_path)
    assert "xcode-select --install" in (mac.refuses(exe, {}) or "")
    assert mac.refuses(tmp_path / "usr" / "bin" / "git", {}) is None  # not a Python


@pytest.mark.skipif(sys.platform == "darwin", reason="clonefile works on a Mac")
def test_clonefile_says_no_where_there_is_none(tmp_path: Path) -> None:
    source = tmp_path / "a"
    source.write_text("x")
    assert host_mod.clonefile(str(source), str(tmp_path / "b")) is False
    assert not (tmp_path / "b").exists()


def test_the_host_module_is_standard_library_only() -> None:
    code = (
        "import sys, toolcache.host\n"
        "print(sorted(m for m in sys.modules if m.startswith(('packaging', 'toolcache.'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "['toolcache.host']"


def test_files_are_cloned_with_clonefile_where_the_host_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stands in for macOS (APFS), where files placed from the unpacked-wheel cache are made
    by ``clonefile(2)``: with the host's link strategy set to it, ``_clone`` asks
    ``host.clonefile`` first and copies only when it says no."""
    from toolcache.envs import install

    asked: list[tuple[str, str]] = []

    def clonefile(source: str, target: str) -> bool:
        asked.append((source, target))
        Path(target).write_bytes(Path(source).read_bytes())
        return True

    source = tmp_path / "source"
    source.write_bytes(b"data")
    monkeypatch.setattr(install, "_LINK", host_mod.CLONEFILE)
    monkeypatch.setattr(host_mod, "clonefile", clonefile)
    install._clone(str(source), str(tmp_path / "cloned"))
    assert asked == [(str(source), str(tmp_path / "cloned"))]

    monkeypatch.setattr(host_mod, "clonefile", lambda source, target: False)  # not APFS
    install._clone(str(source), str(tmp_path / "copied"))
    assert (tmp_path / "copied").read_bytes() == b"data"
