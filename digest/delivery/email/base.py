"""What every email adapter receives and declares.

Limits are class attributes the outbox reads: `max_per_second` and `max_per_hour` are the
service's own documented ceilings (settings.yaml's `email.rate` can only lower them), and
`concurrency` is how many messages the adapter sends at once in `send_many` and `send_each`.

A worker hands messages over with `send_each`: each connection takes the next message as soon as
it is free, and tells every answer at once, without waiting for the others. Before it lets the
service take a message (SMTP's final dot, an API call), a connection waits until the answer to
its previous message is recorded in the outbox: a worker killed at any moment leaves at most one
accepted, unrecorded message per connection, the only ones that can go out twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

from digest.delivery.base import Adapter
from digest.errors import DeliveryError
from digest.models import DeliveryResult, DeliveryStatus
from digest.render.message import OutgoingEmail

MASK = "********"


class NotRecorded(Exception):
    """The previous answer on this connection could not be recorded: stop before the service
    takes another message."""


class Recorded:
    """Set once an answer is written in the outbox (or known never to be: `lost`); waited for
    by one connection. A bare lock, held until set: an Event costs a Condition and its waiter
    list for every message."""

    __slots__ = ("_held", "_set", "lost")

    def __init__(self) -> None:
        self._held = threading.Lock()
        self._held.acquire()
        self._set = False
        self.lost = False

    def set(self, *, lost: bool = False) -> None:
        self.lost = lost
        self._set = True
        self._held.release()

    def is_set(self) -> bool:
        return self._set

    def wait(self) -> None:
        """Until it is set (untimed: libfaketime's clock never ends a timed wait); raises
        NotRecorded if it was lost."""
        if not self._set:
            with self._held:
                pass
        if self.lost:
            raise NotRecorded


RECORDED = Recorded()
RECORDED.set()

# `send_each`'s two callbacks: the next (row id, message) for a free connection, None when there
# is none left; and an answer told, which returns what is set once it is recorded.
Take = Callable[[], "tuple[int, OutgoingEmail] | None"]
Answered = Callable[[int, DeliveryResult], Recorded]


class EmailAdapter(Adapter[Any]):
    max_message_bytes: ClassVar[int] = 10 * 1024 * 1024
    max_per_second: ClassVar[float | None] = None
    max_per_hour: ClassVar[int | None] = None
    concurrency: ClassVar[int] = 1
    # False for adapters that only write or show messages (file, console): mail to real
    # people must meet the rules for it (a postal address in the footer) before it is sent.
    reaches_recipients: ClassVar[bool] = True

    def send(self, message: OutgoingEmail) -> DeliveryResult:
        raise NotImplementedError

    def send_many(self, messages: Sequence[OutgoingEmail]) -> list[DeliveryResult]:
        """One result per message, in order; never raises for one message's failure."""
        return [self.send_guarded(message) for message in messages]

    def send_each(self, take: Take, answered: Answered) -> None:
        """Send what `take` hands out until it hands out None, telling each answer as it comes;
        an adapter with a pool runs `send_in_turn` on each of its connections."""
        self.send_in_turn(take, answered)

    def send_in_turn(self, take: Take, answered: Answered) -> None:
        """One connection's share of `send_each`: a message at a time, each let go only once the
        previous one's answer is recorded."""
        previous = RECORDED
        while (work := take()) is not None:
            row, message = work
            try:
                result = self.send_guarded(message, previous)
            except NotRecorded:
                return
            previous = answered(row, result)

    def send_after(self, message: OutgoingEmail, previous: Recorded) -> DeliveryResult:
        """`send` once `previous` is recorded; an adapter that can hold a message back until
        the last moment (SMTP: all but the final dot) overrides it to overlap the wait."""
        previous.wait()
        return self.send(message)

    def send_guarded(self, message: OutgoingEmail, previous: Recorded = RECORDED) -> DeliveryResult:
        """`send_after`, its exceptions turned into results so that one bad row never stops a
        run (but NotRecorded, which stops the connection)."""
        if len(message.data) > self.max_message_bytes:
            return DeliveryResult(
                DeliveryStatus.REJECTED,
                response=f"message is {len(message.data):,} bytes; "
                f"{self.type_name} takes at most {self.max_message_bytes:,}",
            )
        try:
            return self.send_after(message, previous)
        except DeliveryError as error:
            return DeliveryResult(
                DeliveryStatus(error.status), response=error.response or str(error)
            )
        except OSError as error:
            return DeliveryResult(
                DeliveryStatus.FAILED, response=self.masked(str(error)), transient=True
            )

    def secrets(self) -> Iterable[str]:
        """The secret values this adapter holds, to be masked in every error it reports."""
        return ()

    def masked(self, text: str) -> str:
        for secret in self.secrets():
            if secret:
                text = text.replace(secret, MASK)
        return text
