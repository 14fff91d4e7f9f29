"""Progress of long work: a bar on a terminal, plain log lines elsewhere."""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

log = logging.getLogger("digest")


class Progress:
    """Counts done/total for one task; redraws a bar on a TTY, logs every `every` items if not."""

    def __init__(self, label: str, total: int, *, stream: TextIO | None = None, every: int = 100):
        self.label = label
        self.total = total
        self.done = 0
        self.failed = 0
        self.stream = stream or sys.stderr
        self.every = every
        self.started = time.monotonic()
        self.on_terminal = self.stream.isatty()

    def advance(self, *, failed: bool = False) -> None:
        self.done += 1
        self.failed += failed
        if self.on_terminal:
            self._draw()
        elif self.done % self.every == 0 or self.done == self.total:
            log.info("%s: %d/%d done, %d failed", self.label, self.done, self.total, self.failed)

    def _draw(self) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate else 0.0
        width = 30
        filled = int(width * self.done / self.total) if self.total else width
        bar = "█" * filled + "·" * (width - filled)
        self.stream.write(
            f"\r{self.label} {bar} {self.done}/{self.total} failed {self.failed} "
            f"{rate:.0f}/s {left:.0f}s left "
        )
        if self.done >= self.total:
            self.stream.write("\n")
        self.stream.flush()
