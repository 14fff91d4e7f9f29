"""What the outbox itself costs as it grows: planning, claiming a batch, recording its answers.

    .venv/bin/python bench/bench_outbox.py [--sizes 10000,100000,1000000] [--no-postgres]

For each size N and each backend (SQLite in a temporary folder; PostgreSQL in a schema of its
own on DIGEST_BENCH_POSTGRES_URL, default the test server), a store with the sample's weekly
digest gets N email rows planned for it. Then, with all N waiting, and again with all but 2,000
of them already sent, a worker's cycle is timed: `claim` a batch of 200 and `finish_many` its
answers (the executemany that records them and writes the webhook events of that moment).
Medians of 5 cycles each. No adapter and no SMTP: these are the outbox's own costs, which must
stay flat as N grows (issue 14: within 2× from 10k to 1M).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, create_engine, text, update
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import sample_context, weekly

from digest import outbox
from digest.models import DeliveryChannel, DeliveryResult, DeliveryStatus
from digest.store.schema import deliveries

NOW = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
BATCH = 200  # the worker's default batch
LEFT = 2_000  # rows still waiting in the "near the end" measurement
CYCLES = 5
LEASE = timedelta(minutes=5)
POSTGRES_URL = os.environ.get(
    "DIGEST_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SENT = DeliveryResult(DeliveryStatus.SENT, provider_id="250 ok")


def rows(digest_key: str, count: int) -> Iterator[outbox.PlannedDelivery]:
    for n in range(count):
        yield outbox.PlannedDelivery(
            idempotency_key=f"{digest_key}/email/s{n:07d}",
            digest_key=digest_key,
            channel=DeliveryChannel.EMAIL,
            target=f"s{n:07d}",
            payload={},
        )


def cycles(engine: Engine, when: datetime) -> tuple[float, float]:
    """Median milliseconds of a claim of BATCH rows, and of recording their answers."""
    claims, records = [], []
    for n in range(CYCLES):
        now = when + timedelta(seconds=n)
        started = time.perf_counter()
        batch = outbox.claim(engine, owner="bench", limit=BATCH, lease=LEASE, now=now)
        claimed = time.perf_counter()
        outbox.finish_many(engine, [(row, SENT) for row in batch], owner="bench", now=now)
        recorded = time.perf_counter()
        assert len(batch) == BATCH, f"claimed {len(batch)} rows, wanted {BATCH}"
        claims.append((claimed - started) * 1000)
        records.append((recorded - claimed) * 1000)
    return statistics.median(claims), statistics.median(records)


def measure(url: str, size: int, folder: Path) -> dict[str, float]:
    ctx = sample_context(folder, database_url=url)
    try:
        digest = weekly(ctx)
        ctx.store.save_digest(digest)
        engine = ctx.store.engine
        started = time.perf_counter()
        planned = outbox.plan(engine, rows(digest.key, size), now=NOW)
        plan_seconds = time.perf_counter() - started
        assert planned == size
        first = cycles(engine, NOW)
        # All but LEFT rows sent, as a worker would leave them near the end of the send.
        with engine.begin() as connection:
            waiting = (
                deliveries.select()
                .with_only_columns(deliveries.c.id)
                .where(deliveries.c.state == "planned")
                .order_by(deliveries.c.id)
                .offset(LEFT)
                .scalar_subquery()
            )
            connection.execute(
                update(deliveries)
                .where(deliveries.c.id.in_(waiting))
                .values(state="sent", finished_at=NOW, attempts=1)
            )
            if engine.dialect.name == "postgresql":
                connection.execute(text("ANALYZE deliveries"))
        last = cycles(engine, NOW + timedelta(minutes=1))
    finally:
        ctx.close()
    return {
        "plan": plan_seconds,
        "claim_start": first[0],
        "record_start": first[1],
        "claim_end": last[0],
        "record_end": last[1],
    }


def postgres_reason() -> str | None:
    """Why PostgreSQL cannot be benched here, or None."""
    admin = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 5})
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # any reason is printed, and PostgreSQL skipped
        return f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}"
    finally:
        admin.dispose()
    return None


@contextmanager
def database(backend: str, folder: Path) -> Iterator[str]:
    """An empty database's URL: a SQLite file in `folder`, or a PostgreSQL schema of its own."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    admin = create_engine(POSTGRES_URL)
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    backends = ["sqlite"]
    if not args.no_postgres:
        reason = postgres_reason()
        if reason is None:
            backends.append("postgresql")
        else:
            print(f"PostgreSQL skipped: {reason}")
    results: dict[tuple[str, int], dict[str, float]] = {}
    for backend in backends:
        for size in sizes:
            with tempfile.TemporaryDirectory() as folder, database(backend, Path(folder)) as url:
                figures = results[backend, size] = measure(url, size, Path(folder))
            print(
                f"{backend:10} N={size:>9,}  plan {figures['plan']:7.2f} s  "
                f"claim {figures['claim_start']:6.1f} ms -> {figures['claim_end']:6.1f} ms  "
                f"record {figures['record_start']:6.1f} ms -> {figures['record_end']:6.1f} ms"
                "  (all N waiting -> 2,000 left)",
                flush=True,
            )
    print()
    for backend in backends:
        small, big = results[backend, sizes[0]], results[backend, sizes[-1]]
        for name in ("claim_start", "record_start", "claim_end", "record_end"):
            print(
                f"{backend:10} {name:12}: N={sizes[-1]:,} costs "
                f"{big[name] / small[name]:.2f}x N={sizes[0]:,} (target: at most 2x)"
            )


if __name__ == "__main__":
    main()
