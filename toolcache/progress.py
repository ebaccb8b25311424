"""The live progress display on a terminal: a spinner line for the current step and a bar per
download, drawn by rich on stderr and erased when it stops.

Only ``toolcache.output`` uses it, and only when stderr is a terminal; rich is imported when a
``Display`` is made, never by importing this module.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.progress import Progress, ProgressColumn, Task, TaskID

STEP = "step"
DOWNLOAD = "download"


class Display:
    """A transient ``rich.progress.Progress`` on ``stream`` (stderr when None).

    Safe to use from several threads (rich locks its tasks). ``stop`` erases it and shows the
    cursor again; it must run before the process writes to the terminal otherwise, exits or
    replaces itself with a tool. The display starts with the first step, line or bytes.
    """

    def __init__(self, stream: TextIO | None = None, *, console: Console | None = None) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TransferSpeedColumn,
        )

        if console is None:
            console = Console(file=stream) if stream is not None else Console(stderr=True)
        self.console = console
        self._progress: Progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}", markup=False),
            _only_downloads(BarColumn(bar_width=30)),
            _only_downloads(DownloadColumn()),
            _only_downloads(TransferSpeedColumn()),
            console=console,
            transient=True,
            # Our stdout is the tool's or the command's result: never routed through rich.
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._step: TaskID | None = None
        self._started = False
        self._stopped = False

    def _start(self) -> None:
        if not self._started and not self._stopped:
            self._started = True
            self._progress.start()

    def step(self, message: str) -> None:
        """Show ``message`` on the spinner line (replacing the previous step)."""
        self._start()
        if self._step is None:
            self._step = self._progress.add_task(message, total=None, kind=STEP)
        else:
            self._progress.update(self._step, description=message)
        self._refresh()

    def _refresh(self) -> None:
        """Draw now: the timer alone would skip steps and downloads shorter than its tick."""
        if self._started:
            self._progress.refresh()

    def print(self, line: str) -> None:
        """Write ``line`` above the display, where it stays."""
        self._start()
        self._progress.console.print(line, markup=False, highlight=False, emoji=False)

    @contextlib.contextmanager
    def download(self, name: str, size: int | None) -> Iterator[Callable[[int], None]]:
        """A bar for downloading ``name`` (``size`` bytes when known) while the context lasts.

        The callback yielded takes each chunk's length (negative to take bytes back). The bar
        appears with the first bytes, so a file found in the cache shows nothing.
        """
        task: list[TaskID] = []

        def on_bytes(count: int) -> None:
            if not task:
                self._start()
                task.append(self._progress.add_task(name, total=size, kind=DOWNLOAD))
                self._refresh()
            self._progress.advance(task[0], count)

        try:
            yield on_bytes
        finally:
            if task:
                self._progress.remove_task(task[0])

    def stop(self) -> None:
        """Erase the display and give the terminal back, for good (idempotent): later steps
        and bytes are not shown, later ``print`` lines are written plainly."""
        self._stopped = True
        if self._started:
            self._started = False
            self._progress.stop()


def _only_downloads(column: ProgressColumn) -> ProgressColumn:
    """``column`` for download tasks, nothing for steps."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class OnlyDownloads(ProgressColumn):
        def render(self, task: Task) -> RenderableType:
            return column(task) if task.fields.get("kind") == DOWNLOAD else Text("")

    return OnlyDownloads()
