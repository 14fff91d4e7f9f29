"""Outgoing webhook endpoints: those made through the API (settings.yaml's are not stored), and
the health of every endpoint: failed attempts in a row, and until when it is paused.

An endpoint's secret is kept as it is: signing needs it. It is shown once, when made, and never
answered again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from sqlalchemy import Connection, Engine, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from digest.models import DeliveryChannel, DeliveryState
from digest.store.schema import deliveries, webhook_endpoints, webhook_health

if TYPE_CHECKING:
    from digest.settings import WebhookEndpointSettings

Source = Literal["settings", "api"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    name: str
    url: str
    secret: str  # "whsec_…"
    events: tuple[str, ...]  # empty: every event
    source: Source

    def wants(self, event_type: str) -> bool:
        return not self.events or event_type in self.events


@dataclass(frozen=True, slots=True)
class Health:
    failures: int = 0
    paused_until: datetime | None = None
    last_error: str | None = None

    def paused(self, now: datetime) -> bool:
        return self.paused_until is not None and self.paused_until > now


def endpoints(
    engine: Engine, configured: Iterable[WebhookEndpointSettings] = ()
) -> dict[str, Endpoint]:
    """Every endpoint by name: settings.yaml's first, then the API's (names never clash: the
    API refuses a name settings.yaml uses)."""
    found = {
        endpoint.name: Endpoint(
            endpoint.name, endpoint.url, endpoint.secret.reveal(), endpoint.events, "settings"
        )
        for endpoint in configured
    }
    with engine.connect() as connection:
        rows = connection.execute(select(webhook_endpoints).order_by(webhook_endpoints.c.name))
        for row in rows:
            found.setdefault(
                row.name, Endpoint(row.name, row.url, row.secret, tuple(row.events), "api")
            )
    return found


def add(
    engine: Engine,
    *,
    name: str,
    url: str,
    secret: str,
    events: tuple[str, ...],
    by: str,
    now: datetime,
) -> bool:
    """Store an endpoint made through the API; False when one has that name already."""
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(webhook_endpoints)
        .values(
            name=name, url=url, secret=secret, events=list(events), created_at=now, created_by=by
        )
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(webhook_endpoints.c.name)
    )
    with engine.begin() as connection:
        return connection.execute(statement).first() is not None


def remove(engine: Engine, name: str) -> bool:
    """Delete an API-made endpoint, its health and its undelivered events; False if none."""
    with engine.begin() as connection:
        gone = connection.execute(
            delete(webhook_endpoints)
            .where(webhook_endpoints.c.name == name)
            .returning(webhook_endpoints.c.name)
        ).first()
        if gone is None:
            return False
        connection.execute(delete(webhook_health).where(webhook_health.c.name == name))
        connection.execute(
            delete(deliveries).where(
                deliveries.c.channel == DeliveryChannel.WEBHOOK.value,
                deliveries.c.target == name,
                deliveries.c.state == DeliveryState.PLANNED.value,
            )
        )
    return True


def health(engine: Engine) -> dict[str, Health]:
    with engine.connect() as connection:
        return {
            row.name: Health(row.failures, row.paused_until, row.last_error)
            for row in connection.execute(select(webhook_health))
        }


def health_of(engine: Engine, name: str) -> Health:
    query = select(webhook_health).where(webhook_health.c.name == name)
    with engine.connect() as connection:
        row = connection.execute(query).one_or_none()
    return Health(row.failures, row.paused_until, row.last_error) if row is not None else Health()


def record_attempt(
    engine: Engine,
    name: str,
    *,
    error: str | None,
    now: datetime,
    max_failures: int,
    pause: timedelta,
) -> Health:
    """Count an attempt's outcome: a success clears the count; the `max_failures`-th failure in
    a row pauses the endpoint for `pause` (and each failure after a pause, once more)."""
    with engine.begin() as connection:
        before = _locked(connection, name)
        if error is None:
            after = Health()
        else:
            failures = before.failures + 1
            paused = now + pause if failures >= max_failures else None
            after = Health(failures, paused, error[:2000])
        _save(connection, name, after, now)
    return after


def resume(engine: Engine, name: str, now: datetime) -> None:
    """Clear a pause at once; the endpoint's waiting rows fall due now."""
    with engine.begin() as connection:
        _locked(connection, name)
        _save(connection, name, Health(), now)
        connection.execute(
            update(deliveries)
            .where(
                deliveries.c.channel == DeliveryChannel.WEBHOOK.value,
                deliveries.c.target == name,
                deliveries.c.state == DeliveryState.PLANNED.value,
            )
            .values(available_at=now, updated_at=now)
        )


def _locked(connection: Connection, name: str) -> Health:
    query = select(webhook_health).where(webhook_health.c.name == name).with_for_update()
    row = connection.execute(query).one_or_none()
    return Health(row.failures, row.paused_until, row.last_error) if row is not None else Health()


def _save(connection: Connection, name: str, value: Health, now: datetime) -> None:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    values = {
        "failures": value.failures,
        "paused_until": value.paused_until,
        "last_error": value.last_error,
        "updated_at": now,
    }
    statement = dialect.insert(webhook_health).values(name=name, **values)
    connection.execute(statement.on_conflict_do_update(index_elements=["name"], set_=values))
