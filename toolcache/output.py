"""The one place that writes to the terminal. Results go to stdout, everything else to stderr.

Standard library only, so the fast path of ``plan`` (``toolcache._entry``) can print its
result without importing anything heavy. On a terminal, progress is a live display
(``toolcache.progress``, which imports rich when it starts); elsewhere, when asked for, plain
``toolcache: ...`` lines.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from contextlib import AbstractContextManager
    from threading import Lock

    from toolcache.progress import Display


class _Terminal:
    """There is one terminal: every Output of the process (the command's, and the one that
    reports its error) shares one live display."""

    display: Display | None = None
    lock: Lock | None = None


def _is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal (False for closed or file-less streams)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def progress_wanted(stream: TextIO) -> bool:
    """Progress goes to a terminal, or anywhere when ``TOOLCACHE_PROGRESS=1`` asks for it."""
    setting = os.environ.get("TOOLCACHE_PROGRESS", "")
    if setting in ("0", "1"):
        return setting == "1"
    return _is_terminal(stream)


def live_wanted(stream: TextIO) -> bool:
    """A live display needs a terminal that can move its cursor, and rich to draw it (the
    action's environment, which never has a terminal, leaves rich out)."""
    if not _is_terminal(stream) or os.environ.get("TERM", "") in ("dumb", "unknown"):
        return False
    import importlib.util

    return importlib.util.find_spec("rich") is not None


def stop_display() -> None:
    """Erase the live display, if one runs, and give the terminal back (idempotent)."""
    display, _Terminal.display = _Terminal.display, None
    if display is not None:
        display.stop()


class Output:
    """Progress on stderr (only to a terminal, never with ``quiet``), warnings and errors on
    stderr, results on stdout.

    Progress is a live display when stderr is a terminal (``live``, by default decided from
    ``err``), else plain lines. The display is stopped by ``close`` (also on leaving a
    ``with`` block), and before a result or an error is written.
    """

    def __init__(
        self,
        *,
        quiet: bool = False,
        err: TextIO | None = None,
        out: TextIO | None = None,
        live: bool | None = None,
    ):
        self._err = err
        self._out = out
        self.quiet = quiet or not progress_wanted(self.err)
        self.live = not self.quiet and (live_wanted(self.err) if live is None else live)
        if self.live and _Terminal.lock is None:
            import threading

            _Terminal.lock = threading.Lock()

    def __enter__(self) -> Output:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the live display, leaving the terminal clean (before ``exec``, on exit)."""
        stop_display()

    @property
    def err(self) -> TextIO:
        return self._err or sys.stderr

    @property
    def out(self) -> TextIO:
        return self._out or sys.stdout

    def _shown(self) -> Display:
        assert _Terminal.lock is not None
        with _Terminal.lock:
            if _Terminal.display is None:
                from toolcache.progress import Display

                _Terminal.display = Display(self._err)
            return _Terminal.display

    def progress(self, message: str) -> None:
        """A step: the live display's status line, else a plain line. A ``warning: ...``
        stays on screen in both."""
        if self.quiet:
            return
        if not self.live:
            print(f"toolcache: {message}", file=self.err, flush=True)
        elif message.startswith("warning: "):
            self._shown().print(f"toolcache: {message}")
        else:
            self._shown().step(message)

    def download(
        self, name: str, size: int | None
    ) -> AbstractContextManager[Callable[[int], None] | None]:
        """While downloading ``name`` (``size`` bytes when known): the callback to give each
        chunk's length, or None when no bar is shown (plain lines, or quiet)."""
        if self.live:
            return self._shown().download(name, size)
        import contextlib

        return contextlib.nullcontext(None)

    def warning(self, message: str) -> None:
        line = f"toolcache: warning: {message}"
        display = _Terminal.display
        if display is not None:
            display.print(line)
        else:
            print(line, file=self.err, flush=True)

    def error(self, message: str) -> None:
        stop_display()
        for line in message.splitlines() or [""]:
            print(f"toolcache: error: {line}", file=self.err, flush=True)

    def result(self, text: str) -> None:
        stop_display()
        self.out.write(text if text.endswith("\n") else text + "\n")
        self.out.flush()


def table(rows: list[list[str]], header: list[str] | None = None) -> str:
    """Plain aligned columns."""
    all_rows = ([header] if header else []) + rows
    if not all_rows:
        return ""
    widths = [max(len(r[i]) for r in all_rows) for i in range(len(all_rows[0]))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in all_rows
    ]
    return "\n".join(lines) + "\n"


def human_size(size: float) -> str:
    """Sizes as every command prints them: bytes below 1 KiB, else binary units to a tenth."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")
