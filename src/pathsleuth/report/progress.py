"""A progress bar on stderr for long reads: the callback the capture reader calls.

The reader calls ``progress(bytes_read, total_bytes_or_None)`` after each chunk and
``progress(n, n)`` when a capture is done; `stderr_progress()` returns such a callable.
The bar appears only after `SHOW_AFTER_S` (short files never flash one), shows bytes,
speed and time left (a pulsing bar when the size is unknown: stdin, compressed input),
and is cleared when the capture ends, so stdout and the report stay clean. The CLI only
asks for one when stderr is a terminal. Nothing here measures the capture.
"""

from __future__ import annotations

import atexit
import time
from collections.abc import Callable

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

#: Seconds a capture must take before its bar appears.
SHOW_AFTER_S = 0.5


class StderrProgress:
    """Callable progress display; `close()` clears it (also registered at exit)."""

    def __init__(
        self,
        console: Console | None = None,
        *,
        show_after_s: float = SHOW_AFTER_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._console = console or Console(stderr=True)
        self._show_after = show_after_s
        self._clock = clock
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._started: float | None = None
        self._last = -1
        atexit.register(self.close)

    @property
    def visible(self) -> bool:
        return self._progress is not None

    def __call__(self, done: int, total: int | None) -> None:
        if done < self._last:  # a new capture (archive member or next file) starts
            self.close()
        self._last = done
        if total is not None and done >= total:
            self.close()  # finished: clear the bar, start afresh for the next capture
            return
        now = self._clock()
        if self._started is None:
            self._started = now
        if self._progress is None:
            if now - self._started < self._show_after:
                return
            self._progress = Progress(
                TextColumn("reading"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=self._console,
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("read", total=total)
        assert self._task is not None
        self._progress.update(self._task, completed=done, total=total)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
        self._progress = None
        self._task = None
        self._started = None
        self._last = -1


def stderr_progress(console: Console | None = None) -> Callable[[int, int | None], None]:
    """A progress callback drawing on stderr (or on `console`, for tests)."""
    return StderrProgress(console)
