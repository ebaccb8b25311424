"""Interpreter probing, hashing and discovery, against the real interpreters on this machine."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import packaging
import pytest

from toolcache import host as host_module
from toolcache import interpreter as interpreter_module
from toolcache import paths
from toolcache.discovery import PythonRequest, find_interpreter, parse_request
from toolcache.errors import InterpreterNotFound, InterpreterProbeFailed, ToolcacheError
from toolcache.interpreter import Interpreter, probe

# Read before the autouse fixture points HOME at a temporary directory.
PYENV_ROOT = Path(os.environ.get("PYENV_ROOT") or "~/.pyenv").expanduser()
_VERSION_DIR = re.compile(r"(\d+)\.(\d+)\.(\d+)")


def _pyenv_pythons() -> dict[tuple[int, int], Path]:
    found: dict[tuple[int, int], Path] = {}
    for folder in sorted((PYENV_ROOT / "versions").glob("*")):
        match = _VERSION_DIR.fullmatch(folder.name)
        exe = folder / "bin" / "python"
        if match and exe.is_file():
            found[(int(match.group(1)), int(match.group(2)))] = exe
    return found


PYENV = _pyenv_pythons()
MODERN = {v: p for v, p in PYENV.items() if v >= (3, 8)}
OLD = {v: p for v, p in PYENV.items() if v in {(2, 7), (3, 6)}}
_PYPY = shutil.which("pypy3")
PYPY = Path(_PYPY) if _PYPY else None
REAL = [*MODERN.values(), *([PYPY] if PYPY else [])]
PACKAGING_PARENT = Path(packaging.__file__).parent


def _ids(path: Path) -> str:
    return "pypy3" if path == PYPY else path.parent.parent.name


def _need(*versions: tuple[int, int]) -> list[Path]:
    missing = [v for v in versions if v not in PYENV]
    if missing:
        pytest.skip(f"pyenv Pythons {missing} not installed")
    return [PYENV[v] for v in versions]


needs_real = pytest.mark.skipif(not REAL, reason="no pyenv Python 3.8+ and no pypy3")


@pytest.mark.parametrize("exe", REAL, ids=_ids)
def test_tags_equal_sys_tags_inside_the_interpreter(exe: Path, tmp_path: Path) -> None:
    # packaging's own source, alone on sys.path: nothing is installed into the interpreter.
    only = tmp_path / "only-packaging"
    only.mkdir()
    (only / "packaging").symlink_to(PACKAGING_PARENT, target_is_directory=True)
    proc = subprocess.run(
        [str(exe), "-c", "from packaging.tags import sys_tags\nfor t in sys_tags(): print(t)"],
        env={**os.environ, "PYTHONPATH": str(only)},
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        pytest.skip(f"packaging {packaging.__version__} does not import on {exe}")
    found = probe(exe, tmp_path / "cache")
    assert list(found.tags) == proc.stdout.split()
    assert [str(t) for t in found.target().tags] == proc.stdout.split()


@pytest.mark.parametrize("exe", REAL, ids=_ids)
def test_probe_reports_the_interpreter(exe: Path, tmp_path: Path) -> None:
    found = probe(exe, tmp_path)
    code = "import sys, platform; print(sys.implementation.name, platform.python_version())"
    name, version = subprocess.run(
        [str(exe), "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert (found.implementation_name, found.python_full_version) == (name, version)
    assert found.executable == exe
    assert found.realpath == exe.resolve()
    assert set(found.markers) == {
        "implementation_name",
        "implementation_version",
        "os_name",
        "platform_machine",
        "platform_python_implementation",
        "platform_release",
        "platform_system",
        "platform_version",
        "python_full_version",
        "python_version",
        "sys_platform",
    }
    assert found.target().markers["python_full_version"] == version
    assert re.fullmatch(r"[0-9a-f]{64}", found.interpreter_hash())
    assert found.hash == found.interpreter_hash()


@pytest.mark.parametrize("exe", REAL, ids=_ids)
def test_hash_is_the_same_across_cache_roots_and_paths(exe: Path, tmp_path: Path) -> None:
    # Another runner: another cache, and the interpreter reached through another directory.
    elsewhere = tmp_path / "runner" / "bin"
    elsewhere.mkdir(parents=True)
    (elsewhere / "python3").symlink_to(exe)
    first = probe(exe, tmp_path / "cache-a")
    second = probe(exe, tmp_path / "cache-b")
    linked = probe(elsewhere / "python3", tmp_path / "cache-c")
    assert first.hash == second.hash == linked.hash
    assert linked.executable == elsewhere / "python3"
    assert linked.realpath == first.realpath


def test_hash_payload_leaves_out_paths_and_host(tmp_path: Path) -> None:
    if not REAL:
        pytest.skip("no real interpreter")
    found = probe(REAL[0], tmp_path)
    payload = interpreter_module.hash_payload(found.probe_data, list(found.tags))
    text = repr(payload)
    assert payload["format"] == interpreter_module.HASH_FORMAT
    for private in (str(found.prefix), str(found.executable), found.markers["platform_release"]):
        assert private not in text
    assert "platform_version" not in payload


def test_different_versions_hash_differently(tmp_path: Path) -> None:
    if len(REAL) < 2:
        pytest.skip("needs two interpreters")
    hashes = {probe(exe, tmp_path).hash for exe in REAL}
    assert len(hashes) == len(REAL)


def test_cached_probe_spawns_nothing_until_the_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not MODERN:
        pytest.skip("no pyenv Python 3.8+")
    # A copy, so touching it leaves the real interpreter alone.
    exe = tmp_path / "bin" / "python3"
    exe.parent.mkdir()
    shutil.copy2(next(iter(MODERN.values())).resolve(), exe)
    cache = tmp_path / "cache"
    first = probe(exe, cache)
    files = list(paths.interpreter_cache_dir(cache).glob("*.json"))
    assert len(files) == 1

    def no_spawn(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("spawned a process for a cached probe")

    with monkeypatch.context() as m:
        m.setattr(subprocess, "run", no_spawn)
        m.setattr(subprocess, "Popen", no_spawn)
        assert probe(exe, cache) == first
        st = exe.stat()
        os.utime(exe, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        with pytest.raises(AssertionError, match="spawned"):
            probe(exe, cache)
    assert probe(exe, cache) == first  # re-probed; the same interpreter still
    assert not list(paths.interpreter_cache_dir(cache).glob(".*.tmp"))


def test_a_damaged_cache_file_is_probed_again(tmp_path: Path) -> None:
    if not REAL:
        pytest.skip("no real interpreter")
    first = probe(REAL[0], tmp_path)
    for file in paths.interpreter_cache_dir(tmp_path).glob("*.json"):
        file.write_text("{not json")
    assert probe(REAL[0], tmp_path) == first


@pytest.mark.parametrize("version", [(2, 7), (3, 6)], ids=["2.7", "3.6"])
def test_old_pythons_are_too_old(version: tuple[int, int], tmp_path: Path) -> None:
    (exe,) = _need(version)
    expected = (
        f"Python {version[0]}.{version[1]} at {exe} is too old: "
        "toolcache environments need 3.8 or newer"
    )
    with pytest.raises(InterpreterProbeFailed) as info:
        probe(exe, tmp_path)
    assert str(info.value) == expected


def _script(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def test_a_shell_script_is_not_python(tmp_path: Path) -> None:
    fake = _script(tmp_path / "bin" / "python3.12", "echo hello; exit 1")
    with pytest.raises(InterpreterProbeFailed) as info:
        probe(fake, tmp_path / "cache")
    message = str(info.value)
    assert str(fake) in message
    assert "not a working Python" in message
    assert "\n" not in message


def test_a_file_that_cannot_run(tmp_path: Path) -> None:
    junk = tmp_path / "python3"
    junk.write_bytes(b"\x00\x01garbage")
    junk.chmod(0o755)
    with pytest.raises(InterpreterProbeFailed, match=re.escape(str(junk))):
        probe(junk, tmp_path / "cache")
    with pytest.raises(InterpreterProbeFailed, match="No such file"):
        probe(tmp_path / "missing", tmp_path / "cache")


def test_a_hanging_interpreter_times_out(tmp_path: Path) -> None:
    hang = _script(tmp_path / "python3", "exec sleep 30")
    with pytest.raises(InterpreterProbeFailed, match="no answer within"):
        probe(hang, tmp_path / "cache", timeout=0.5)


# --- requests ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "implementation", "specifier", "exact"),
    [
        ("3", None, "==3.*", True),
        ("3.12", None, "==3.12.*", True),
        ("3.12.1", None, "==3.12.1", True),
        (">=3.10", None, ">=3.10", False),
        (">=3.10,<3.13", None, "<3.13,>=3.10", False),
        ("cpython3.12", "cpython", "==3.12.*", True),
        ("cpython@3.12", "cpython", "==3.12.*", True),
        ("cp312", "cpython", "==3.12.*", True),
        ("CPython", "cpython", "", False),
        ("pypy", "pypy", "", False),
        ("pypy3", "pypy", "==3.*", True),
        ("pypy3.10", "pypy", "==3.10.*", True),
        ("pypy@3.10", "pypy", "==3.10.*", True),
        ("pypy@>=3.9", "pypy", ">=3.9", False),
    ],
)
def test_parse_version_requests(
    text: str, implementation: str | None, specifier: str, exact: bool
) -> None:
    assert parse_request(text) == PythonRequest(
        text=text, implementation=implementation, specifier=specifier, exact=exact
    )


def test_parse_default_and_paths(tmp_path: Path) -> None:
    assert parse_request(None).default
    assert parse_request("/usr/bin/python3").path == Path("/usr/bin/python3")
    assert parse_request("./venv/bin/python").path == Path("venv/bin/python")
    assert parse_request("~/py/bin/python").path == Path.home() / "py/bin/python"


@pytest.mark.parametrize("text", ["", "bogus", "python", "312", "3.x", ">=3.x", "jython3"])
def test_parse_rejects_bad_requests(text: str) -> None:
    with pytest.raises(ToolcacheError, match=r"expected a path .* pypy@3\.10"):
        parse_request(text)


# --- discovery ---------------------------------------------------------------------------------


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A machine with nothing on it: an empty PATH and no version-manager or system folders."""
    root = tmp_path / "machine"
    (root / "bin").mkdir(parents=True)
    monkeypatch.setenv("PATH", str(root / "bin"))
    monkeypatch.setenv("PYENV_ROOT", str(root / "pyenv"))
    for name in ("RUNNER_TOOL_CACHE", "UV_PYTHON_INSTALL_DIR", "ASDF_DATA_DIR", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)
    # System folders (/usr/bin, the runner's tool cache, ...) looked up in an empty folder.
    empty = host_module.for_platform(sys.platform, root=root / "system")
    monkeypatch.setattr(host_module, "current", lambda: empty)
    return root


