"""``restore``: archives of several environments are read and written at once, and the
environments no archive gave are built at once."""

from __future__ import annotations

import io
import json
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import Dists
from tests.support.index import LocalIndex
from tests.test_run import TOOL_MODULE, toolcache
from toolcache.commands import restore as restore_command
from toolcache.lockfile.planning import LockMode
from toolcache.output import Output
from toolcache.store import ArchiveKey, Download, Store
from toolcache.store.local import FolderStore


class MeetingStore(FolderStore):
    """A folder store whose ``open`` waits until ``parties`` archives are open at once: a
    restore that reads one archive after another never gets past the first."""

    def __init__(self, root: Path, parties: int) -> None:
        super().__init__(root, read_only=True)
        self.barrier = threading.Barrier(parties, timeout=20)

    @contextmanager
    def open(self, key: ArchiveKey) -> Iterator[Download | None]:
        self.barrier.wait()
        with super().open(key) as download:
            yield download


NAMES = ("one", "two", "three")


def three_tools(tmp_path: Path, local_index: LocalIndex, dists: Dists) -> Path:
    """A project (its manifest returned) of three tools, each its own package and environment."""
    for name in NAMES:
        local_index.add(
            dists.wheel(
                name,
                "1.0",
                console_scripts={name: f"{name}:main"},
                files={f"{name}/__init__.py": TOOL_MODULE.replace("lintme", name)},
            )
        )
    project = tmp_path / "project"
    project.mkdir()
    manifest = project / "tools.yaml"
    manifest.write_text(
        f"index-url: {local_index.url}\npython: {sys.executable}\ntools:\n"
        + "".join(f"  {name}:\n    from: {name}\n" for name in NAMES),
        encoding="utf-8",
    )
    return manifest


def test_archives_of_several_environments_are_restored_at_once(
    tmp_path: Path, local_index: LocalIndex, dists: Dists, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = three_tools(tmp_path, local_index, dists)
    project = manifest.parent
    archives = tmp_path / "archives"
    runner_a = {"TOOLCACHE_CACHE_DIR": str(tmp_path / "a")}
    made = toolcache("-m", "toolcache", "restore", "-m", str(manifest), cwd=project, env=runner_a)
    assert made.returncode == 0, made.stderr
    built = toolcache("-m", "toolcache", "export", "-m", str(manifest), "--to", str(archives),
                      cwd=project, env=runner_a)  # fmt: skip
    assert built.returncode == 0, built.stderr
    assert len(list(archives.glob("*.tar.zst"))) == 3

    store = MeetingStore(archives, parties=3)

    def store_or_folder(*args: object, **kwargs: object) -> Store:
        return store

    monkeypatch.setattr(restore_command, "store_or_folder", store_or_folder)
    out = io.StringIO()
    output = Output(quiet=True, out=out, err=io.StringIO())
    code = restore_command.restore(
        manifest,
        [],
        cache_root=tmp_path / "b",
        from_=None,
        store=None,
        no_build=True,
        mode=LockMode.LOCKED,
        offline=True,
        output_format="json",
        output=output,
    )
    assert code == 0
    statuses = {k: v["status"] for k, v in json.loads(out.getvalue())["tools"].items()}
    assert statuses == {"one": "restored", "two": "restored", "three": "restored"}
    assert not store.barrier.broken


def test_environments_no_archive_gave_are_built_at_once(
    tmp_path: Path, local_index: LocalIndex, dists: Dists, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three tools, no archives: their builds run side by side (each waits for the other two
    to have started: builds one after another never get past the first)."""
    from toolcache.envs import store as env_store

    manifest = three_tools(tmp_path, local_index, dists)
    barrier = threading.Barrier(len(NAMES), timeout=20)
    real_ensure = env_store.ensure

    def meeting_ensure(*args: object, **kwargs: object) -> env_store.Environment:
        barrier.wait()
        return real_ensure(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(env_store, "ensure", meeting_ensure)
    out = io.StringIO()
    code = restore_command.restore(
        manifest,
        [],
        cache_root=tmp_path / "cache",
        from_=tmp_path / "no-archives",
        store=None,
        no_build=False,
        mode=LockMode.AUTO,
        offline=False,
        output_format="json",
        output=Output(quiet=True, out=out, err=io.StringIO()),
    )
    assert code == 0
    statuses = {k: v["status"] for k, v in json.loads(out.getvalue())["tools"].items()}
    assert statuses == dict.fromkeys(NAMES, "built")
    assert not barrier.broken
    for name in NAMES:
        env = Path(json.loads(out.getvalue())["tools"][name]["environment"])
        assert (env / "bin" / name).exists()
