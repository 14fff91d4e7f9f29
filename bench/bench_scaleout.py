"""Scale-out of the outbox itself on PostgreSQL: 1, 2 and 4 `digest worker`s draining one outbox.

    .venv/bin/python bench/bench_scaleout.py [--rows 6000] [--workers 1,2,4] [--rounds 3] [--build]

For each worker count, a fresh schema on DIGEST_BENCH_POSTGRES_URL (default the test server)
gets `--rows` subscribers and the sample's weekly digest planned for them, then that many worker
processes drain it with the worker's own code (`Deliverer.run`, so `EmailRun`'s claims, marks
and grouped records, with the settings' default batch) into a sink that answers each message at
once, on as many connections as the SMTP adapter opens by default. No SMTP, and no message
building unless `--build` (the outbox alone: each row gets a stand-in the sink never reads).
Each process counts only from a shared start. The worker counts run interleaved, `--rounds`
times; printed per run and as medians: rows/s and the speed-up over one worker, the CPU time
per row of the worker processes (client) and of their PostgreSQL backends (server), and how
long per row they waited for a CPU while ready to run (the recorder thread, which spends nearly
all of a worker's CPU, and the backends: the machine's other load shows there), that no row was
handed over twice and none is left, and the table's dead row versions (`n_dead_tup`, peak while
draining and at the end) beside the share of updates that were HOT.

Run 2026-12-02 16:10 UTC, defaults (6,000 rows, 3 rounds, messages not built), load average 12
before, 9 after (other helpers' benches): medians 1 worker 622 rows/s, 2 workers 1,331 (2.14x),
4 workers 985 (1.58x); the rounds' 2-worker speed-ups 2.70x, 2.12x, 1.61x. CPU per row: 419 µs
client + 195 µs server with one worker, 401 + 202 with two; each row also waited 750-1,360 µs
for a CPU (the machine's other load), more than it ran. No row handed out twice, none left.
Dead rows: 3 per row (claim, in-flight mark, result), 3-33% of updates HOT (the mark, when its
page has room); the scheduler's upkeep vacuums them (outbox/vacuum.py). With --build (messages
built), rounds gave 2 workers 1.68x, 1.09x and 2.07x; one 4-worker run died of a deadlock
between two workers fanning out the same webhook events (schedule/webhooks.py, not the outbox).
Those speed-ups owe much to the load: a busy machine gives more processes more of its CPU.
Again at 16:48 (load 2.7, with the delivery tallies' triggers and one-executemany marks): 1
worker 1,478-1,723 rows/s, 2 workers 1.14x, 0.99x, 1.05x. One worker already runs ~1 core
(616 µs CPU a row: 350 client, 250 server); two use 685 µs a row, so two cores cap them at
~2,900 rows/s, 1.8x, and only with nothing else running: 1.7x needs less CPU per row.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import sample_context, sample_settings, subscribers, weekly
from bench_outbox import database, postgres_reason

from digest import outbox
from digest.context import Context
from digest.delivery.email.base import Answered, EmailAdapter, Take
from digest.delivery.email.smtp import SmtpOptions
from digest.models import Delivery, DeliveryResult, DeliveryStatus
from digest.render.message import OutgoingEmail
from digest.schedule import jobs
from digest.schedule.deliverer import Deliverer
from digest.schedule.messages import MessageBuilder, Skip

TICK = os.sysconf("SC_CLK_TCK")


class InstantSink(EmailAdapter):
    """Answers every message at once, on the SMTP pool's default number of connections; keeps
    the ids of the rows it was handed."""

    type_name = "bench-sink"
    reaches_recipients = False
    concurrency = SmtpOptions().connections

    def __init__(self, ctx: Context) -> None:
        super().__init__(None, ctx.settings)
        self.ids: list[int] = []

    def send(self, message: OutgoingEmail) -> DeliveryResult:
        return DeliveryResult(DeliveryStatus.SENT, provider_id=message.message_id)

    def send_each(self, take: Take, answered: Answered) -> None:
        def handed() -> tuple[int, OutgoingEmail] | None:
            work = take()
            if work is not None:
                self.ids.append(work[0])
            return work

        turns = [
            threading.Thread(target=self.send_in_turn, args=(handed, answered))
            for _ in range(self.concurrency)
        ]
        for turn in turns:
            turn.start()
        for turn in turns:
            turn.join()


class Unbuilt(MessageBuilder):
    """Every row's message without building it (the sink never reads one): the outbox alone."""

    def build_many(self, rows: Sequence[Delivery], now: datetime) -> list[OutgoingEmail | Skip]:
        return [
            OutgoingEmail(
                key=row.idempotency_key,
                message_id=f"<{row.id}@bench.invalid>",
                sender="digest@bench.invalid",
                recipient=f"{row.target}@bench.invalid",
                data=b"",
            )
            for row in rows
        ]


