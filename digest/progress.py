"""Progress of long work: a bar on a terminal, plain log lines elsewhere, and a summary.

delivering ██████████····· 6,000/10,000 sent 5,990 failed 10 1,204/s 3s left
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import TextIO

log = logging.getLogger("digest")


class Progress:
    """Counts done/total for one task; redraws a bar on a TTY (at most 10 times a second), and
    elsewhere logs a line every `every` items or every `seconds`, whichever comes first."""

    def __init__(
        self,
        label: str,
        total: int,
        *,
        stream: TextIO | None = None,
        every: int = 1000,
        seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.failed = 0
        self.stream = stream or sys.stderr
        self.every = every
        self.seconds = seconds
        self.clock = clock
        self.started = clock()
        self._shown = self.started
        self.on_terminal = self.stream.isatty()

    def advance(self, *, failed: bool = False) -> None:
        self.done += 1
        self.failed += failed
        now = self.clock()
        last = self.done == self.total
        if self.on_terminal:
            if last or now - self._shown >= 0.1:
                self._shown = now
                self._draw(now)
        elif last or self.done % self.every == 0 or now - self._shown >= self.seconds:
            self._shown = now
            log.info("%s: %s", self.label, self.status(now))

    @property
    def sent(self) -> int:
        return self.done - self.failed

    def rate(self, now: float | None = None) -> float:
        elapsed = (now if now is not None else self.clock()) - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    def status(self, now: float | None = None) -> str:
        rate = self.rate(now)
        left = max(self.total - self.done, 0) / rate if rate else 0.0
        return (
            f"{self.done:,}/{self.total:,} done, {self.failed:,} failed, "
            f"{rate:,.0f}/s, {left:,.0f}s left"
        )

    def _draw(self, now: float) -> None:
        rate = self.rate(now)
        left = max(self.total - self.done, 0) / rate if rate else 0.0
        width = 30
        filled = min(width, int(width * self.done / self.total)) if self.total else width
        bar = "█" * filled + "·" * (width - filled)
        self.stream.write(
            f"\r{self.label} {bar} {self.done:,}/{self.total:,} sent {self.sent:,} "
            f"failed {self.failed:,} {rate:,.0f}/s {left:,.0f}s left "
        )
        self.stream.flush()

    def summary(self) -> str:
        """The closing line; ends the bar's line on a terminal."""
        elapsed = self.clock() - self.started
        if self.on_terminal and self.done:
            self.stream.write("\n")
            self.stream.flush()
        return (
            f"{self.label}: {self.done:,} in {elapsed:,.1f}s ({self.rate():,.0f}/s), "
            f"{self.sent:,} delivered or skipped, {self.failed:,} failed"
        )
