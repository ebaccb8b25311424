"""The run hit record: what invalidates it and what must not."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from toolcache import _hit
from toolcache.envs import receipt


def make(tmp_path: Path) -> tuple[str, str, dict[str, Path]]:
    files = {}
    for name in ("tools.yaml", "pylock.t.toml", "python3", "base", "receipt.json"):
        path = tmp_path / name
        path.write_text(name)
        files[name] = path
    env_dir = tmp_path / "env"
    (env_dir / "bin").mkdir(parents=True)
    (env_dir / "bin" / "python").write_text("")
    root = str(tmp_path / "cache")
    manifest = str(files["tools.yaml"])
    record = _hit.fields(
        manifest=manifest,
        tool="t",
        lock=str(files["pylock.t.toml"]),
        interpreter=str(files["python3"]),
        base=str(files["base"]),
        receipt=str(files["receipt.json"]),
        env_dir=str(env_dir),
        bin_dir=str(env_dir / "bin"),
        argv=["tool", "--flag=a b", "tab\there", ""],
        environ=os.environ,
    )
    _hit.write(root, manifest, "t", record)
    return root, manifest, files


def test_round_trip_keeps_arguments_exactly(tmp_path: Path) -> None:
    root, manifest, _ = make(tmp_path)
    found = _hit.read(root, manifest, "t")
    assert found is not None
    env_dir, bin_dir, argv, tool_env = found
    assert tool_env == {}
    assert argv == ["tool", "--flag=a b", "tab\there", ""]
    assert env_dir == str(tmp_path / "env")
    assert bin_dir == str(tmp_path / "env" / "bin")
    assert _hit.read(root, manifest, "other") is None


def test_any_changed_file_invalidates(tmp_path: Path) -> None:
    for name in ("tools.yaml", "pylock.t.toml", "python3", "base", "receipt.json"):
        folder = tmp_path / name.replace(".", "_")
        folder.mkdir()
        root, manifest, files = make(folder)
        assert _hit.read(root, manifest, "t") is not None
        files[name].write_text(name + " changed")
        assert _hit.read(root, manifest, "t") is None, name


def test_missing_environment_python_invalidates(tmp_path: Path) -> None:
    root, manifest, _ = make(tmp_path)
    (tmp_path / "env" / "bin" / "python").unlink()
    assert _hit.read(root, manifest, "t") is None


def test_settings_change_invalidates_but_credentials_do_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UV_INDEX_URL", "https://user:one@mirror.example/simple")
    root, manifest, _ = make(tmp_path)
    monkeypatch.setenv("UV_INDEX_URL", "https://user:two@mirror.example/simple")
    assert _hit.read(root, manifest, "t") is not None
    monkeypatch.setenv("UV_INDEX_URL", "https://other.example/simple")
    assert _hit.read(root, manifest, "t") is None
    record = Path(_hit.record_path(root, manifest, "t")).read_text()
    assert "one" not in record and "mirror" not in record


def test_last_used_name_matches_receipts() -> None:
    assert _hit.LAST_USED == receipt.LAST_USED


def test_every_setting_variable_is_watched() -> None:
    """A variable ``settings.py`` reads but the hit record ignores would let a hit run a stale
    environment after that variable changed."""
    import re

    import toolcache.settings

    source = Path(toolcache.settings.__file__).read_text()
    read = set(re.findall(r'"((?:TOOLCACHE|UV|PIP)_[A-Z_]+)"', source))
    assert read
    assert read <= set(_hit.SETTINGS_ENV)