def _link(link: Path, target: Path) -> Path:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)
    return link


def _pyenv_version(machine: Path, version: tuple[int, int]) -> Path:
    real = PYENV[version].resolve().parent.parent  # versions/3.12.1
    return _link(machine / "pyenv" / "versions" / real.name / "bin" / "python3", PYENV[version])


def test_find_on_path_then_in_version_folders(machine: Path, tmp_path: Path) -> None:
    p311, p312, p313 = _need((3, 11), (3, 12), (3, 13))
    on_path_312 = _link(machine / "bin" / "python3.12", p312)
    on_path_3 = _link(machine / "bin" / "python3", p311)
    pyenv_313 = _pyenv_version(machine, (3, 13))
    _pyenv_version(machine, (3, 12))
    cache = tmp_path / "cache"

    assert find_interpreter(None, cache).executable == on_path_3
    assert find_interpreter("3", cache).executable == on_path_3  # first on PATH
    assert find_interpreter("3.12", cache).executable == on_path_312
    assert find_interpreter("cp312", cache).executable == on_path_312
    assert find_interpreter("3.13", cache).executable == pyenv_313
    assert find_interpreter(">=3.10", cache).executable == pyenv_313  # the highest
    # A tie between PATH and a folder goes to PATH.
    assert find_interpreter(">=3.10,<3.13", cache).executable == on_path_312
    assert find_interpreter(str(p313), cache).executable == p313
    full = find_interpreter("3.13", cache).python_full_version
    assert find_interpreter(full, cache).executable == pyenv_313


