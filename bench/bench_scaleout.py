"""Scale-out of the outbox itself on PostgreSQL: 1, 2 and 4 worker processes draining one outbox.

    .venv/bin/python bench/bench_scaleout.py [--rows 40000] [--workers 1,2,4]

For each worker count, a fresh schema on DIGEST_BENCH_POSTGRES_URL (default the test server)
gets `--rows` email rows of the sample's weekly digest planned, then that many worker processes
drain it through the outbox's own code paths, called as `digest worker` calls them: `claim` a
batch (the settings' default size), then slice by slice `renew`, `record` the slice in flight and
`finish_many` its answers, from a sink that answers at once (no SMTP, no message building). Each
process counts only from a shared start. Printed: rows/s and the speed-up over one worker; that
no row was handed out twice and none is left; claim times early and late in the drain; and the
table's dead row versions (`n_dead_tup`, peak while draining and at the end).

First run (2026-12-02, 20,000 rows, load average 0.49 before, 1.67 after): 1 worker 2,917
rows/s, 2 workers 3,870 (1.33x, short of issue 14's 1.7x), 4 workers 2,516 (0.86x); claims of
200 rows take 15-20 ms with 1 or 2 workers and 37-49 ms with 4. Not yet explained or fixed.
Dead rows: each row leaves about 4 dead versions (claim, in-flight mark, renew, result: each
but the mark changes an indexed column, `state` or `lease_until`, so none of them can be HOT);
82k-90k dead versions for 20k rows at the end of the drain. On the test server autovacuum is off
(/etc/postgresql/15/main/conf.d/90-ci.conf), so nothing vacuums them during the send here; what
autovacuum does with its defaults on a real server was not measured.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

from sqlalchemy import Engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import sample_context, weekly
from bench_outbox import NOW, SENT, database, postgres_reason, rows

from digest import outbox
from digest.models import Delivery, DeliveryResult
from digest.settings import EmailSettings
from digest.store.engine import create_engine_for

BATCH = EmailSettings().batch  # what a worker claims at a time unless settings say otherwise
LEASE = timedelta(seconds=EmailSettings().lease_seconds)
SLICE = 64  # the worker's slice for the SMTP pool's default 4 connections (16 per connection)


@dataclass
class Drained:
    """What one worker process did: the ids it was handed, and how long each claim took."""

    ids: list[int] = field(default_factory=list)
    claim_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0


def drain(url: str, owner: str, start: Barrier, answers: Queue[Drained]) -> None:
    """One worker process: claim, mark in flight, record, until nothing is due."""
    engine = create_engine_for(url)
    done = Drained()
    try:
        with engine.connect() as connection:  # connected before the clock starts
            connection.execute(text("SELECT 1"))
        start.wait()
        began = time.perf_counter()
        while True:
            now = NOW + timedelta(seconds=time.perf_counter() - began)
            claimed = time.perf_counter()
            batch = outbox.claim(engine, owner=owner, limit=BATCH, lease=LEASE, now=now)
            done.claim_ms.append((time.perf_counter() - claimed) * 1000)
            if not batch:
                break
            for first in range(0, len(batch), SLICE):
                chunk = batch[first : first + SLICE]
                outbox.renew(engine, owner=owner, lease=LEASE, now=now)
                held, _ = outbox.record(
                    engine, owner=owner, now=now, sending=[row.id for row in chunk]
                )
                outcomes: list[tuple[Delivery, DeliveryResult | str]] = [
                    (row, SENT) for row in chunk if row.id in held
                ]
                outbox.finish_many(engine, outcomes, owner=owner, now=now)
                done.ids += [row.id for row, _ in outcomes]
        done.seconds = time.perf_counter() - began
    finally:
        engine.dispose()
    answers.put(done)


def dead_rows(engine: Engine) -> tuple[int, int, int]:
    """The deliveries table's dead and live row versions, and how often autovacuum ran on it."""
    query = text(
        "SELECT n_dead_tup, n_live_tup, autovacuum_count FROM pg_stat_user_tables "
        "WHERE relname = 'deliveries' AND schemaname = current_schema()"
    )
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_stat_clear_snapshot()"))
        dead, live, vacuums = connection.execute(query).one()
    return int(dead), int(live), int(vacuums)