class SinkDeliverer(Deliverer):
    """The worker's deliverer with the sink as its email adapter; its messages built, or not."""

    def __init__(self, ctx: Context, owner: str, *, build: bool) -> None:
        super().__init__(ctx, owner=owner)
        self.sink = InstantSink(ctx)
        if not build:
            self.messages = Unbuilt(ctx)

    @property
    def email(self) -> EmailAdapter:
        return self.sink


@dataclass
class Drained:
    """What one worker process did: the ids it was handed, its time and CPU."""

    ids: list[int] = field(default_factory=list)
    seconds: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    client_queued: float = 0.0  # the recorder thread's, where the process's CPU time goes
    server_queued: float = 0.0


def backend_cpu(pid: int) -> float:
    """A PostgreSQL backend's CPU seconds so far (it runs on this machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def queued(path: str) -> float:
    """Seconds a thread (a backend has one) has waited for a CPU while ready to run."""
    return int(Path(path, "schedstat").read_text().split()[1]) / 1e9


def drain(
    url: str, folder: str, owner: str, build: bool, start: Barrier, answers: Queue[Drained]
) -> None:
    """One worker process: `Deliverer.run` until nothing is due."""
    ctx = Context.open(sample_settings(Path(folder), database_url=url))
    # pid: CPU and queued seconds at the start, or when it connected after it
    backends: dict[int, tuple[float, float]] = {}

    def connected(connection: Any, _: object) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        connection.rollback()
        backends[pid] = backend_cpu(pid), queued(f"/proc/{pid}")

    ctx.store.engine.dispose()  # every connection from here on is seen connecting
    event.listen(ctx.store.engine, "connect", connected)
    done = Drained()
    try:
        with ctx.store.engine.connect() as connection:  # connected before the clock starts
            connection.execute(text("SELECT 1"))
        deliverer = SinkDeliverer(ctx, owner, build=build)
        start.wait()
        for pid in backends:
            backends[pid] = backend_cpu(pid), queued(f"/proc/{pid}")
        recorder = f"/proc/self/task/{threading.get_native_id()}"
        began, cpu, waited = time.perf_counter(), time.process_time(), queued(recorder)
        deliverer.run()
        done.seconds = time.perf_counter() - began
        done.client_cpu = time.process_time() - cpu
        done.client_queued = queued(recorder) - waited
        for pid, (cpu_before, queued_before) in backends.items():
            done.server_cpu += backend_cpu(pid) - cpu_before
            done.server_queued += queued(f"/proc/{pid}") - queued_before
        done.ids = deliverer.sink.ids
    finally:
        ctx.close()
    answers.put(done)


def table_stats(engine: Engine) -> tuple[int, int, int]:
    """The deliveries table's dead row versions, its updates and how many of them were HOT."""
    query = text(
        "SELECT n_dead_tup, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables "
        "WHERE relname = 'deliveries' AND schemaname = current_schema()"
    )
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_stat_clear_snapshot()"))
        dead, updates, hot = connection.execute(query).one()
    return int(dead), int(updates), int(hot)


