"""Outgoing webhooks: one event POSTed as JSON to one endpoint, signed as Standard Webhooks
specify, so that receivers verify it with the libraries that exist for them.

    webhook-id         the event's id: the same on every retry, for receivers to deduplicate
    webhook-timestamp  when this attempt was signed, Unix seconds (receivers refuse old ones)
    webhook-signature  "v1," + base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}")), the key
                       being the base64 after "whsec_" in the endpoint's secret

The answer in the outbox's vocabulary: any 2xx is sent; 410 Gone is rejected (the receiver says
the endpoint is gone for good); anything else, or no answer, is a transient failure, retried
with backoff by the outbox (Standard Webhooks asks receivers to answer 2xx quickly and to take
a message twice).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

import httpx

from digest import __version__
from digest.events import secret_key
from digest.models import DeliveryResult, DeliveryStatus


def body_of(payload: Mapping[str, Any]) -> bytes:
    """The JSON sent: `{"type", "timestamp", "data"}` (the id goes in its header)."""
    message = {key: payload[key] for key in ("type", "timestamp", "data")}
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, message_id: str, now: datetime, body: bytes) -> dict[str, str]:
    timestamp = int(now.timestamp())
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, message_id, timestamp, body),
        "Content-Type": "application/json",
        "User-Agent": f"digest/{__version__} (webhooks)",
    }


class WebhookSender:
    """POSTs events; one per worker, its connections reused across endpoints."""

    max_response: ClassVar[int] = 300  # characters of a receiver's answer kept as the error
    gone: ClassVar[frozenset[int]] = frozenset({410})

    def __init__(self, *, timeout: float, client: httpx.Client | None = None) -> None:
        self._own = client is None
        self.client = client or httpx.Client(timeout=timeout, follow_redirects=False)

    def send(
        self, url: str, secret: str, payload: Mapping[str, Any], now: datetime
    ) -> DeliveryResult:
        message_id = str(payload["id"])
        body = body_of(payload)
        try:
            response = self.client.post(
                url, content=body, headers=signed_headers(secret, message_id, now, body)
            )
        except httpx.HTTPError as error:
            reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            return DeliveryResult(DeliveryStatus.FAILED, response=reason, transient=True)
        if response.is_success:
            return DeliveryResult(DeliveryStatus.SENT, provider_id=message_id)
        answer = f"HTTP {response.status_code}: {response.text[: self.max_response]}".strip()
        if response.status_code in self.gone:
            return DeliveryResult(DeliveryStatus.REJECTED, response=answer)
        return DeliveryResult(
            DeliveryStatus.FAILED,
            response=answer,
            transient=True,
            retry_after=_retry_after(response.headers.get("retry-after")),
        )

    def close(self) -> None:
        if self._own:
            self.client.close()


def _retry_after(value: str | None) -> float | None:
    if value is None or not value.strip().isdigit():
        return None
    return float(value.strip())
