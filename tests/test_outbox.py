"""The outbox on both backends: idempotent planning, leases, retries, and who may close a row."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from query_plans import rows_read
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from digest import outbox
from digest.models import DeliveryChannel, DeliveryResult, DeliveryState, DeliveryStatus
from digest.store import Store
from digest.store.schema import deliveries

NOW = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


def rows(*targets: str) -> list[outbox.PlannedDelivery]:
    return [
        outbox.PlannedDelivery(
            idempotency_key=f"weekly:2026-W48/email/{target}",
            digest_key="weekly:2026-W48",
            channel=DeliveryChannel.EMAIL,
            target=target,
            payload={"n": index},
        )
        for index, target in enumerate(targets)
    ]


def states(store: Store) -> dict[str, str]:
    with store.engine.connect() as connection:
        found = connection.execute(select(deliveries.c.target, deliveries.c.state)).all()
    return dict(found)


def test_planning_twice_adds_nothing(store: Store) -> None:
    assert outbox.plan(store.engine, rows("a", "b", "c"), now=NOW) == 3
    assert outbox.plan(store.engine, rows("a", "b", "c"), now=NOW) == 0
    assert outbox.plan(store.engine, rows("a", "d"), now=NOW) == 1
    assert outbox.state_counts(store.engine) == {"planned": 4}


def test_a_key_planned_before_anywhere_in_the_rows_is_skipped_and_the_others_planned(
    store: Store,
) -> None:
    # The first plan of a digest goes in without ON CONFLICT on PostgreSQL: a key planned before,
    # wherever it comes, must not undo the others nor be planned twice.
    outbox.plan(store.engine, rows("z"), now=NOW)
    assert outbox.plan(store.engine, rows("a", "b", "z"), now=NOW) == 2
    assert outbox.plan(store.engine, rows("c", "z", "d"), now=NOW) == 2
    assert sorted(states(store)) == ["a", "b", "c", "d", "z"]


def test_a_key_given_twice_in_one_plan_is_planned_once(store: Store) -> None:
    assert outbox.plan(store.engine, rows("a", "b", "a"), now=NOW) == 2
    with store.engine.connect() as connection:
        payloads = connection.execute(
            select(deliveries.c.target, deliveries.c.payload).order_by(deliveries.c.id)
        ).all()
    assert [tuple(row) for row in payloads] == [("a", {"n": 0}), ("b", {"n": 1})]


def test_planned_rows_are_numbered_in_the_order_given(store: Store) -> None:
    targets = [f"s{n}" for n in reversed(range(50))]
    outbox.plan(store.engine, rows(*targets), now=NOW)
    with store.engine.connect() as connection:
        found = connection.scalars(select(deliveries.c.target).order_by(deliveries.c.id)).all()
    assert found == targets


def test_a_row_planned_for_later_is_claimed_only_once_due(store: Store) -> None:
    later = [
        outbox.PlannedDelivery(
            idempotency_key="weekly:2026-W48/email/tokyo",
            digest_key="weekly:2026-W48",
            channel=DeliveryChannel.EMAIL,
            target="tokyo",
            payload={},
            available_at=NOW + timedelta(hours=2),
        )
    ]
    outbox.plan(store.engine, rows("now") + later, now=NOW)
    first = outbox.claim(store.engine, owner="w1", limit=10, lease=LEASE, now=NOW)
    assert [row.target for row in first] == ["now"]
    assert outbox.due(store.engine, NOW) == 0
    sent = DeliveryResult(DeliveryStatus.SENT, provider_id="p1")
    outbox.finish(store.engine, first[0], owner="w1", result=sent, now=NOW)
    second = outbox.claim(store.engine, owner="w1", limit=10, lease=LEASE, now=NOW + LEASE * 24)
    assert [row.target for row in second] == ["tokyo"]


def test_claims_never_overlap_and_count_the_attempt(store: Store) -> None:
    outbox.plan(store.engine, rows("a", "b", "c"), now=NOW)
    first = outbox.claim(store.engine, owner="w1", limit=2, lease=LEASE, now=NOW)
    second = outbox.claim(store.engine, owner="w2", limit=2, lease=LEASE, now=NOW)
    third = outbox.claim(store.engine, owner="w3", limit=2, lease=LEASE, now=NOW)
    assert [row.target for row in first] == ["a", "b"]
    assert [row.target for row in second] == ["c"]
    assert third == []
    assert all(row.attempts == 1 and row.state is DeliveryState.CLAIMED for row in first)
    assert first[0].payload == {"n": 0}


def test_concurrent_claimers_share_out_the_rows(store: Store) -> None:
    targets = [f"s{n:03d}" for n in range(200)]
    outbox.plan(store.engine, rows(*targets), now=NOW)
    claimed: dict[str, list[str]] = {}

    def work(owner: str) -> None:
        mine = claimed.setdefault(owner, [])
        while batch := outbox.claim(store.engine, owner=owner, limit=7, lease=LEASE, now=NOW):
            mine.extend(row.target for row in batch)

    threads = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [target for mine in claimed.values() for target in mine]
    assert sorted(everything) == targets  # every row once, none twice


def test_an_expired_lease_is_taken_over_and_the_old_owner_cannot_close_it(store: Store) -> None:
    outbox.plan(store.engine, rows("a"), now=NOW)
    (stale,) = outbox.claim(store.engine, owner="dead", limit=1, lease=LEASE, now=NOW)
    outbox.record(store.engine, owner="dead", now=NOW, sending={stale.id})  # handed over
    assert outbox.claim(store.engine, owner="w2", limit=1, lease=LEASE, now=NOW + LEASE) == []
    later = NOW + LEASE + timedelta(seconds=1)
    (taken,) = outbox.claim(store.engine, owner="w2", limit=1, lease=LEASE, now=later)
    assert taken.attempts == 2
    sent = DeliveryResult(DeliveryStatus.SENT, provider_id="p-1")
    outbox.finish(store.engine, stale, owner="dead", result=sent, now=later)
    assert states(store) == {"a": "claimed"}
    assert outbox.finish(store.engine, taken, owner="w2", result=sent, now=later) == "sent"
    assert states(store) == {"a": "sent"}


def test_results_map_to_states(store: Store) -> None:
    outbox.plan(store.engine, rows("sent", "queued", "rejected", "unknown", "failed"), now=NOW)
    claimed = outbox.claim(store.engine, owner="w", limit=10, lease=LEASE, now=NOW)
    results = {
        "sent": DeliveryResult(DeliveryStatus.SENT, provider_id="id-1"),
        "queued": DeliveryResult(DeliveryStatus.QUEUED, provider_id="id-2"),
        "rejected": DeliveryResult(DeliveryStatus.REJECTED, response="550 no such user"),
        "unknown": DeliveryResult(DeliveryStatus.UNKNOWN, response="connection lost"),
        "failed": DeliveryResult(DeliveryStatus.FAILED, response="400 bad request"),
    }
    for row in claimed:
        outbox.finish(store.engine, row, owner="w", result=results[row.target], now=NOW)
    assert states(store) == {
        "sent": "sent",
        "queued": "sent",
        "rejected": "failed",
        "unknown": "unknown",
        "failed": "failed",
    }
    with store.engine.connect() as connection:
        errors = dict(
            connection.execute(select(deliveries.c.target, deliveries.c.last_error)).all()
        )
        ids = dict(connection.execute(select(deliveries.c.target, deliveries.c.provider_id)).all())
    assert errors["rejected"] == "550 no such user"
    assert ids["sent"] == "id-1"


def test_a_transient_failure_waits_then_retries_until_attempts_run_out(store: Store) -> None:
    policy = outbox.RetryPolicy(max_attempts=3, base_delay=60, max_delay=600)
    outbox.plan(store.engine, rows("a"), now=NOW)
    busy = DeliveryResult(
        DeliveryStatus.FAILED, response="421 busy", transient=True, retry_after=90
    )
    now = NOW
    for attempt in (1, 2):
        (row,) = outbox.claim(store.engine, owner="w", limit=1, lease=LEASE, now=now)
        assert row.attempts == attempt
        state = outbox.finish(store.engine, row, owner="w", result=busy, now=now, policy=policy)
        assert state is DeliveryState.PLANNED
        # Not before the service's Retry-After.
        assert (
            outbox.claim(
                store.engine, owner="w", limit=1, lease=LEASE, now=now + timedelta(seconds=89)
            )
            == []
        )
        now += timedelta(seconds=policy.max_delay + 1)
    (row,) = outbox.claim(store.engine, owner="w", limit=1, lease=LEASE, now=now)
    assert (
        outbox.finish(store.engine, row, owner="w", result=busy, now=now, policy=policy) == "failed"
    )


def test_backoff_grows_and_honours_retry_after() -> None:
    policy = outbox.RetryPolicy(base_delay=10, max_delay=1000)
    for attempts, ceiling in ((1, 10), (2, 20), (3, 40), (10, 1000)):
        delay = policy.delay(attempts, None)
        assert ceiling / 2 <= delay <= ceiling
    assert policy.delay(1, 500) == 500


def test_a_reason_instead_of_a_result_skips_the_row(store: Store) -> None:
    outbox.plan(store.engine, rows("gone"), now=NOW)
    (row,) = outbox.claim(store.engine, owner="w", limit=1, lease=LEASE, now=NOW)
    skipped = outbox.finish_many(
        store.engine, [(row, "subscriber unsubscribed")], owner="w", now=NOW
    )
    assert skipped == [DeliveryState.SKIPPED]
    assert states(store) == {"gone": "skipped"}


def test_a_row_whose_lease_keeps_running_out_fails_once_its_attempts_are_used_up(
    store: Store,
) -> None:
    outbox.plan(store.engine, rows("a", "b"), now=NOW)
    policy = outbox.RetryPolicy(max_attempts=3)
    when = NOW
    for attempt in range(1, 4):  # a worker that dies each time: the row comes back while it may
        claimed = outbox.claim(store.engine, owner=f"w{attempt}", limit=2, lease=LEASE, now=when)
        # "b" was never handed to the service: the dead workers' claims of it are not attempts.
        assert [(row.target, row.attempts) for row in claimed] == [("a", attempt), ("b", 1)]
        assert [(row.unanswered, row.last_error) for row in claimed] == [
            (attempt - 1, outbox.WORKER_DIED if attempt > 1 else None),  # what became of the last
            (0, None),
        ]
        # "a" is handed to the service; the worker dies before it reaches "b".
        ids = {row.id for row in claimed if row.target == "a"}
        outbox.record(store.engine, owner=f"w{attempt}", now=when, sending=ids)
        when += LEASE + timedelta(seconds=1)
    (after,) = outbox.claim(store.engine, owner="w4", limit=2, lease=LEASE, now=when, policy=policy)
    # "a" is not claimed a fourth time: it failed, saying why. "b", never tried, goes again.
    assert (after.target, after.attempts) == ("b", 1)
    assert states(store) == {"a": "failed", "b": "claimed"}
    with store.engine.connect() as connection:
        error = connection.scalar(select(deliveries.c.last_error).where(deliveries.c.target == "a"))
    assert error == (
        "lease expired on its last attempt (3 of 3) while the service had it; "
        "the worker died delivering it"
    )


def test_planned_rows_read_back_exactly_as_planned(store: Store) -> None:
    later = NOW + timedelta(hours=3)
    planned = outbox.PlannedDelivery(
        idempotency_key="weekly:2026-W48/social/x/item:a",
        digest_key="weekly:2026-W48",
        channel=DeliveryChannel.SOCIAL,
        target="x",
        payload={"text": "Mistral ↗ 🇫🇷", "parts": [1, 2]},
        is_test=True,
        available_at=later,
    )
    assert outbox.plan(store.engine, [planned], now=NOW) == 1
    with store.engine.connect() as connection:
        row = connection.execute(select(deliveries)).mappings().one()
    assert {key: row[key] for key in ("channel", "target", "payload", "is_test")} == {
        "channel": "social",
        "target": "x",
        "payload": {"text": "Mistral ↗ 🇫🇷", "parts": [1, 2]},
        "is_test": True,
    }
    assert (row["available_at"], row["created_at"], row["state"]) == (later, NOW, "planned")
    assert (row["attempts"], row["unanswered"], row["in_flight_since"]) == (0, 0, None)


def test_rows_in_flight_before_the_upgrade_keep_their_mark_as_a_column(
    database_url: str,
) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import Text, column, create_engine, insert, table

    from digest.store.store import MIGRATIONS
    from digest.store.types import UTCDateTime

    engine = create_engine(database_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # The outbox as 0002 left it: the in-flight mark was the start of last_error.
    before = table(
        "deliveries",
        *(column(name, Text()) for name in ("idempotency_key", "digest_key", "channel", "target")),
        *(column(name, Text()) for name in ("state", "last_error")),
        *(column(name, UTCDateTime()) for name in ("available_at", "created_at", "updated_at")),
    )
    marks = {
        "in-flight": "in flight: handed to the service at 2026-11-30T07:00:00+00:00",
        "died": outbox.WORKER_DIED,
        "failed": "550 no such user",
    }
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
        connection.execute(
            insert(before),
            [
                {"idempotency_key": name, "digest_key": "weekly:2026-W48", "channel": "email",
                 "target": name, "state": "claimed", "last_error": error,
                 "available_at": NOW, "created_at": NOW, "updated_at": NOW}
                for name, error in marks.items()
            ],
        )  # fmt: skip
    engine.dispose()
    with Store.open(database_url) as upgraded, upgraded.engine.connect() as connection:
        found = connection.execute(
            select(
                deliveries.c.target,
                deliveries.c.last_error,
                deliveries.c.in_flight_since,
                deliveries.c.unanswered,
            )
        ).all()
    assert {row.target: tuple(row)[1:] for row in found} == {
        "in-flight": (None, NOW, 0),
        "died": (outbox.WORKER_DIED, None, 1),
        "failed": ("550 no such user", None, 0),
    }


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_marking_and_closing_read_only_their_rows_however_many_are_held(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Three workers hold 200 rows each. Statistics taken after planning (as a server analyses
    # a table that just grew) say no row is claimed: the planner must still not read every
    # held row to mark or close two (the cost of an answer would grow with the workers).
    outbox.plan(store.engine, rows(*(f"s{n:03d}" for n in range(700))), now=NOW)
    with store.engine.begin() as connection:
        connection.execute(text("ANALYZE deliveries"))
    held = {
        owner: outbox.claim(store.engine, owner=owner, limit=200, lease=LEASE, now=NOW)
        for owner in ("w1", "w2", "w3")
    }
    statements: list[tuple[str, Any]] = []
    execute = psycopg.Cursor.execute

    def seen(cursor: psycopg.Cursor[Any], sql: str, parameters: Any = None, **kw: Any) -> Any:
        if sql.startswith("UPDATE deliveries"):
            statements.append((sql, parameters))
        return execute(cursor, sql, parameters, **kw)

    monkeypatch.setattr(psycopg.Cursor, "execute", seen)  # the writer goes through the driver
    sent = DeliveryResult(DeliveryStatus.SENT, provider_id="p")
    mine = held["w2"]
    outbox.record(
        store.engine, owner="w2", now=NOW, sending=[mine[0].id], outcomes=[(mine[1], sent)]
    )
    monkeypatch.undo()
    [(sql, parameters)] = statements  # the mark and the close in one
    read, plan = rows_read(store.engine, sql, parameters, "deliveries")
    assert read <= 2, (sql, plan)


def test_vacuum_clears_the_dead_versions_sending_left_on_postgresql(store: Store) -> None:
    outbox.plan(store.engine, rows(*(f"s{n:03d}" for n in range(50))), now=NOW)
    claimed = outbox.claim(store.engine, owner="w1", limit=50, lease=LEASE, now=NOW)
    sent = DeliveryResult(DeliveryStatus.SENT, provider_id="p")
    outbox.finish_many(store.engine, [(row, sent) for row in claimed], owner="w1", now=NOW)
    postgresql = store.engine.dialect.name == "postgresql"
    assert outbox.vacuum(store.engine) is postgresql
    if postgresql:
        dead, vacuums = _dead_versions_and_vacuums(store)
        assert vacuums == 1
        # A transaction of another test (the suite runs in parallel on this server) may hold a
        # snapshot older than these versions; VACUUM must keep them until it ends.
        deadline = time.monotonic() + 30
        while dead and time.monotonic() < deadline:
            time.sleep(0.2)
            outbox.vacuum(store.engine)
            dead, vacuums = _dead_versions_and_vacuums(store)
        assert dead == 0
    assert outbox.state_counts(store.engine) == {"sent": 50}


def _dead_versions_and_vacuums(store: Store) -> tuple[int, int]:
    with store.engine.connect() as connection:
        dead, vacuums = connection.execute(
            text(
                "SELECT n_dead_tup, vacuum_count FROM pg_stat_user_tables "
                "WHERE relname = 'deliveries' AND schemaname = current_schema()"
            )
        ).one()
    return dead, vacuums


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_a_writer_not_durable_gives_its_connection_back_flushing_commits_again(
    store: Store,
) -> None:
    outbox.plan(store.engine, rows("s1"), now=NOW)
    [row] = outbox.claim(store.engine, owner="w1", limit=1, lease=LEASE, now=NOW)
    store.engine.dispose()
    with outbox.ResultWriter(store.engine, owner="w1", durable=False) as writer:
        assert writer.record(now=NOW, sending=[row.id]) == ({row.id}, [])
        with store.engine.connect() as other:  # a second connection in the pool
            assert other.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
    # Both pooled connections, the writer's among them, flush their commits again.
    with store.engine.connect() as first, store.engine.connect() as second:
        for connection in (first, second):
            assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
        assert store.engine.pool.checkedout() == 2 and store.engine.pool.size() >= 2


_REFUSE_SENT = {
    "sqlite": [
        "CREATE TRIGGER refuse_sent BEFORE UPDATE OF state ON deliveries "
        "WHEN NEW.state = 'sent' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_sent() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
        "CREATE TRIGGER refuse_sent BEFORE UPDATE ON deliveries FOR EACH ROW "
        "WHEN (NEW.state = 'sent') EXECUTE FUNCTION refuse_sent()",
    ],
}
_DROP_REFUSE_SENT = {
    "sqlite": "DROP TRIGGER refuse_sent",
    "postgresql": "DROP TRIGGER refuse_sent ON deliveries",
}


@pytest.mark.parametrize("durable", [True, False], ids=["durable", "not-durable"])
@pytest.mark.parametrize(
    "unfinished",
    [{"weekly:2026-W48"}, set()],
    # Nothing to emit: the driver's own transaction; the digest maybe sent: SQLAlchemy's.
    ids=["without-events", "with-events"],
)
def test_a_group_the_store_refuses_leaves_every_row_as_it_was_and_the_writer_usable(
    store: Store, durable: bool, unfinished: set[str]
) -> None:
    # The mark of one row and the close of another in one group: the close fails, so the mark
    # must not stay either.
    outbox.plan(store.engine, rows("s1", "s2"), now=NOW)
    first, second = outbox.claim(store.engine, owner="w1", limit=2, lease=LEASE, now=NOW)
    sent = DeliveryResult(DeliveryStatus.SENT, provider_id="p")
    backend = store.engine.dialect.name
    with store.engine.begin() as connection:
        for statement in _REFUSE_SENT[backend]:
            connection.exec_driver_sql(statement)
    with outbox.ResultWriter(store.engine, owner="w1", durable=durable) as writer:
        with pytest.raises(DBAPIError, match="refused by the test"):
            writer.record(
                now=NOW, sending=[second.id], outcomes=[(first, sent)], unfinished=unfinished
            )
        with store.engine.connect() as connection:
            stored = connection.execute(
                select(deliveries.c.state, deliveries.c.in_flight_since).order_by(deliveries.c.id)
            ).all()
        assert [tuple(row) for row in stored] == [("claimed", None), ("claimed", None)]
        with store.engine.begin() as connection:
            connection.exec_driver_sql(_DROP_REFUSE_SENT[backend])
        recorded = writer.record(
            now=NOW, sending=[second.id], outcomes=[(first, sent)], unfinished=unfinished
        )
        assert recorded == ({second.id}, [DeliveryState.SENT])
    assert outbox.state_counts(store.engine) == {"sent": 1, "claimed": 1}
