"""Installing a wheel from its unpacked tree: what ``installer`` writes, linked from the cache."""

from __future__ import annotations

import base64
import csv
import errno
import hashlib
import io
import os
import shutil
import subprocess
import sys
import threading
import zipfile
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.conftest import Dists
from tests.envs.locks import lock_tool
from tests.support.index import LocalIndex
from toolcache.envs import files as file_list
from toolcache.envs import install, store, unpacked
from toolcache.index import client as client_mod
from toolcache.interpreter import probe

DIST_INFO = "demo-1.0.dist-info"
DATA = "demo-1.0.data"
RECORD = f"{DIST_INFO}/RECORD"


def _hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode().rstrip("=")


def make_wheel(
    dest: Path,
    files: Mapping[str, bytes] | None = None,
    *,
    executable: tuple[str, ...] = (),
    record_override: Mapping[str, bytes] | None = None,
    name: str = "demo-1.0-py3-none-any.whl",
) -> Path:
    """A wheel of ``demo`` 1.0 with ``files`` (archive path -> bytes), the ``executable`` ones
    with mode 755; RECORD lists ``record_override`` contents instead where given."""
    entries = dict(
        files
        or {
            "demo/__init__.py": b"def main():\n    print('demo')\n",
            "demo/tool.sh": b"#!/bin/sh\necho tool\n",
            f"{DATA}/scripts/demo-script": b"#!python\nprint('script')\n",
            f"{DATA}/scripts/plain": b"#!/bin/sh\necho plain\n",
            f"{DATA}/data/share/demo/readme.txt": b"data file\n",
            f"{DATA}/headers/demo.h": b"int demo;\n",
        }
    )
    entries[f"{DIST_INFO}/METADATA"] = b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"
    entries[f"{DIST_INFO}/WHEEL"] = (
        b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    entries[f"{DIST_INFO}/entry_points.txt"] = b"[console_scripts]\ndemo = demo:main\n"
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for path, data in entries.items():
        listed = (record_override or {}).get(path, data)
        writer.writerow([path, _hash(listed), len(listed)])
    writer.writerow([RECORD, "", ""])
    entries[RECORD] = record.getvalue().encode()
    dest.mkdir(parents=True, exist_ok=True)
    wheel = dest / name
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in entries.items():
            info = zipfile.ZipInfo(path)
            mode = 0o755 if path in executable or "/scripts/" in path else 0o644
            info.external_attr = (0o100000 | mode) << 16
            archive.writestr(info, data)
    return wheel


def layout_of(env: Path) -> install.Layout:
    site = env / "lib" / "python3.x" / "site-packages"
    return install.Layout(
        purelib=site,
        platlib=site,
        headers=env / "include" / "site" / "python3.x",
        scripts=env / "bin",
        data=env,
    )


def snapshot(env: Path) -> dict[str, tuple[bytes, bool]]:
    """Every file below ``env``: its bytes and whether it is executable."""
    found = {}
    for folder, _, files in os.walk(env):
        for name in files:
            path = Path(folder) / name
            found[str(path.relative_to(env))] = (
                path.read_bytes(),
                bool(path.stat().st_mode & 0o100),
            )
    return found


def install_both(tmp_path: Path, wheel: Path) -> tuple[Path, Path, unpacked.Unpacked]:
    """``wheel`` installed by ``installer`` into ``a`` and linked from its tree into ``b``."""
    python = tmp_path / "python"
    install.install_wheel(wheel, layout_of(tmp_path / "a"), python)
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    tree = unpacked.ensure(wheel, sha, tmp_path / "cache")
    install.install_wheel(tree.root, layout_of(tmp_path / "b"), python)
    return tmp_path / "a", tmp_path / "b", tree


def test_linked_install_writes_what_installer_writes(tmp_path: Path) -> None:
    by_installer, linked, _ = install_both(tmp_path, make_wheel(tmp_path / "w"))
    assert snapshot(linked) == snapshot(by_installer)
    files = snapshot(linked)
    assert files["bin/demo-script"][0].startswith(install.RELOCATABLE_HEADER)
    assert files["bin/demo"][0].startswith(install.RELOCATABLE_HEADER)
    assert files["bin/plain"] == (b"#!/bin/sh\necho plain\n", True)
    assert "share/demo/readme.txt" in files
    assert files[f"lib/python3.x/site-packages/{DIST_INFO}/INSTALLER"][0] == b"toolcache\n"
    record = files[f"lib/python3.x/site-packages/{DIST_INFO}/RECORD"][0].decode()
    assert "../../../bin/demo," in record and f"{RECORD},," in record


def test_installed_files_are_clones_an_edit_reaches_nothing_else(tmp_path: Path) -> None:
    _, linked, tree = install_both(tmp_path, make_wheel(tmp_path / "w"))
    module = linked / "lib" / "python3.x" / "site-packages" / "demo" / "__init__.py"
    cached = tree.files / "demo" / "__init__.py"
    assert module.read_bytes() == cached.read_bytes()
    assert module.stat().st_ino != cached.stat().st_ino
    before = cached.read_bytes()
    with module.open("ab") as f:
        f.write(b"# edited\n")
    assert cached.read_bytes() == before


def test_hardlink_mode_shares_the_cache_inode_and_written_ones_do_not(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "w")
    tree = unpacked.ensure(wheel, hashlib.sha256(wheel.read_bytes()).hexdigest(), tmp_path / "c")
    linked = tmp_path / "b"
    install.install_wheel(tree.root, layout_of(linked), tmp_path / "python", mode="hardlink")
    site = linked / "lib" / "python3.x" / "site-packages"
    module = site / "demo" / "__init__.py"
    assert module.stat().st_ino == (tree.files / "demo" / "__init__.py").stat().st_ino
    assert (site / "demo" / "tool.sh").stat().st_mode & 0o111 == 0
    for written in ("bin/demo", "bin/demo-script", f"{DIST_INFO}/RECORD", f"{DIST_INFO}/INSTALLER"):
        path = linked / written if written.startswith("bin/") else site / written
        assert path.stat().st_nlink == 1, written
    assert not (tree.files / RECORD).exists()


def test_the_tree_is_reused_and_not_changed_by_installs(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "w")
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    cache = tmp_path / "cache"
    first = unpacked.ensure(wheel, sha, cache)
    before = snapshot(first.root)
    install.install_wheel(first.root, layout_of(tmp_path / "env"), tmp_path / "python")
    wheel.unlink()
    again = unpacked.ensure(wheel, sha, cache)  # found: the wheel is not read again
    assert again == first
    assert snapshot(first.root) == before
    assert [p.name for p in first.root.parent.iterdir()] == [sha]


def test_concurrent_unpacks_of_one_wheel_agree(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "w")
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    results: list[unpacked.Unpacked] = []
    start = threading.Barrier(6)

    def work() -> None:
        start.wait()
        results.append(unpacked.ensure(wheel, sha, tmp_path / "cache"))

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 6 and len({r.root for r in results}) == 1
    assert [p.name for p in results[0].root.parent.iterdir()] == [sha]


def test_contents_that_disagree_with_record_are_refused(tmp_path: Path) -> None:
    wheel = make_wheel(
        tmp_path / "w",
        {"demo/__init__.py": b"evil = 1\n"},
        record_override={"demo/__init__.py": b"good = 1\n"},
    )
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    with pytest.raises(unpacked.UnpackError, match="does not match RECORD"):
        unpacked.ensure(wheel, sha, tmp_path / "cache")
    assert list((tmp_path / "cache" / "files-v1" / "unpacked" / sha[:2]).iterdir()) == []


def test_a_wheel_that_is_not_its_sha256_is_refused_before_unpacking(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "w", {"demo/__init__.py": b"x = 1\n"})
    with pytest.raises(unpacked.WheelMismatch, match="its sha256 is"):
        unpacked.ensure(wheel, "ab" * 32, tmp_path / "cache")
    assert not (tmp_path / "cache" / "files-v1" / "unpacked").exists()


@pytest.mark.parametrize(
    ("path", "reason"),
    [("../evil.py", "not a safe path"), (f"{DATA}/nowhere/x", "valid .data subdirectory")],
)
def test_unsafe_or_unplaceable_paths_are_refused(tmp_path: Path, path: str, reason: str) -> None:
    wheel = make_wheel(tmp_path / "w", {"demo/__init__.py": b"", path: b"x"})
    with pytest.raises(unpacked.UnpackError, match=reason):
        unpacked.ensure(wheel, hashlib.sha256(wheel.read_bytes()).hexdigest(), tmp_path / "cache")


def test_two_wheels_with_one_file_clash(tmp_path: Path) -> None:
    layout = layout_of(tmp_path / "env")
    for index, name in enumerate(("demo-1.0-py3-none-any.whl", "other-1.0-py3-none-any.whl")):
        wheel = make_wheel(tmp_path / f"w{index}", {"shared.py": b"x\n"}, name=name)
        sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
        tree = unpacked.ensure(wheel, sha, tmp_path / "cache")
        if index == 0:
            install.install_wheel(tree.root, layout, tmp_path / "python")
        else:
            with pytest.raises(install.InstallError, match="exists"):
                install.install_wheel(tree.root, layout, tmp_path / "python")


def test_files_are_copied_where_links_cannot_be_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel = make_wheel(tmp_path / "w")
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    tree = unpacked.ensure(wheel, sha, tmp_path / "cache")
    calls: list[str] = []

    def cross_device(src: object, dst: object) -> None:
        calls.append(str(dst))
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", cross_device)
    install.install_wheel(
        tree.root, layout_of(tmp_path / "b"), tmp_path / "python", mode="hardlink"
    )
    monkeypatch.undo()
    install.install_wheel(wheel, layout_of(tmp_path / "a"), tmp_path / "python")
    assert len(calls) == 1  # the first failure switches the rest of the wheel to copies
    assert snapshot(tmp_path / "b") == snapshot(tmp_path / "a")
    module = tmp_path / "b" / "lib" / "python3.x" / "site-packages" / "demo" / "__init__.py"
    assert module.stat().st_nlink == 1


def test_built_environments_clone_from_the_unpacked_cache_and_list_their_files(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    local_index.add(dists.wheel("lintme", "2.0", console_scripts={"lintme": "lintme:main"}))
    cache = tmp_path / "cache"
    manifest = f"index-url: {local_index.url}\npython: {sys.executable}\ntools:\n  lint: lintme\n"
    lock = lock_tool(tmp_path / "p", manifest, cache)
    env = store.ensure(lock, probe(Path(sys.executable), cache), cache)
    (package,) = lock.packages
    tree = unpacked.load(unpacked.tree_path(cache, package.sha256))
    assert tree is not None
    installed = next(env.path.glob("lib/*/site-packages/lintme/__init__.py"))
    cached = tree.files / "lintme" / "__init__.py"
    assert installed.read_bytes() == cached.read_bytes()
    assert installed.stat().st_ino != cached.stat().st_ino
    listed = file_list.read(env.path)
    assert listed is not None
    relative = installed.relative_to(env.path).as_posix()
    assert listed[relative] == (
        next(e.sha256 for e in tree.entries if e.path == "lintme/__init__.py"),
        cached.stat().st_size,
    )
    assert "bin/lintme" in listed
    assert file_list.check(env.path, full=True) == []
    proc = subprocess.run(
        [str(env.bin_dir / "lintme"), "x"], capture_output=True, text=True, check=False
    )
    assert proc.stdout == "lintme 2.0 x\n", proc.stderr


def test_a_rebuild_from_unpacked_wheels_needs_no_http_client(
    tmp_path: Path, local_index: LocalIndex, dists: Dists, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_index.add(dists.wheel("lintme", "2.0", console_scripts={"lintme": "lintme:main"}))
    cache = tmp_path / "cache"
    manifest = f"index-url: {local_index.url}\npython: {sys.executable}\ntools:\n  lint: lintme\n"
    lock = lock_tool(tmp_path / "p", manifest, cache)
    interpreter = probe(Path(sys.executable), cache)
    first = store.ensure(lock, interpreter, cache)
    shutil.rmtree(first.path)
    for wheel in (cache / "files-v1").glob("??/*/*.whl"):
        wheel.unlink()  # the tree is enough, offline too

    def no_client(*args: object, **kwargs: object) -> None:
        raise AssertionError("an HTTP client was made")

    monkeypatch.setattr(client_mod, "IndexClient", no_client)
    again = store.ensure(lock, interpreter, cache, offline=True)
    assert again.path == first.path
    proc = subprocess.run(
        [str(again.bin_dir / "lintme"), "y"], capture_output=True, text=True, check=False
    )
    assert proc.stdout == "lintme 2.0 y\n", proc.stderr
