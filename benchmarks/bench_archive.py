"""Exporting and restoring an environment side by side with ``tar``/``zstd`` and with uv.

Usage: python benchmarks/bench_archive.py [--runs 5] [--workdir DIR]

Locks one realistic environment (mypy with ruff, black and types-requests, pinned, from the
live PyPI; ``exclude-newer`` pins the rest) and builds it with toolcache. Then, in one run, on
the same files:
- compression levels 1/3/6/9 of ``toolcache.archive.pack``: time and size of each (how the
  default level was chosen), and the time to restore each;
- export: ``pack`` at the default level (scan and hash every file, write the archive);
- restore: ``restore_environment`` into a fresh cache root (verify every member against the
  receipt, extract beside the target, relocate, health-check, publish), in this process and
  as a fresh ``python -c`` process (imports included); and ``toolcache restore --from`` as a
  CI job runs it, after a ``toolcache plan`` (not timed) on the same empty cache root (fresh
  processes run from toolcache's environment as the action installs it, ``bootstrap.py``);
- ``tar -cf - . | zstd -3`` and ``zstd -dc | tar -x`` of the environment folder;
- ``uv venv`` + ``uv pip install -r pylock.toml`` of the same lock from a warm uv cache
  (``UV_PYTHON_DOWNLOADS=never UV_NO_CONFIG=1``).
Prints medians, sizes and the ratios against the targets: restore <= 1.5x ``zstd -dc | tar
-x`` (the CLI's <= 1.0x) and an archive no larger than ``tar | zstd -3``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from toolcache.archive.contents import archive_name  # noqa: E402
from toolcache.archive.pack import LEVEL, pack  # noqa: E402
from toolcache.archive.restore import restore_environment  # noqa: E402
from toolcache.envs import store  # noqa: E402
from toolcache.interpreter import probe  # noqa: E402
from toolcache.keys import InterpreterHash  # noqa: E402
from toolcache.lockfile.document import read as read_lock  # noqa: E402
from toolcache.lockfile.selection import Selection, select  # noqa: E402

CUTOFF = "2026-11-01T00:00:00Z"
TOOL = "{from: mypy==2.4.1, with: [ruff==0.17.3, black==25.11.0, types-requests]}"
UV_ENV = {"UV_PYTHON_DOWNLOADS": "never", "UV_NO_CONFIG": "1"}
LEVELS = (1, 3, 6, 9)

# Runs in a fresh process: restores the archive into a new cache root, prints the seconds.
_RESTORE = """\
import json, sys, time
start = time.perf_counter()
from pathlib import Path
from toolcache.archive.restore import restore_environment
cache, archive, interp, res, exe = sys.argv[1:6]
with open(archive, "rb") as fh:
    restore_environment(fh, archive=Path(archive).name, cache_root=Path(cache),
        interpreter_hash=interp, resolution_hash=res, packages=None, executable=Path(exe),
        size_limit=4 << 30)
