"""Build and publish locks (``toolcache.mutex``) between processes and between threads."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from toolcache import mutex

REPO = Path(__file__).resolve().parent.parent
HOLD = (
    "import sys, time\n"
    "from pathlib import Path\n"
    "from toolcache import mutex\n"
    "with mutex.exclusive(Path(sys.argv[1])):\n"
    "    print('held', flush=True)\n"
    "    time.sleep(float(sys.argv[2]))\n"
)


def holder(path: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holding the lock on ``path`` for ``seconds`` (once it printed)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stdout is not None and proc.stdout.readline() == "held\n"
    return proc


def test_a_second_process_waits_for_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "env.lock"
    assert not mutex.is_locked(path)  # no file yet
    proc = holder(path, 1.0)
    try:
        assert mutex.is_locked(path)
        waited: list[float] = []
        started = time.monotonic()
        with mutex.exclusive(path, on_wait=lambda: waited.append(time.monotonic())):
            held_after = time.monotonic() - started
        assert len(waited) == 1
        assert held_after > 0.8, "the lock was taken while its holder still held it"
    finally:
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
    assert not mutex.is_locked(path)
    assert path.read_bytes() == b""  # a lock file holds no data


def test_a_killed_holder_leaves_no_lock(tmp_path: Path) -> None:
    path = tmp_path / "env.lock"
    proc = holder(path, 60.0)
    assert mutex.is_locked(path)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.stdout is not None
    proc.stdout.close()
    assert not mutex.is_locked(path)
    with mutex.exclusive(path, on_wait=lambda: (_ for _ in ()).throw(AssertionError("waited"))):
        pass


def test_threads_of_one_process_exclude_each_other(tmp_path: Path) -> None:
    path = tmp_path / "env.lock"
    inside = 0
    most = 0
    guard = threading.Lock()

    def work() -> None:
        nonlocal inside, most
        for _ in range(20):
            with mutex.exclusive(path):
                with guard:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0.001)
                with guard:
                    inside -= 1

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 1
