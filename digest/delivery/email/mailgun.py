"""`mailgun`: Mailgun's MIME API, `POST /v3/{domain}/messages.mime` (HTTP basic auth "api").

The built message goes as it is, so what Mailgun sends is exactly what the other adapters
send. Mailgun queues it: the answer is `queued`, with Mailgun's id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from digest.delivery.email.http import HttpEmailAdapter
from digest.models import DeliveryResult, DeliveryStatus
from digest.render.message import OutgoingEmail
from digest.settings import Secret


@dataclass(frozen=True, slots=True)
class MailgunOptions:
    domain: str
    api_key: Secret
    # https://api.eu.mailgun.net for a domain in Mailgun's EU region.
    base_url: str = "https://api.mailgun.net"


class MailgunEmailAdapter(HttpEmailAdapter):
    type_name = "mailgun"
    Options = MailgunOptions
    max_message_bytes: ClassVar[int] = 25 * 1024 * 1024

    def secrets(self) -> Iterable[str]:
        return (self.options.api_key.reveal(),)

    def send(self, message: OutgoingEmail) -> DeliveryResult:
        url = f"{self.options.base_url.rstrip('/')}/v3/{self.options.domain}/messages.mime"
        answer = self.post(
            url,
            auth=("api", self.options.api_key.reveal()),
            data={"to": message.recipient},
            files={"message": ("message.mime", message.data, "message/rfc822")},
        )
        if isinstance(answer, DeliveryResult):
            return answer
        if answer.status_code == 200:
            payload = answer.json()
            return DeliveryResult(
                DeliveryStatus.QUEUED,
                provider_id=payload.get("id"),
                response=payload.get("message"),
            )
        return self.failure(answer)
