"""What every email adapter receives and declares."""

from __future__ import annotations

from typing import Any, ClassVar

from digest.delivery.base import Adapter
from digest.models import DeliveryResult
from digest.render.message import OutgoingEmail


class EmailAdapter(Adapter[Any]):
    max_message_bytes: ClassVar[int] = 10 * 1024 * 1024

    def send(self, message: OutgoingEmail) -> DeliveryResult:
        raise NotImplementedError
