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


def held_row(
    database: Path, key: str, channel: DeliveryChannel = DeliveryChannel.SOCIAL, target: str = "x"
) -> int:
    with Store.open(f"sqlite:///{database}") as store:
        planned = outbox.PlannedDelivery(key, "weekly:2026-W48", channel, target, {})
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
    assert (
        f"{posted}\tsocial\tx\tweekly:2026-W48/social/x/item:a\toutcome unknown: look first"
        in listed
    )

    assert main([*args, "held", "release", str(posted), "--posted-as", "1866"]) == 0
    assert main([*args, "held", "release", str(not_posted)]) == 0
    assert state_of(database, posted) == (DeliveryState.SENT.value, "1866")
    assert state_of(database, not_posted) == (DeliveryState.PLANNED.value, None)

    assert main([*args, "held", "release", str(posted)]) == 2
    assert f"row {posted}: no held row has that id" in capsys.readouterr().err


def test_held_emails_are_listed_and_released_as_sent_or_to_send_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "digest.db"
    args = ["--settings", str(REPO / "settings.yaml"), "--database", f"sqlite:///{database}"]
    arrived = held_row(database, "weekly:2026-W48/email/s1", DeliveryChannel.EMAIL, "s1")
    lost = held_row(database, "weekly:2026-W48/email/s2", DeliveryChannel.EMAIL, "s2")

    assert main([*args, "held", "list"]) == 0
    assert f"{arrived}\temail\ts1\tweekly:2026-W48/email/s1\t" in capsys.readouterr().out

    assert main([*args, "held", "release", str(arrived), "--sent"]) == 0
    assert main([*args, "held", "release", str(lost)]) == 0
    assert state_of(database, arrived) == (DeliveryState.SENT.value, None)
    assert state_of(database, lost) == (DeliveryState.PLANNED.value, None)
    assert main([*args, "held", "list"]) == 0
    assert "no held rows" in capsys.readouterr().out
