"""What every email adapter receives and declares.

Limits are class attributes the outbox reads: `max_per_second` and `max_per_hour` are the
service's own documented ceilings (settings.yaml's `email.rate` can only lower them), and
`concurrency` is how many messages the adapter sends at once in `send_many`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from digest.delivery.base import Adapter
from digest.errors import DeliveryError
from digest.models import DeliveryResult, DeliveryStatus
from digest.render.message import OutgoingEmail

MASK = "********"


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

    def send_guarded(self, message: OutgoingEmail) -> DeliveryResult:
        """`send`, its exceptions turned into results so that one bad row never stops a run."""
        if len(message.data) > self.max_message_bytes:
            return DeliveryResult(
                DeliveryStatus.REJECTED,
                response=f"message is {len(message.data):,} bytes; "
                f"{self.type_name} takes at most {self.max_message_bytes:,}",
            )
        try:
            return self.send(message)
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