@dataclass(frozen=True)
class Run:
    workers: int
    rows_per_second: float
    client_us: float  # CPU microseconds per row, all worker processes together
    server_us: float  # the same for their PostgreSQL backends
    queued_us: float  # waiting for a CPU per row, recorders and backends together
    peak_dead: int
    end_dead: int
    hot_share: float


def run(url: str, count: int, workers: int, folder: Path, build: bool) -> Run:
    ctx = sample_context(folder, database_url=url)
    try:
        for first in range(0, count, 20_000):
            ctx.store.save_subscribers(subscribers(min(20_000, count - first), start=first))
        jobs.plan_email(ctx, weekly(ctx), at_once=True)
        engine = ctx.store.engine
        assert outbox.state_counts(engine) == {"planned": count}
        _, updates_before, hot_before = table_stats(engine)
        peak = [table_stats(engine)[0]]
        draining = threading.Event()

        def watch() -> None:
            while not draining.wait(0.5):
                peak.append(table_stats(engine)[0])

        spawn = multiprocessing.get_context("spawn")
        start = spawn.Barrier(workers + 1)
        answers: Queue[Drained] = spawn.Queue()
        processes = [
            spawn.Process(
                target=drain,
                args=(url, str(folder), f"bench:{n}", build, start, answers),
            )
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
        end_dead, updates, hot = table_stats(engine)
        return Run(
            workers=workers,
            rows_per_second=count / seconds,
            client_us=sum(done.client_cpu for done in results) / count * 1e6,
            server_us=sum(done.server_cpu for done in results) / count * 1e6,
            queued_us=sum(done.client_queued + done.server_queued for done in results)
            / count
            * 1e6,
            peak_dead=max([*peak, end_dead]),
            end_dead=end_dead,
            hot_share=(hot - hot_before) / max(1, updates - updates_before),
        )
    finally:
        ctx.close()


def describe(result: Run, single: float) -> str:
    return (
        f"{result.workers} worker(s): {result.rows_per_second:7,.0f} rows/s, "
        f"{result.rows_per_second / single:.2f}x one; CPU per row {result.client_us:4.0f} µs "
        f"client + {result.server_us:4.0f} µs server, {result.queued_us:4.0f} µs waiting for "
        f"a CPU; dead rows peak {result.peak_dead:,}, "
        f"end {result.end_dead:,}; {result.hot_share:.0%} of updates HOT"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=6_000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--build", action="store_true", help="build each message, as a worker does")
    args = parser.parse_args()
    reason = postgres_reason()
    if reason is not None:
        sys.exit(f"PostgreSQL is needed: {reason}")
    counts = [int(n) for n in args.workers.split(",")]
    with open("/proc/loadavg") as load:
        print(f"load average before: {' '.join(load.read().split()[:3])}", flush=True)
    runs: dict[int, list[Run]] = {workers: [] for workers in counts}
    for round_ in range(1, args.rounds + 1):
        for workers in counts:
            with (
                tempfile.TemporaryDirectory() as folder,
                database("postgresql", Path(folder)) as url,
            ):
                result = run(url, args.rows, workers, Path(folder), args.build)
            runs[workers].append(result)
            single = runs[counts[0]][-1].rows_per_second
            print(f"round {round_}, {describe(result, single)}", flush=True)
    with open("/proc/loadavg") as load:
        print(f"load average after: {' '.join(load.read().split()[:3])}")
    built = "messages built" if args.build else "messages not built"
    print(f"medians of {args.rounds} rounds, {args.rows:,} rows each, {built}:")
    median = {w: statistics.median(r.rows_per_second for r in runs[w]) for w in counts}
    for workers in counts:
        middle = sorted(runs[workers], key=lambda r: r.rows_per_second)[len(runs[workers]) // 2]
        print(f"  {describe(middle, median[counts[0]])}")
    print("no row handed out twice, none left, in every run")


if __name__ == "__main__":
    main()
