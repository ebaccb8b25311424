"""``toolcache gc`` never removes an environment a tool is running from, whatever its age.

Real tools started through ``toolcache run`` (the cache-hit path and the full one), real
``gc`` processes: the running tool holds the lock, not the test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import Dists
from tests.support.index import LocalIndex

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="the exec'd tool holds the lock on POSIX only"
)

#: Without arguments: exit 0 at once. Else ``STARTED RELEASE CODE``: write the descriptors it
#: holds (``fd:dev:ino``) to STARTED, wait for RELEASE to exist, exit with CODE.
SLEEPER = """\
import os
import sys
import time


def main():
    if not sys.argv[1:]:
        return 0
    started, release, code = sys.argv[1], sys.argv[2], int(sys.argv[3])
    held = []
    for fd in range(3, 1024):
        try:
            st = os.fstat(fd)
        except OSError:
            continue
        held.append(f"{fd}:{st.st_dev}:{st.st_ino}")
    with open(started + ".tmp", "w") as fh:
        fh.write(" ".join(held))
    os.replace(started + ".tmp", started)
    deadline = time.monotonic() + 120
    while not os.path.exists(release) and time.monotonic() < deadline:
        time.sleep(0.02)
    return code
"""


def toolcache(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "toolcache", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def gc(cwd: Path) -> str:
    proc = toolcache("gc", "--max-age", "0s", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def prepare(tmp_path: Path, index: LocalIndex, dists: Dists) -> tuple[Path, Path, str]:
    """A manifest whose tool ``sleeper`` has run once; its path, environment and id."""
    index.add(
        dists.wheel(
            "sleeper",
            "1.0",
            console_scripts={"sleeper": "sleeper:main"},
            files={"sleeper/__init__.py": SLEEPER},
        )
    )
    manifest = tmp_path / "tools.yaml"
    manifest.write_text(
        f"index-url: {index.url}\npython: {sys.executable}\ntools:\n  sleeper: sleeper\n"
    )
    first = toolcache("run", "-m", str(manifest), "sleeper", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    envs = Path(os.environ["TOOLCACHE_CACHE_DIR"]) / "envs"
    (env,) = [p for p in envs.glob("*/*") if p.is_dir() and not p.name.startswith(".")]
    return manifest, env, f"{env.parent.name}/{env.name}"


class Running:
    """``toolcache run sleeper`` started in the background, until ``release``."""

    def __init__(
        self, manifest: Path, name: str, code: int, env: dict[str, str] | None = None
    ) -> None:
        folder = manifest.parent
        self.started = folder / f"{name}.started"
        self.release_file = folder / f"{name}.release"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "toolcache", "run", "-m", str(manifest), "sleeper", "--",
             str(self.started), str(self.release_file), str(code)],
            cwd=folder, env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def wait_started(self) -> list[tuple[int, int, int]]:
        """Once the tool runs: the descriptors it holds, as (fd, st_dev, st_ino)."""
        deadline = time.monotonic() + 60
        while not self.started.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                out, err = self.proc.communicate()
                pytest.fail(f"the tool did not start ({self.proc.returncode}): {out} {err}")
            time.sleep(0.02)
        fields = (item.split(":") for item in self.started.read_text().split())
        return [(int(fd), int(dev), int(ino)) for fd, dev, ino in fields]

    def release(self) -> int:
        self.release_file.touch()
        self.proc.communicate(timeout=60)
        return self.proc.returncode

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def pretend_started_long_ago(env: Path) -> None:
    """The last use was stamped as the tools started: make that an hour ago (the issue)."""
    moment = time.time() - 3600
    os.utime(env / "toolcache-last-used", (moment, moment))


def test_gc_keeps_an_environment_while_its_tools_run(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    manifest, env, env_id = prepare(tmp_path, local_index, dists)
    hit = Running(manifest, "hit", 5)
    full = Running(manifest, "full", 6, env={"TOOLCACHE_NO_FAST_PATH": "1"})
    try:
        held = [tool.wait_started() for tool in (hit, full)]
        pretend_started_long_ago(env)

        out = gc(tmp_path)
        assert f"kept {env_id}: in use (a tool is running from it)" in out
        assert "(0 of 1 environments" in out
        assert (env / "bin" / "sleeper").is_file()
        # The tool process itself holds the in-use file, on a descriptor out of its way.
        inuse = (env.parent / f"{env.name}.inuse").stat()
        for fds in held:
            locks = [fd for fd, dev, ino in fds if (dev, ino) == (inuse.st_dev, inuse.st_ino)]
            assert len(locks) == 1 and locks[0] >= 100, fds

        # Shared: one tool ending does not free it while the other runs.
        assert hit.release() == 5
        assert f"kept {env_id}: in use (a tool is running from it)" in gc(tmp_path)
        assert env.is_dir()
        assert full.release() == 6
    finally:
        hit.stop()
        full.stop()

    out = gc(tmp_path)
    assert f"removed {env_id}: not used within --max-age" in out
    assert not env.exists()


def test_a_killed_tool_releases_its_environment(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    manifest, env, env_id = prepare(tmp_path, local_index, dists)
    tool = Running(manifest, "killed", 3)
    try:
        tool.wait_started()
        pretend_started_long_ago(env)
        assert f"kept {env_id}: in use (a tool is running from it)" in gc(tmp_path)
        assert env.is_dir()
        tool.proc.kill()  # SIGKILL: the tool process cannot release anything itself
        tool.proc.communicate(timeout=60)
        assert tool.proc.returncode == -9
    finally:
        tool.stop()
    out = gc(tmp_path)
    assert f"removed {env_id}: not used within --max-age" in out
    assert not env.exists()