def test_not_found_lists_what_was_found(machine: Path, tmp_path: Path) -> None:
    (p312,) = _need((3, 12))
    _link(machine / "bin" / "python3", p312)
    with pytest.raises(InterpreterNotFound) as info:
        find_interpreter("3.99", tmp_path / "cache")
    message = str(info.value)
    assert info.value.request == "3.99"
    assert "found cpython 3.12." in message
    assert "\n" not in message
    with pytest.raises(InterpreterNotFound, match="does not exist"):
        find_interpreter(str(tmp_path / "nope" / "python"), tmp_path / "cache")


def test_a_fake_python_on_path_is_reported(machine: Path, tmp_path: Path) -> None:
    fake = _script(machine / "bin" / "python3.12", "echo 'not python'")
    with pytest.raises(InterpreterNotFound) as info:
        find_interpreter("3.12", tmp_path / "cache")
    assert f"cannot probe Python at {fake}" in str(info.value)
    with pytest.raises(InterpreterProbeFailed, match=re.escape(str(fake))):
        find_interpreter(str(fake), tmp_path / "cache")


def test_old_pythons_are_skipped_by_discovery(machine: Path, tmp_path: Path) -> None:
    (p36,) = _need((3, 6))
    _link(machine / "bin" / "python3.6", p36)
    with pytest.raises(InterpreterNotFound, match="too old"):
        find_interpreter("3.6", tmp_path / "cache")