print(json.dumps(time.perf_counter() - start))
"""


def run(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=cwd, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} failed: {proc.stderr[-2000:]}")
    return proc.stdout


def settle() -> None:
    """Flush what the last run left to write, so it is not timed."""
    os.sync()
    time.sleep(0.2)


def timed(action: Callable[[Path], object], folder: Path, runs: int) -> float:
    """The median seconds of ``action(dest)``, each run given a new folder under ``folder``.

    Nothing is removed between runs (removing thousands of files keeps the disk busy long
    after ``rmtree`` returns); ``folder`` is removed after the last run.
    """
    times = []
    for i in range(runs):
        dest = folder / str(i)
        dest.mkdir(parents=True)
        settle()
        start = time.perf_counter()
        action(dest)
        times.append(time.perf_counter() - start)
    shutil.rmtree(folder)
    settle()
    return statistics.median(times)


def make_env(work: Path, cache: Path) -> tuple[Selection, store.Environment]:
    project = work / "project"
    project.mkdir()
    manifest = project / "tools.yaml"
    manifest.write_text(
        f"exclude-newer: {CUTOFF}\npython: {sys.executable}\ntools:\n  env: {TOOL}\n",
        encoding="utf-8",
    )
    run(
        [sys.executable, "-m", "toolcache", "lock", "-m", str(manifest), "--quiet"],
        env={"TOOLCACHE_CACHE_DIR": str(cache), "PYTHONPATH": str(REPO)},
    )
    lock = read_lock(project / "tools.lock" / "pylock.env.toml")
    assert lock is not None
    interpreter = probe(Path(sys.executable), cache)
    selection = select(
        lock, interpreter.target(), InterpreterHash(interpreter.hash), interpreter.describe()
    )
    return selection, store.ensure(selection, interpreter, cache)


def tree_stats(folder: Path) -> tuple[int, int]:
    files = size = 0
    for dirpath, _, names in os.walk(folder):
        for name in names:
            path = Path(dirpath, name)
            if not path.is_symlink():
                files += 1
                size += path.stat().st_size
    return files, size


def own_environment(work: Path) -> Path:
    """toolcache installed as the action installs it (``action/bootstrap.py install``): the
    fresh processes run from there, as on a runner, not from this machine's interpreter (whose
    site-packages may hold ``.pth`` files that cost more than the whole restore)."""
    own = work / "toolcache-env"
    run([sys.executable, str(REPO / "action" / "bootstrap.py"), "install", str(own)])
    return own


def cli_restore(
    own: Path, work: Path, archive: Path, lock: Selection, scratch: Path, runs: int
) -> float:
    """The median seconds of ``toolcache restore --from FOLDER`` as a CI job runs it: a fresh
    process on an empty cache root where ``toolcache plan`` (not timed) ran first."""
    folder = work / "cli-archives"
    folder.mkdir()
    shutil.copy(archive, folder / archive_name(lock.interpreter, lock.resolution))
    manifest = work / "project" / "tools.yaml"

    def cli(dest: Path, *args: str) -> str:
        return run(
            [str(own / "path" / "toolcache"), *args, "-m", str(manifest), "-q"],
            env={"TOOLCACHE_CACHE_DIR": str(dest)},
        )

    times = []
    for i in range(runs):
        dest = scratch / str(i)
        dest.mkdir(parents=True)
        cli(dest, "plan")
        settle()
        start = time.perf_counter()
        out = cli(dest, "restore", "--from", str(folder), "--format", "json")
        times.append(time.perf_counter() - start)
        status = json.loads(out)["tools"]["env"]["status"]
        if status != "restored":
            raise SystemExit(f"toolcache restore said {status!r}, not 'restored'")
    shutil.rmtree(scratch)
    settle()
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    for tool in ("uv", "zstd", "tar"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not on PATH")
    runs = args.runs
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp_name:
        work = Path(tmp_name)
        cache = work / "tc-cache"
        lock, env = make_env(work, cache)
        files, raw_size = tree_stats(env.path)
        print(f"environment: {len(lock.packages)} packages, {files} files, {raw_size / 1e6:.1f} MB")
        own = own_environment(work)
        info = {"implementation": "cpython", "version": sys.version.split()[0], "platform": "?"}
        archives = work / "archives"
        archives.mkdir()

        def restore_once(archive: Path, root: Path) -> None:
            with archive.open("rb") as fh:
                restore_environment(
                    fh,
                    archive=archive.name,
                    cache_root=root,
                    interpreter_hash=lock.interpreter,
                    resolution_hash=lock.resolution,
                    packages=None,
                    executable=Path(sys.executable),
                    size_limit=4 << 30,
                )

        scratch = work / "scratch"
        print("\nlevel  export   size      restore")
        level_rows = {}
        for level in LEVELS:
            target = archives / f"level{level}.tar.zst"

            def export_to(dest: Path, level: int = level) -> object:
                return pack(env.path, dest / "a.tar.zst", interpreter=info, level=level)

            def restore_to(dest: Path, target: Path = target) -> None:
                restore_once(target, dest)

            export_s = timed(export_to, scratch, runs)
            pack(env.path, target, interpreter=info, level=level)
            restore_s = timed(restore_to, scratch, runs)
            size = target.stat().st_size
            level_rows[level] = (export_s, size, restore_s)
            print(f"{level:>5}  {export_s:6.3f}s  {size / 1e6:6.2f} MB  {restore_s:6.3f}s")

        ours = archives / f"level{LEVEL}.tar.zst"
        export_s, our_size, restore_s = level_rows[LEVEL]

        def fresh_process(dest: Path) -> None:
            out = run(
                [
                    str(own / "bin" / "python"),
                    "-c",
                    _RESTORE,
                    str(dest),
                    str(ours),
                    lock.interpreter,
                    lock.resolution,
                    sys.executable,
                ],
            )
            float(json.loads(out))

        process_s = timed(fresh_process, scratch, runs)
        cli_s = cli_restore(own, work, ours, lock, scratch, runs)
        start_s = timed(lambda d: run([str(own / "bin" / "python"), "-c", "pass"]), scratch, runs)

        def tar_zstd(options: str, out: Path) -> None:
            run(["sh", "-c", f"tar -C '{env.path}' -cf - . | zstd {options} -q -o '{out}'"])

        tar_s = timed(lambda d: tar_zstd("-3", d / "a.tar.zst"), scratch, runs)
        tar_t0_s = timed(lambda d: tar_zstd("-3 -T0", d / "a.tar.zst"), scratch, runs)
        theirs = archives / "tar-zstd3.tar.zst"
        tar_t0 = archives / "tar-zstd3-T0.tar.zst"
        tar_zstd("-3", theirs)
        tar_zstd("-3 -T0", tar_t0)
        their_size = theirs.stat().st_size
        untar_s = timed(
            lambda d: run(["sh", "-c", f"zstd -dc '{theirs}' | tar -x -C '{d}'"]), scratch, runs
        )

        uv_cache = work / "uv-cache"
        pylock = lock.path

        def uv_install(dest: Path) -> None:
            uv_venv = dest / "venv"
            run(
                ["uv", "venv", "--quiet", "--python", sys.executable, "--cache-dir",
                 str(uv_cache), str(uv_venv)],
                env=UV_ENV,
            )  # fmt: skip
            run(
                ["uv", "pip", "install", "--quiet", "--python", str(uv_venv / "bin" / "python"),
                 "--cache-dir", str(uv_cache), "-r", str(pylock)],
                env=UV_ENV,
            )  # fmt: skip

        (work / "uv-warm").mkdir()
        uv_install(work / "uv-warm")  # fill the uv cache
        uv_s = timed(uv_install, scratch, runs)

        print(f"\nmedians of {runs} runs, {os.cpu_count()} cores")
        rows = [
            ("toolcache export (pack, level 3)", export_s, our_size),
            ("tar | zstd -3", tar_s, their_size),
            ("tar | zstd -3 -T0", tar_t0_s, tar_t0.stat().st_size),
            ("toolcache restore (in process)", restore_s, None),
            ("toolcache restore (fresh process)", process_s, None),
            ("toolcache plan; toolcache restore", cli_s, None),
            ("  (python -c pass there)", start_s, None),
            ("zstd -dc | tar -x", untar_s, None),
            ("uv venv + uv pip install (warm)", uv_s, None),
        ]
        for label, seconds, shown_size in rows:
            shown = f"  {shown_size / 1e6:6.2f} MB" if shown_size is not None else ""
            print(f"{label:<36} {seconds:7.3f}s{shown}")
        print()
        print(f"restore / zstd -dc | tar -x:       {restore_s / untar_s:.2f}x (target <= 1.5x)")
        print(f"restore (process) / zstd | tar -x: {process_s / untar_s:.2f}x")
        print(f"restore (CLI) / zstd | tar -x:     {cli_s / untar_s:.2f}x (target <= 1.0x)")
        print(f"archive / tar | zstd -3 size:      {our_size / their_size:.3f} (target <= 1.0)")
        print(f"export / tar | zstd -3:            {export_s / tar_s:.2f}x")
        print(f"restore / uv pip install (warm):   {restore_s / uv_s:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
