"""Progress on stderr: a live display on a terminal, plain lines when asked for, nothing
otherwise; the tool's stdout stays its own."""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from rich.console import Console

from tests.conftest import Dists
from tests.support.index import LocalIndex
from tests.test_run import fill, imported, manifest
from toolcache.index.client import IndexClient
from toolcache.output import Output, stop_display
from toolcache.progress import Display

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
SHOW_CURSOR = "\x1b[?25h"
HIDE_CURSOR = "\x1b[?25l"


def erased(terminal: str) -> bool:
    """Whether the display ended by showing the cursor and then only moved and cleared."""
    _, shown, after = terminal.rpartition(SHOW_CURSOR)
    return bool(shown) and HIDE_CURSOR not in after and ANSI.sub("", after).strip() == ""


def run_on_terminal(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """Run ``python -m toolcache ARGS`` with stderr on a pseudo-terminal and stdout on a pipe;
    return the exit code, stdout, and everything written to the terminal."""
    environ = {k: v for k, v in os.environ.items() if k != "TOOLCACHE_PROGRESS"}
    environ.update({"TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}, **(env or {}))
    controller, terminal = pty.openpty()
    seen: list[bytes] = []

    def read() -> None:
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the last writer closed the terminal
                return
            if not chunk:
                return
            seen.append(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "toolcache", *args],
            cwd=cwd,
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=terminal,
            check=False,
        )
    finally:
        os.close(terminal)
        reader.join(timeout=30)
        os.close(controller)
    return proc.returncode, proc.stdout.decode(), b"".join(seen).decode("utf-8", "replace")


def test_cold_run_on_a_terminal_shows_progress_and_keeps_stdout_clean(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    fill(local_index, dists)
    path = manifest(tmp_path / "p", local_index.url)
    code, out, terminal = run_on_terminal("run", "-m", str(path), "lint", "a.py", cwd=path.parent)
    assert code == 0, terminal
    assert re.fullmatch(r"lintme \['a\.py'\] \S+\n", out), out
    text = ANSI.sub("", terminal)
    assert "resolving lint" in text
    assert "creating the environment of lint (2 packages)" in text
    assert "lintme-1.0-py3-none-any.whl" in text  # a download's bar
    assert "installing 2 packages" in text
    assert "environment of lint ready" in text
    # Erased before the tool ran: the cursor shown again, the lines cleared, no plain lines.
    assert erased(terminal), repr(terminal[-200:])
    assert "toolcache:" not in text


def test_quiet_on_a_terminal_writes_nothing(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    fill(local_index, dists)
    path = manifest(tmp_path / "p", local_index.url)
    code, out, terminal = run_on_terminal(
        "run", "-m", str(path), "--quiet", "lint", cwd=path.parent
    )
    assert code == 0, terminal
    assert out.startswith("lintme []")
    assert terminal == ""


def test_errors_leave_the_terminal_clean(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    fill(local_index, dists)
    path = manifest(tmp_path / "p", local_index.url)
    local_index.fail("/files/lintme", 404, times=10)
    code, out, terminal = run_on_terminal("run", "-m", str(path), "lint", cwd=path.parent)
    assert code == 1
    assert out == ""
    before, _, error = terminal.partition("toolcache: error:")
    assert SHOW_CURSOR in before  # the display was erased before the error was written
    assert "404" in error


def test_no_terminal_no_progress(tmp_path: Path, local_index: LocalIndex, dists: Dists) -> None:
    fill(local_index, dists)
    path = manifest(tmp_path / "p", local_index.url)
    env = {k: v for k, v in os.environ.items() if k != "TOOLCACHE_PROGRESS"}
    proc = subprocess.run(
        [sys.executable, "-m", "toolcache", "run", "-m", str(path), "lint", "x"],
        cwd=path.parent,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.startswith("lintme ['x']")


def test_plain_lines_when_asked_and_no_display(
    tmp_path: Path, local_index: LocalIndex, dists: Dists
) -> None:
    fill(local_index, dists)
    path = manifest(tmp_path / "p", local_index.url)
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "toolcache", "run", "-m", str(path), "lint"],
        cwd=path.parent,
        env={**os.environ, "TOOLCACHE_PROGRESS": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("toolcache: ")]
    assert "toolcache: installing 2 packages" in lines
    assert "toolcache: environment of lint ready" in lines
    # (httpx imports rich for its own command line when it can; the display is not made.)
    assert "toolcache.progress" not in imported(proc.stderr, full=True)


def terminal_console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=True, width=100, color_system=None), buffer


def test_display_shows_steps_and_downloads_then_erases() -> None:
    console, buffer = terminal_console()
    display = Display(console=console)
    display.step("creating the environment of lint (2 packages)")
    with display.download("cached.whl", 10):
        pass  # no bytes: found in the cache, no bar
    with display.download("big.whl", 4096) as on_bytes:
        on_bytes(1024)
        on_bytes(-1024)  # a retry starts again
        on_bytes(2048)
        display.step("still downloading")
    display.print("toolcache: warning: kept")
    display.stop()
    display.stop()
    text = ANSI.sub("", buffer.getvalue())
    assert "creating the environment of lint (2 packages)" in text
    assert "big.whl" in text and "0.0/4.1 kB" in text and "2.0/4.1 kB" in text
    assert "cached.whl" not in text
    assert "toolcache: warning: kept" in text
    assert erased(buffer.getvalue())
    # Stopped for good: nothing more is drawn.
    written = buffer.tell()
    display.step("late")
    assert buffer.tell() == written


def test_output_without_a_terminal_counts_no_bytes() -> None:
    err = io.StringIO()
    output = Output(err=err)
    with output.download("x.whl", 3) as on_bytes:
        assert on_bytes is None
    output.progress("a step")
    assert err.getvalue() == ""


def test_output_live_display_stops_before_results(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLCACHE_PROGRESS", "1")
    err, out = io.StringIO(), io.StringIO()
    try:
        with Output(err=err, out=out, live=True) as output:
            output.progress("resolving lint")
            with output.download("x.whl", 3) as on_bytes:
                assert on_bytes is not None
                on_bytes(3)
            output.result("done")
            assert out.getvalue() == "done\n"
            assert "toolcache: resolving" not in err.getvalue()  # not a plain line
    finally:
        stop_display()


def test_download_reports_each_chunk(tmp_path: Path, local_index: LocalIndex, dists: Dists) -> None:
    wheel = dists.wheel("big", "1.0", files={"big/__init__.py": "x = 1\n" * 100_000})
    local_index.add(wheel)
    counted: list[int] = []
    with IndexClient(tmp_path / "c") as client:
        url = f"{local_index.origin}/files/{wheel.name}"
        got = client.download(url, local_index.sha256(wheel.name), on_bytes=counted.append)
        assert sum(counted) == wheel.stat().st_size
        assert len(counted) >= 1
        counted.clear()
        assert client.download(url, local_index.sha256(wheel.name), on_bytes=counted.append) == got
        assert counted == []  # from the cache: nothing transferred
