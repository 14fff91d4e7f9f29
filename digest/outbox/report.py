"""What a delivery run reports: how many rows ended in each state, and why it stopped early."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from digest.models import DeliveryState

OnRow = Callable[[DeliveryState], None]  # told of each row's new state, as it is recorded

_WORDS_ORDER = (
    DeliveryState.SENT,
    DeliveryState.FAILED,
    DeliveryState.UNKNOWN,
    DeliveryState.HELD,
    DeliveryState.SKIPPED,
    DeliveryState.PLANNED,
)
_WORDS = {
    DeliveryState.PLANNED.value: "planned again for a retry",
    DeliveryState.SKIPPED.value: "skipped (the recipient left)",
    DeliveryState.HELD.value: "held for an editor",
    DeliveryState.UNKNOWN.value: "with an unknown outcome",
}


@dataclass
class DeliveryReport:
    states: dict[str, int] = field(default_factory=dict)
    paused: str | None = None  # why the run stopped before everything due was delivered
    # Social channels that stopped for the rest of the run (failures in a row), and why.
    paused_channels: dict[str, str] = field(default_factory=dict)
    # Results are recorded by a worker's recorder thread while its main thread posts to social
    # channels: both count here.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count(self, states: Sequence[DeliveryState], on_row: OnRow | None = None) -> None:
        with self._lock:
            for state in states:
                self.states[state.value] = self.states.get(state.value, 0) + 1
                if on_row:
                    on_row(state)

    @property
    def failed(self) -> int:
        return self.states.get(DeliveryState.FAILED.value, 0) + self.states.get(
            DeliveryState.UNKNOWN.value, 0
        )

    @property
    def held(self) -> int:
        return self.states.get(DeliveryState.HELD.value, 0)

    @property
    def finished_badly(self) -> bool:
        """Something failed, waits for an editor, or stopped early: a run that exits 1."""
        return bool(self.failed or self.held or self.paused or self.paused_channels)

    @property
    def total(self) -> int:
        return sum(self.states.values())

    def words(self, nothing: str = "nothing was due") -> str:
        """ "86 sent, 2 failed, 1 planned again for a retry", or `nothing`."""
        known = [state.value for state in _WORDS_ORDER]
        order = known + sorted(set(self.states) - set(known))
        parts = [f"{self.states[s]:,} {_WORDS.get(s, s)}" for s in order if self.states.get(s)]
        return ", ".join(parts) or nothing
