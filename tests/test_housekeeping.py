"""``toolcache list`` and ``toolcache gc`` on a cache made by real runs."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import Dists
from tests.support.index import LocalIndex
from toolcache.commands.gc import parse_duration, parse_size
from toolcache.errors import ToolcacheError


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "toolcache", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def age(env_path: Path, seconds: float) -> None:
    """Pretend the environment was last used ``seconds`` ago."""
    moment = time.time() - seconds
    os.utime(env_path / "toolcache-last-used", (moment, moment))


def envs_listed(cwd: Path) -> dict[str, dict[str, object]]:
    doc = json.loads(cli("list", "--format", "json", cwd=cwd).stdout)
    assert doc["version"] == 1
    return {e["id"]: e for e in doc["environments"]}


def test_list_and_gc(tmp_path: Path, local_index: LocalIndex, dists: Dists) -> None:
    alpha = dists.wheel("alpha", "1.0", console_scripts={"alpha": "alpha:main"})
    local_index.add(alpha)
    local_index.add(dists.wheel("beta", "1.0", console_scripts={"beta": "beta:main"}))
    manifest = tmp_path / "tools.yaml"
    head = f"index-url: {local_index.url}\npython: {sys.executable}\ntools:\n"
    manifest.write_text(head + "  a: alpha\n  b: beta\n")
    cli("run", "-m", str(manifest), "a", cwd=tmp_path)
    cli("run", "-m", str(manifest), "b", cwd=tmp_path)

    listed = envs_listed(tmp_path)
    assert len(listed) == 2
    users = sorted(u for e in listed.values() for u in e["used-by"])  # type: ignore[attr-defined]
    assert users == [f"{manifest}:a", f"{manifest}:b"]
    for env in listed.values():
        assert env["size"] > 0  # type: ignore[operator]
        assert env["problem"] is None
    text = cli("list", cwd=tmp_path).stdout
    assert "2 environments" in text and f"{manifest}:a" in text

    # Nothing unreferenced yet: gc removes nothing.
    assert "freed 0 B (0 of 2 environments, 0 unpacked wheels" in cli("gc", cwd=tmp_path).stdout

    # Tool b leaves the manifest: its environment is unreferenced, but it was used a moment
    # ago, so it counts as in use and stays.
    manifest.write_text(head + "  a: alpha\n")
    cli("plan", "-m", str(manifest), cwd=tmp_path)
    (b_id,) = [i for i, e in listed.items() if e["used-by"] == [f"{manifest}:b"]]
    (a_id,) = [i for i in listed if i != b_id]
    out = cli("gc", cwd=tmp_path).stdout
    assert "(0 of 2 environments, 0 unpacked wheels" in out
    assert f"kept {b_id}: in use (used within the last 5 minutes)" in out

    b_path = Path(str(listed[b_id]["path"]))
    age(b_path, 3600)
    dry = cli("gc", "--dry-run", cwd=tmp_path).stdout
    assert f"would remove {b_id}: no known manifest uses it" in dry
    assert b_path.exists()
    unpacked = Path(os.environ["TOOLCACHE_CACHE_DIR"]) / "files-v1" / "unpacked"
    assert len(list(unpacked.glob("*/*"))) == 2
    out = cli("gc", cwd=tmp_path).stdout
    assert f"removed {b_id}: no known manifest uses it" in out
    assert "(1 of 2 environments, 1 unpacked wheels no environment uses)" in out
    assert not b_path.exists()
    assert list(envs_listed(tmp_path)) == [a_id]
    # alpha's unpacked wheel stays: its environment was built from it (its files are clones,
    # so no link count says so: the receipt does).
    (kept,) = unpacked.glob("*/*")
    assert kept.name == hashlib.sha256(alpha.read_bytes()).hexdigest()

    # --max-age removes even a referenced environment not used for that long...
    a_path = Path(str(listed[a_id]["path"]))
    age(a_path, 10 * 86400)
    assert (
        f"removed {a_id}: not used within --max-age"
        in cli("gc", "--max-age", "7d", cwd=tmp_path).stdout
    )
    # ... and the next run rebuilds it.
    assert cli("run", "-m", str(manifest), "a", "hi", cwd=tmp_path).stdout.startswith("alpha 1.0")


def test_max_size_removes_least_recently_used(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    local_index.add(dists.wheel("alpha", "1.0"))
    local_index.add(dists.wheel("beta", "1.0"))
    manifest = tmp_path / "tools.yaml"
    manifest.write_text(
        f"index-url: {local_index.url}\npython: {sys.executable}\ntools:\n  a: alpha\n  b: beta\n"
    )
    for tool in ("a", "b"):
        subprocess.run(
            [sys.executable, "-m", "toolcache", "run", "-m", str(manifest), tool],
            cwd=tmp_path, capture_output=True, check=False,
        )  # fmt: skip
    listed = envs_listed(tmp_path)
    older, newer = sorted(listed, key=lambda i: "b" in str(listed[i]["used-by"]))
    age(Path(str(listed[older]["path"])), 7200)
    age(Path(str(listed[newer]["path"])), 3600)
    out = cli("gc", "--max-size", "1", cwd=tmp_path).stdout
    assert f"removed {older}: least recently used over --max-size" in out
    assert f"removed {newer}: least recently used over --max-size" in out


def test_parse_duration_and_size() -> None:
    assert parse_duration("30d") == 30 * 86400
    assert parse_duration("1.5h") == 5400
    assert parse_size("2G") == 2 * 1024**3
    assert parse_size("500MiB") == 500 * 1024**2
    assert parse_size("123") == 123
    with pytest.raises(ToolcacheError, match="not a duration"):
        parse_duration("soon")
    with pytest.raises(ToolcacheError, match="not a size"):
        parse_size("big")
