"""`console`: one line per message on standard output (or the whole message), for trying a
configuration out without sending anything."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import default

from digest.delivery.email.base import EmailAdapter
from digest.models import DeliveryResult, DeliveryStatus
from digest.render.message import OutgoingEmail


@dataclass(frozen=True, slots=True)
class ConsoleEmailOptions:
    full: bool = False  # print the whole message, not only its envelope and subject


class ConsoleEmailAdapter(EmailAdapter):
    type_name = "console"
    Options = ConsoleEmailOptions
    reaches_recipients = False

    def send(self, message: OutgoingEmail) -> DeliveryResult:
        if self.options.full:
            sys.stdout.write(message.data.decode("utf-8", "replace").replace("\r\n", "\n"))
            sys.stdout.write("\n")
        else:
            headers = BytesHeaderParser(policy=default).parsebytes(message.data)
            subject = str(headers.get("Subject", "")).replace("\n", " ")
            sys.stdout.write(
                f"email {message.message_id} {message.sender} → {message.recipient}: "
                f"{subject} ({len(message.data):,} bytes)\n"
            )
        return DeliveryResult(DeliveryStatus.SENT, provider_id=message.message_id)
