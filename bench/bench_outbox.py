"""What the outbox itself costs as it grows: planning, claiming a batch, recording its answers.

    .venv/bin/python bench/bench_outbox.py [--sizes 10000,100000,1000000] [--no-postgres]
        [--no-sqlite] [--plan-only]

For each size N and each backend (SQLite in a temporary folder; PostgreSQL in a schema of its
own on DIGEST_BENCH_POSTGRES_URL, default the test server), a store with the sample's weekly
digest gets N email rows planned for it (issue 14: 1M in at most 10 s): wall time, this
process's CPU time and, on PostgreSQL, the server's for that connection when it runs on this
machine (read from /proc; most of the work is the server's), and peak RSS. Then the same rows
are planned again, which must add nothing. Then (unless --plan-only), with all N waiting, and
again with all but 2,000 of them already sent, a worker's cycle is timed: `claim` a batch of 200
and `finish_many` its answers (the executemany that records them and writes the webhook events
of that moment). Medians of 5 cycles each. No adapter and no SMTP: these are the outbox's own
costs, which must stay flat as N grows (issue 14: within 2× from 10k to 1M).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, create_engine, text, update

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import database as fresh_database
from _common import peak_rss_mb, sample_context, weekly

from digest import outbox
from digest.models import DeliveryChannel, DeliveryResult, DeliveryStatus
from digest.settings import EmailSettings
from digest.store.schema import deliveries

NOW = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
BATCH = EmailSettings().batch  # what a worker claims at a time unless settings say otherwise
LEFT = 2_000  # rows still waiting in the "near the end" measurement
CYCLES = 5
LEASE = timedelta(seconds=EmailSettings().lease_seconds)
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


def server_seconds(engine: Engine) -> Callable[[], float]:
    """The CPU seconds so far of the PostgreSQL backend serving `engine`'s one pooled
    connection, which the plan takes back, or NaN when it is not a process of this machine."""
    engine.dispose()  # a pool of one connection: the plan cannot be served by another backend
    with engine.connect() as connection:
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    stat = Path(f"/proc/{pid}/stat")

    def seconds() -> float:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT pg_backend_pid()").scalar() == pid
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            return math.nan
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    return seconds


def timed_plan(engine: Engine, digest_key: str, size: int) -> tuple[int, dict[str, float]]:
    """Rows planned; wall, this process's CPU and the server's CPU seconds (NaN on SQLite)."""
    server = server_seconds(engine) if engine.dialect.name == "postgresql" else lambda: math.nan
    wall, cpu, served = time.perf_counter(), time.process_time(), server()
    planned = outbox.plan(engine, rows(digest_key, size), now=NOW)
    return planned, {
        "wall": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu,
        "server": server() - served,
    }


def measure(url: str, size: int, folder: Path, plan_only: bool) -> dict[str, float]:
    ctx = sample_context(folder, database_url=url)
    try:
        digest = weekly(ctx)
        ctx.store.save_digest(digest)
        engine = ctx.store.engine
        rss_before = peak_rss_mb()
        planned, first_plan = timed_plan(engine, digest.key, size)
        assert planned == size, f"planned {planned} rows, wanted {size}"
        rss = peak_rss_mb()
        planned, again = timed_plan(engine, digest.key, size)
        assert planned == 0, f"planning again added {planned} rows"
        figures = {f"plan_{name}": value for name, value in first_plan.items()}
        figures |= {f"replan_{name}": value for name, value in again.items()}
        figures |= {"rss_before": rss_before, "rss": rss}
        if plan_only:
            return figures
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
    return figures | {
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


def database(backend: str, folder: Path) -> AbstractContextManager[str]:
    """An empty database's URL: a SQLite file in `folder`, or a PostgreSQL schema of its own."""
    return fresh_database("sqlite" if backend == "sqlite" else POSTGRES_URL, folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--plan-only", action="store_true", help="no claims nor records")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    backends = [] if args.no_sqlite else ["sqlite"]
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
                figures = measure(url, size, Path(folder), args.plan_only)
                results[backend, size] = figures
            print(
                f"{backend:10} N={size:>9,}  plan {figures['plan_wall']:6.2f} s wall, "
                f"{figures['plan_cpu']:6.2f} s CPU here + {figures['plan_server']:6.2f} s server; "
                f"again (adds nothing) {figures['replan_wall']:6.2f} s wall, "
                f"{figures['replan_cpu']:6.2f} + {figures['replan_server']:6.2f} s CPU; "
                f"peak RSS {figures['rss']:4.0f} MB ({figures['rss_before']:.0f} MB before)",
                flush=True,
            )
            if args.plan_only:
                continue
            print(
                f"{backend:10} N={size:>9,}  "
                f"claim {figures['claim_start']:6.1f} ms -> {figures['claim_end']:6.1f} ms  "
                f"record {figures['record_start']:6.1f} ms -> {figures['record_end']:6.1f} ms"
                "  (all N waiting -> 2,000 left)",
                flush=True,
            )
    if args.plan_only:
        return
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
