"""Progress display: a rich bar on a terminal with rich installed, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from types import TracebackType


class Progress:
    """``with Progress("training", total=30) as p: p.advance(text="loss 0.12")``."""

    def __init__(self, description: str, total: int | None) -> None:
        self.description = description
        self.total = total
        self.done = 0
        self._bar: object | None = None
        self._task: object | None = None
        self._last_print = 0.0

    def __enter__(self) -> Progress:
        try:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
            )
            from rich.progress import Progress as RichProgress
        except ImportError:
            return self
        bar = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[info]}"),
            disable=not sys.stdout.isatty(),
        )
        bar.__enter__()
        self._bar = bar
        self._task = bar.add_task(self.description, total=self.total, info="")
        return self

    def advance(self, steps: int = 1, text: str = "") -> None:
        self.done += steps
        if self._bar is not None and sys.stdout.isatty():
            self._bar.update(self._task, advance=steps, info=text)  # type: ignore[attr-defined]
            return
        now = time.monotonic()
        last = self.total is not None and self.done >= self.total
        if now - self._last_print > 2.0 or last:
            total = f"/{self.total}" if self.total is not None else ""
            print(f"{self.description}: {self.done}{total} {text}", flush=True)
            self._last_print = now

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.__exit__(exc_type, exc, tb)  # type: ignore[attr-defined]
