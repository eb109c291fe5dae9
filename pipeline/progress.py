"""Progress bars for long steps, on stderr, only when a person is watching.

Disabled (a no-op) when stderr is not a terminal, under `--quiet`, or in tests, so logs and CI
output stay clean; the summary line at the end of a command is printed either way.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any


def wanted(quiet: bool) -> bool:
    """Show progress only on a terminal and without --quiet."""
    return not quiet and sys.stderr.isatty()


class Progress:
    """A thin wrapper around rich.progress that does nothing when disabled."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._p: Any = None

    def __enter__(self) -> Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )
            from rich.progress import Progress as RichProgress

            self._p = RichProgress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._p.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._p is not None:
            self._p.__exit__(*exc)
            self._p = None

    def task(self, description: str, total: float | None) -> int | None:
        return self._p.add_task(description, total=total) if self._p is not None else None

    def advance(self, task: int | None, n: float) -> None:
        if self._p is not None and task is not None:
            self._p.advance(task, n)


@contextlib.contextmanager
def status(message: str, quiet: bool = False) -> Iterator[None]:
    """A spinner with elapsed time for one long step whose length is not known in advance."""
    if not wanted(quiet):
        yield
        return
    from rich.console import Console

    with Console(stderr=True).status(message):
        yield
