"""What an adapter answers: one status vocabulary for every service."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DeliveryStatus(StrEnum):
    SENT = "sent"  # the service accepted it for delivery
    QUEUED = "queued"  # accepted, delivery not yet attempted by the service
    REJECTED = "rejected"  # refused for good (bad address, policy): never retried
    FAILED = "failed"  # did not go; `transient` says whether trying again may help
    UNKNOWN = "unknown"  # the outcome cannot be known (connection lost mid-call)


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    status: DeliveryStatus
    provider_id: str | None = None  # the service's id for what it accepted
    response: str | None = None  # the service's answer, secrets masked
    transient: bool = False  # for FAILED: a later try may succeed
    retry_after: float | None = None  # seconds the service asked us to wait