@dataclass(frozen=True)
class Run:
    workers: int
    seconds: float
    rows_per_second: float
    claim_early_ms: float
    claim_late_ms: float
    peak_dead: int
    end_dead: int
    autovacuums: int


def run(url: str, count: int, workers: int, folder: Path) -> Run:
    ctx = sample_context(folder, database_url=url)
    try:
        digest = weekly(ctx)
        ctx.store.save_digest(digest)
        engine = ctx.store.engine
        assert outbox.plan(engine, rows(digest.key, count), now=NOW) == count
        with engine.begin() as connection:
            connection.execute(text("ANALYZE deliveries"))
        peak = [dead_rows(engine)[0]]
        draining = threading.Event()

        def watch() -> None:
            while not draining.wait(0.5):
                peak.append(dead_rows(engine)[0])

        spawn = multiprocessing.get_context("spawn")
        start = spawn.Barrier(workers + 1)
        answers: Queue[Drained] = spawn.Queue()
        processes = [
            spawn.Process(target=drain, args=(url, f"bench:{n}", start, answers))
            for n in range(workers)
        ]
        for process in processes:
            process.start()
        start.wait(timeout=120)
        watcher = threading.Thread(target=watch)
        watcher.start()
        began = time.perf_counter()
        results = [answers.get(timeout=1800) for _ in processes]
        seconds = time.perf_counter() - began
        draining.set()
        watcher.join()
        for process in processes:
            process.join()
        handed = Counter(row_id for done in results for row_id in done.ids)
        twice = [row_id for row_id, times in handed.items() if times > 1]
        assert not twice, f"{len(twice)} rows were handed out twice, e.g. {twice[:5]}"
        counts = outbox.state_counts(engine)
        assert counts == {"sent": count}, f"rows left: {counts}"
        assert len(handed) == count
        time.sleep(1.0)  # the backends' statistics reach pg_stat within a second or so
        end_dead, _, vacuums = dead_rows(engine)
        # Each worker's first and last tenth of its claims (its last claim found nothing).
        timed = [done.claim_ms[:-1] for done in results]
        tenth = max(1, min(len(times) for times in timed) // 10)
        early = statistics.median(ms for times in timed for ms in times[:tenth])
        late = statistics.median(ms for times in timed for ms in times[-tenth:])
        return Run(
            workers=workers,
            seconds=seconds,
            rows_per_second=count / seconds,
            claim_early_ms=early,
            claim_late_ms=late,
            peak_dead=max([*peak, end_dead]),
            end_dead=end_dead,
            autovacuums=vacuums,
        )
    finally:
        ctx.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=40_000)
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args()
    reason = postgres_reason()
    if reason is not None:
        sys.exit(f"PostgreSQL is needed: {reason}")
    with open("/proc/loadavg") as load:
        print(f"load average before: {' '.join(load.read().split()[:3])}")
    runs: list[Run] = []
    for workers in (int(n) for n in args.workers.split(",")):
        with tempfile.TemporaryDirectory() as folder, database("postgresql", Path(folder)) as url:
            result = run(url, args.rows, workers, Path(folder))
        runs.append(result)
        print(
            f"{workers} worker(s): {args.rows:,} rows in {result.seconds:6.2f} s = "
            f"{result.rows_per_second:7,.0f} rows/s, "
            f"{result.rows_per_second / runs[0].rows_per_second:.2f}x {runs[0].workers}; "
            f"claim {result.claim_early_ms:5.1f} ms early, "
            f"{result.claim_late_ms:5.1f} ms late; dead rows peak {result.peak_dead:,}, "
            f"end {result.end_dead:,}; autovacuum ran {result.autovacuums}x",
            flush=True,
        )
    with open("/proc/loadavg") as load:
        print(f"load average after: {' '.join(load.read().split()[:3])}")
    print("no row handed out twice, none left, in every run")


if __name__ == "__main__":
    main()
