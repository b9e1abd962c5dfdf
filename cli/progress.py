"""A rich progress bar for hashing, shown only on a terminal and never with --json."""

from __future__ import annotations

import sys
import threading
from types import TracebackType

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TimeRemainingColumn,
    TransferSpeedColumn,
)


class RichProgress:
    """Implements registry.weights' ProgressReporter; thread-safe ``advance``."""

    def __init__(self, description: str) -> None:
        self._progress = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            transient=True,
            console=None,
        )
        self._description = description
        self._task: TaskID | None = None
        self._lock = threading.Lock()

    def start(self, total_bytes: int) -> None:
        self._progress.start()
        self._task = self._progress.add_task(self._description, total=total_bytes)

    def advance(self, nbytes: int) -> None:
        with self._lock:
            if self._task is not None:
                self._progress.advance(self._task, nbytes)

    def finish(self) -> None:
        self._progress.stop()

    def __enter__(self) -> RichProgress:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()


def progress_for(description: str, *, quiet: bool) -> RichProgress | None:
    """A progress bar when stdout and stderr are terminals and not ``quiet`` (--json); else
    None."""
    if quiet or not (sys.stdout.isatty() and sys.stderr.isatty()):
        return None
    return RichProgress(description)
