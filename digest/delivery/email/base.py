"""What every email adapter receives and declares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from digest.delivery.base import Adapter
from digest.delivery.results import DeliveryResult


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    key: str  # the outbox row's idempotency key
    message_id: str
    sender: str  # envelope sender, a bare address
    recipient: str  # envelope recipient, a bare address
    data: bytes  # the whole RFC 5322 message


class EmailAdapter(Adapter[Any]):
    max_message_bytes: ClassVar[int] = 10 * 1024 * 1024

    def send(self, message: OutgoingEmail) -> DeliveryResult:
        raise NotImplementedError
