"""digest held: an editor decides the rows whose outcome was unknown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from digest import outbox
from digest.cli import main
from digest.models import DeliveryChannel, DeliveryState
from digest.store import Store
from digest.store.schema import deliveries

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 30, 7, tzinfo=UTC)


def held_row(database: Path, key: str) -> int:
    with Store.open(f"sqlite:///{database}") as store:
        planned = outbox.PlannedDelivery(key, "weekly:2026-W48", DeliveryChannel.SOCIAL, "x", {})
        outbox.plan(store.engine, [planned], now=NOW)
        (row,) = outbox.claim(store.engine, owner="w", limit=1, lease=timedelta(minutes=5), now=NOW)
        outbox.hold(store.engine, row, owner="w", reason="outcome unknown: look first", now=NOW)
        return row.id


def state_of(database: Path, row_id: int) -> tuple[str, str | None]:
    query = select(deliveries.c.state, deliveries.c.provider_id).where(deliveries.c.id == row_id)
    with Store.open(f"sqlite:///{database}") as store, store.engine.connect() as connection:
        state, provider_id = connection.execute(query).one()
    return state, provider_id


def test_held_rows_are_listed_and_released(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "digest.db"
    args = ["--settings", str(REPO / "settings.yaml"), "--database", f"sqlite:///{database}"]
    posted = held_row(database, "weekly:2026-W48/social/x/item:a")
    not_posted = held_row(database, "weekly:2026-W48/social/x/item:b")

    assert main([*args, "held", "list"]) == 0
    listed = capsys.readouterr().out
    assert f"{posted}\tx\tweekly:2026-W48/social/x/item:a\toutcome unknown: look first" in listed

    assert main([*args, "held", "release", str(posted), "--posted-as", "1866"]) == 0
    assert main([*args, "held", "release", str(not_posted)]) == 0
    assert state_of(database, posted) == (DeliveryState.SENT.value, "1866")
    assert state_of(database, not_posted) == (DeliveryState.PLANNED.value, None)

    assert main([*args, "held", "release", str(posted)]) == 2
    assert f"row {posted}: no held row has that id" in capsys.readouterr().err