@pytest.mark.skipif(PYPY is None, reason="pypy3 is not installed")
def test_find_pypy(machine: Path, tmp_path: Path) -> None:
    assert PYPY is not None
    pypy = _link(machine / "bin" / "pypy3", PYPY)
    found = find_interpreter("pypy", tmp_path / "cache")
    assert (found.executable, found.implementation_name) == (pypy, "pypy")
    version = ".".join(map(str, found.version))
    assert find_interpreter(f"pypy{version}", tmp_path / "cache") == found
    assert find_interpreter(f"pypy@{version}", tmp_path / "cache") == found
    with pytest.raises(InterpreterNotFound):
        find_interpreter("cpython", tmp_path / "cache")
    if found.version in PYENV:
        # Without an implementation, CPython is preferred.
        cpython = _link(machine / "bin" / f"python{version}", PYENV[found.version])
        assert find_interpreter(version, tmp_path / "cache").executable == cpython


def test_module_imports_no_tag_code() -> None:
    code = (
        "import sys, toolcache.interpreter\n"
        "print(sorted(m for m in sys.modules if m.startswith('packaging')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_interpreter_is_hashable_and_frozen(tmp_path: Path) -> None:
    if not REAL:
        pytest.skip("no real interpreter")
    found: Interpreter = probe(REAL[0], tmp_path)
    assert hash(found) == hash(probe(REAL[0], tmp_path))


def test_a_compatible_release_request_is_a_specifier_not_a_home_folder() -> None:
    request = parse_request("~=3.11")
    assert request.path is None
    assert request.specifier == "~=3.11"
    assert parse_request("~/py/bin/python").path is not None


def test_a_path_too_long_is_not_found_not_a_crash(tmp_path: Path) -> None:
    with pytest.raises(InterpreterNotFound):
        find_interpreter("/x/" + "a" * 5000 + "/python", tmp_path)
