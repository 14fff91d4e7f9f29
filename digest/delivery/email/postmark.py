"""`postmark`: Postmark's single-message API, `POST https://api.postmarkapp.com/email`.

Postmark takes the message as fields, not MIME, so the built message is taken apart; Message-ID
and the List-* headers travel in `Headers`. Bulk mail belongs in a broadcast message stream.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from digest.delivery.email.http import HttpEmailAdapter, message_fields
from digest.models import DeliveryResult, DeliveryStatus
from digest.render.message import OutgoingEmail
from digest.settings import Secret

# Postmark's ErrorCode for a recipient that bounced or complained before: never retry it.
INACTIVE_RECIPIENT = 406


@dataclass(frozen=True, slots=True)
class PostmarkOptions:
    server_token: Secret
    message_stream: str = "broadcast"
    base_url: str = "https://api.postmarkapp.com"


class PostmarkEmailAdapter(HttpEmailAdapter):
    type_name = "postmark"
    Options = PostmarkOptions
    max_message_bytes: ClassVar[int] = 10 * 1024 * 1024

    def secrets(self) -> Iterable[str]:
        return (self.options.server_token.reveal(),)

    def send(self, message: OutgoingEmail) -> DeliveryResult:
        fields = message_fields(message)
        body = {
            "From": fields.from_header,
            "To": fields.to_header,
            "Subject": fields.subject,
            "TextBody": fields.text,
            "HtmlBody": fields.html,
            "Headers": [{"Name": name, "Value": value} for name, value in fields.headers],
            "MessageStream": self.options.message_stream,
        }
        answer = self.post(
            f"{self.options.base_url.rstrip('/')}/email",
            json={key: value for key, value in body.items() if value is not None},
            headers={
                "Accept": "application/json",
                "X-Postmark-Server-Token": self.options.server_token.reveal(),
            },
        )
        if isinstance(answer, DeliveryResult):
            return answer
        if answer.status_code == 200:
            payload = answer.json()
            if payload.get("ErrorCode", 0) == 0:
                return DeliveryResult(
                    DeliveryStatus.SENT,
                    provider_id=payload.get("MessageID"),
                    response=payload.get("Message"),
                )
        if answer.status_code == 422:
            # Postmark answers 422 for messages it will not take; its ErrorCode says why.
            return DeliveryResult(
                DeliveryStatus.REJECTED, response=f"HTTP 422: {self.masked(answer.text[:2000])}"
            )
        return self.failure(answer)
