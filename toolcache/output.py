"""The one place that writes to the terminal. Results go to stdout, everything else to stderr.

Standard library only, so the cache-hit path of ``run`` can report errors without importing
anything heavy.
"""

from __future__ import annotations

import os
import sys
from typing import TextIO


def progress_wanted(stream: TextIO) -> bool:
    """Progress goes to a terminal, or anywhere when ``TOOLCACHE_PROGRESS=1`` asks for it."""
    setting = os.environ.get("TOOLCACHE_PROGRESS", "")
    if setting in ("0", "1"):
        return setting == "1"
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Output:
    """Progress on stderr (only to a terminal, never with ``quiet``), warnings and errors on
    stderr, results on stdout."""

    def __init__(
        self, *, quiet: bool = False, err: TextIO | None = None, out: TextIO | None = None
    ):
        self._err = err
        self._out = out
        self.quiet = quiet or not progress_wanted(self.err)

    @property
    def err(self) -> TextIO:
        return self._err or sys.stderr

    @property
    def out(self) -> TextIO:
        return self._out or sys.stdout

    def progress(self, message: str) -> None:
        if not self.quiet:
            print(f"toolcache: {message}", file=self.err, flush=True)

    def warning(self, message: str) -> None:
        print(f"toolcache: warning: {message}", file=self.err, flush=True)

    def error(self, message: str) -> None:
        for line in message.splitlines() or [""]:
            print(f"toolcache: error: {line}", file=self.err, flush=True)

    def result(self, text: str) -> None:
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
