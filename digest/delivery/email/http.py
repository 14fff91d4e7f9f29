"""What the HTTP email APIs share: one httpx client per adapter, and how answers map to results.

2xx                      sent or queued (each adapter reads its own body)
429                      failed, transient, honouring Retry-After
5xx                      failed, transient
401, 403                 failed, transient: the credentials or the account, not the message; the
                         rows wait for the operator's fix, and count toward the run's pause
other 4xx                rejected: this message will never be accepted
no answer after sending  unknown: the service may have accepted it
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

import httpx

from digest.delivery.email.base import EmailAdapter
from digest.models import DeliveryResult, DeliveryStatus
from digest.render.message import OutgoingEmail
from digest.settings import Settings


class HttpEmailAdapter(EmailAdapter):
    """Base of the HTTP API adapters; `transport` lets tests answer as the service documents."""

    concurrency: ClassVar[int] = 1
    timeout: ClassVar[float] = 30.0

    def __init__(
        self, options: Any, settings: Settings, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        super().__init__(options, settings)
        self.client = httpx.Client(transport=transport, timeout=self.timeout)

    def close(self) -> None:
        self.client.close()

    def post(self, url: str, **kwargs: Any) -> httpx.Response | DeliveryResult:
        """The response, or the result for a call that got none."""
        try:
            return self.client.post(url, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            # Nothing reached the service: safe to try again.
            return DeliveryResult(
                DeliveryStatus.FAILED,
                response=self.masked(f"cannot connect: {error}"),
                transient=True,
            )
        except httpx.HTTPError as error:
            # The request may have arrived: whether it was accepted cannot be known.
            return DeliveryResult(
                DeliveryStatus.UNKNOWN, response=self.masked(f"no answer: {error!r}")
            )

    def failure(self, response: httpx.Response) -> DeliveryResult:
        """The result for a non-2xx answer, with the service's own words (secrets masked)."""
        body = self.masked(response.text[:2000])
        answer = f"HTTP {response.status_code}: {body}"
        code = response.status_code
        if code == 429 or code >= 500:
            return DeliveryResult(
                DeliveryStatus.FAILED,
                response=answer,
                transient=True,
                retry_after=retry_after(response),
            )
        if code in (401, 403):
            return DeliveryResult(
                DeliveryStatus.FAILED,
                response=f"{answer}; check the credentials in email.options",
                transient=True,
            )
        return DeliveryResult(DeliveryStatus.REJECTED, response=answer)


def retry_after(response: httpx.Response) -> float | None:
    """Seconds from a Retry-After header: a number, or an HTTP date."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
        date = response.headers.get("Date")
        now = parsedate_to_datetime(date) if date else None
    except (TypeError, ValueError):
        return None
    if now is None:
        now = datetime.now(UTC)
    return max((when - now).total_seconds(), 0.0)


@dataclass(frozen=True, slots=True)
class MessageFields:
    """A built message taken apart, for APIs that want fields instead of the MIME bytes."""

    from_header: str
    to_header: str
    subject: str
    text: str | None
    html: str | None
    headers: tuple[tuple[str, str], ...]  # Message-ID and the List-* headers


_PASSED_HEADERS = ("Message-ID", "List-Id", "List-Unsubscribe", "List-Unsubscribe-Post")


def message_fields(message: OutgoingEmail) -> MessageFields:
    parsed = email.message_from_bytes(message.data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    text = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    return MessageFields(
        from_header=str(parsed["From"]),
        to_header=str(parsed["To"]),
        subject=str(parsed["Subject"]),
        text=str(text.get_content()) if text is not None else None,
        html=str(html.get_content()) if html is not None else None,
        headers=tuple(
            (name, str(parsed[name])) for name in _PASSED_HEADERS if parsed[name] is not None
        ),
    )
