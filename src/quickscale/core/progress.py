"""Progress of long-running management commands, in a form that suits where it is read.

On a terminal one line is redrawn in place (a bar, the count, the percentage and the rate); in
a log (CI, cron, a container) a plain line is written only every tenth of the work, or every
``every`` items, so a sweep over a million rows adds a dozen lines rather than a million.

A :class:`Progress` is a ``progress(done, total)`` callable, the signature the ledger's sweeps
accept::

    with Progress(sys.stderr, "Verifying accounts") as progress:
        ledger.verify(progress=progress)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

__all__ = ["Progress"]

BAR_WIDTH = 30
#: Seconds between two redraws of the terminal line (the last item is always drawn).
REDRAW_INTERVAL = 0.1


class Progress:
    """Report ``done`` of ``total`` items on ``stream``.

    ``tty`` overrides the stream's own ``isatty()``; ``every`` makes a log line every that many
    items instead of every 10%; ``clock`` returns seconds and exists so the rate can be tested.
    """

    def __init__(
        self,
        stream: TextIO,
        label: str,
        *,
        every: int | None = None,
        tty: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if every is not None and every < 1:
            raise ValueError(f"every must be a positive number of items, not {every!r}.")
        self.stream = stream
        self.label = label
        self.every = every
        self.tty = stream.isatty() if tty is None else tty
        self.clock = clock
        self.started = clock()
        self._last_step = 0
        self._last_draw: float | None = None
        self._line_open = False

    def __call__(self, done: int, total: int) -> None:
        finished = done >= total
        now = self.clock()
        if self.tty:
            if finished or self._last_draw is None or now - self._last_draw >= REDRAW_INTERVAL:
                self._last_draw = now
                self._draw(done, total, now, finished)
            return
        step = done // self.every if self.every else _percent(done, total) // 10
        if finished or step > self._last_step:
            self._last_step = step
            self.stream.write(f"{self.label}: {self._counts(done, total, now)}\n")
            self.stream.flush()

    def close(self) -> None:
        """End a terminal line left open by work that stopped before its last item."""
        if self._line_open:
            self.stream.write("\n")
            self.stream.flush()
            self._line_open = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _draw(self, done: int, total: int, now: float, finished: bool) -> None:
        filled = BAR_WIDTH * min(done, total) // total if total else BAR_WIDTH
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        # "\r" returns to the start of the line and "\x1b[K" clears what a longer line left.
        self.stream.write(f"\r{self.label} [{bar}] {self._counts(done, total, now)}\x1b[K")
        self._line_open = not finished
        if finished:
            self.stream.write("\n")
        self.stream.flush()

    def _counts(self, done: int, total: int, now: float) -> str:
        text = f"{done}/{total} ({_percent(done, total)}%)"
        elapsed = now - self.started
        if elapsed > 0:
            text += f" {done / elapsed:,.1f}/s"
        return text


def _percent(done: int, total: int) -> int:
    return 100 * done // total if total > 0 else 100
