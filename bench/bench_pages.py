"""Every public and editor page on a big store: the median time and the size of each.

    .venv/bin/python bench/bench_pages.py                    # --items 100000 --subscribers 1000000
    .venv/bin/python bench/bench_pages.py --store /tmp/big.db   # built once, then reused
    cp /tmp/big.db /tmp/before.db      # before the new code migrates it, if schemas differ
    .venv/bin/python bench/bench_pages.py --store /tmp/big.db \
        --against /tmp/before-checkout --against-store /tmp/before.db
    .venv/bin/python bench/bench_pages.py --database postgresql+psycopg://postgres@127.0.0.1/big

The store holds the bundled sample (its week 2026-W48 stored and released, as after a send)
and, in bulk, `--items` generated items with their AMW Reads over the two years before it, among
2,000 generated companies, `--subscribers` subscribers (a third follow a company, some choose
topics), and the weekly's delivery rows, one per subscriber, sent. Rows are made by the store's
own row functions and inserted with one executemany per table, in one transaction each.

Each page is asked for once to warm up, then `--repeat` times through the app in this process
(httpx's ASGI transport: no network, no server); the table gives the median wall time and the
median CPU time of this process (on a loaded machine the wall time grows with the load, the CPU
time much less). The target: a median of at most 150 ms and at most 1 MB for every page; the
last line names the pages over it by their CPU time. The pages are every GET route of
web/public/ and web/editor/ (the /r/ and /o/ redirects of tracked links have their own bench,
bench_redirects.py; /api/v1 answers JSON, not pages).
`--database URL` builds the same store in an empty PostgreSQL database instead (then reuses it).
`--against PATH` measures the same store again with the code of another checkout (`git archive
COMMIT | tar -x -C PATH`), in a child process, so that the two columns and their ratio come from
one run on the same, possibly loaded, machine; when the two codes' schemas differ, give the
other one its own copy of the store, taken before this code migrates it (`--against-store`).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import yaml
from sqlalchemy import exists, insert, make_url, select, update

from digest import outbox
from digest.cli import DATA
from digest.compose import IsoWeek
from digest.context import Context
from digest.ingest import read_sources
from digest.links import preferences_url, timed_url, unsubscribe_url
from digest.models import (
    AmwRead,
    Company,
    DeliveryChannel,
    DeliveryState,
    NewsItem,
    Preferences,
    Subscriber,
    SubscriberStatus,
)
from digest.render.cards import card_path
from digest.render.templates import template_environment
from digest.schedule import jobs
from digest.settings import parse_settings
from digest.store import Store, schema
from digest.store.accounts import Role, create_account
from digest.store.bulk import BulkWriter
from digest.store.engine import mask
from digest.store.rows import company_row, item_row, read_row, subscriber_row
from digest.web.app import create_app

PARIS = ZoneInfo("Europe/Paris")
WEEK = IsoWeek(2026, 48)  # the sample's week: stored and sent
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=PARIS)  # the Tuesday after its Monday send
COMPANIES = 2_000
EDITOR, PASSWORD = "Bench Admin", "a long bench passphrase"
TOPICS = (
    "Foundation Models · Case Studies",
    "Compute Economics",
    "Geopolitics",
    "Chips & Hardware",
    "Open Models",
    "Enterprise Adoption",
    "Capital & Valuations",
    "Safety & Policy",
)
LIMIT_MS, LIMIT_BYTES = 150, 1_000_000


def settings_for(root: Path, database_url: str) -> Any:
    raw = yaml.safe_load((DATA / "settings.yaml").read_text())
    raw["database"] = {"url": database_url}
    raw["web"]["editor"] = {}
    raw["email"]["options"]["directory"] = str(root / "outbox" / "email")
    raw["social"] = []
    return parse_settings(raw, where="settings.yaml", root=root)


# Building the store ---------------------------------------------------------------------------


def generated_companies() -> list[Company]:
    return [
        Company(f"co-{n:04d}", f"Company {n}", "Foundation Models / LLMs", "FR", f"Company{n}")
        for n in range(COMPANIES)
    ]


def generated_items(
    count: int, rng: random.Random, *, span: timedelta = timedelta(days=730)
) -> Iterator[tuple[NewsItem, AmwRead]]:
    """Items over `span` up to the sample's week's end; a few companies get most of them."""
    _, end = WEEK.window(PARIS)
    seconds = span.total_seconds()
    for n in range(count):
        slugs = tuple(
            dict.fromkeys(f"co-{int(COMPANIES * rng.random() ** 2):04d}" for _ in range(2))
        )[: rng.choice((1, 1, 2))]
        topics = tuple(rng.sample(TOPICS, rng.choice((1, 2, 3))))
        item = NewsItem(
            id=f"bench-{n:06d}",
            title=f"Company news number {n}: a model, a chip or a round of funding",
            summary="A generated item for the page bench. " * 4,
            url=f"https://example.com/bench/{n}",
            published_at=end - timedelta(seconds=1 + rng.random() * seconds),
            companies=slugs,
            category="Product",
            topics=topics,
            countries=("FR",),
            read_minutes=2,
            page_url=f"https://news.example.org/news/bench-{n}",
        )
        read = AmwRead(item.id, "A generated read.", rng.randint(1, 5), rng.randint(1, 5))
        yield item, read


def subscriber_id_of(n: int) -> str:
    return f"s{n:07d}"


def is_pending(n: int) -> bool:
    return n % 100 == 1  # one in a hundred has not confirmed yet


def generated_subscribers(count: int, rng: random.Random) -> Iterator[Subscriber]:
    follows = ("mistral-ai", "nvidia", "openai", "deepseek", "co-0001", "co-0002")
    for n in range(count):
        status = SubscriberStatus.PENDING if is_pending(n) else SubscriberStatus.ACTIVE
        yield Subscriber(
            id=subscriber_id_of(n),
            email=f"reader{n}@example.com",
            name=f"Reader {n}",
            status=status,
            timezone="Europe/Paris",
            preferences=Preferences(
                companies=(rng.choice(follows),) if n % 3 == 0 else (),
                topics=(rng.choice(TOPICS),) if n % 5 == 0 else (),
            ),
        )


def build_store(store: Store, ctx: Context, items: int, subscribers: int) -> None:
    rng = random.Random(48)
    started = time.perf_counter()
    store.write_batch(read_sources([str(DATA / "sample.yaml")]))
    now = NOW
    pairs = list(generated_items(items, rng))
    with store.engine.begin() as connection:
        connection.execute(
            insert(schema.companies), [company_row(c) for c in generated_companies()]
        )
        connection.execute(insert(schema.items), [item_row(item, now) for item, _ in pairs])
        connection.execute(
            insert(schema.item_companies),
            [
                {"item_id": item.id, "company_slug": slug, "position": position}
                for item, _ in pairs
                for position, slug in enumerate(item.companies)
            ],
        )
        connection.execute(insert(schema.reads), [read_row(read) for _, read in pairs])
    del pairs
    print(f"  {items:,} items in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    people = generated_subscribers(subscribers, rng)
    with store.engine.begin() as connection:
        # Through the store's bulk writer, as an import writes: an executemany is a statement a
        # row on PostgreSQL, and the profile counts' statement trigger then fired for each row
        # in one transaction (quadratic: 20,000 took 12 s, a million did not end in 12 minutes).
        writer = BulkWriter(connection)
        while chunk := [subscriber_row(s, now) for s in itertools.islice(people, 50_000)]:
            writer.insert(schema.subscribers, chunk)
    print(f"  {subscribers:,} subscribers: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    # The sample's week as after Monday's send: stored, released, the weekly's rows all sent.
    sent_at = NOW - timedelta(days=1)
    for digest in [jobs.compose_weekly(ctx, WEEK), *jobs.compose_companies(ctx, WEEK)]:
        store.save_digest(digest)
        store.mark_digest_planned(digest.key, sent_at)
    weekly = f"weekly:{WEEK}"
    rows = (
        outbox.PlannedDelivery(
            idempotency_key=outbox.email_key(weekly, subscriber_id_of(n)),
            digest_key=weekly,
            channel=DeliveryChannel.EMAIL,
            target=subscriber_id_of(n),
            payload={},
        )
        for n in range(subscribers)
        if not is_pending(n)
    )
    outbox.plan(store.engine, rows, now=sent_at)
    with store.engine.begin() as connection:
        connection.execute(
            update(schema.deliveries).values(
                state=DeliveryState.SENT.value, attempts=1, finished_at=sent_at
            )
        )
    create_account(
        store.engine, name=EDITOR, email="bench@example.org", role=Role.ADMIN,
        password=PASSWORD, now=NOW,
    )  # fmt: skip
    if store.engine.dialect.name == "postgresql":
        # What autovacuum does after a bulk load (it is off on the test server): without the
        # statistics the planner guesses 500 items where a page's window holds 17,500.
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("ANALYZE")
    print(f"  store built in {time.perf_counter() - started:.0f} s", file=sys.stderr)


# Measuring ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Measured:
    page: str
    status: int
    median_ms: float
    cpu_ms: float
    size: int


def pages(ctx: Context, store: Store) -> list[tuple[str, str]]:
    """(name, path) of every page, public then editor, with real tokens and keys."""
    site = ctx.settings.site
    base = site.base_url.rstrip("/")
    reader = "s0000003"  # active, follows a company
    pending = "s0000001"
    weekly, company = f"weekly:{WEEK}", f"company:nvidia:{WEEK}"
    unstored = f"company:nvidia:{WEEK.previous()}"
    frame = f"/editor/digest/{weekly}/email.html"
    preferences = preferences_url(site, reader).removeprefix(base)
    return [
        ("/ (to the archive)", "/"),
        ("archive", "/archive"),
        ("archive: weekly", f"/archive/{weekly}"),
        ("archive: company", f"/archive/{company}"),
        ("archive feed (Atom)", "/archive/feed.atom"),
        ("archive feed (JSON)", "/archive/feed.json"),
        ("archive: weekly's share card", f"/{card_path(weekly, 1)}"),
        ("subscribe", "/subscribe"),
        ("subscribe, embedded form", "/subscribe/embed"),
        ("confirm", timed_url(site, pending, "confirm", ctx.clock()).removeprefix(base)),
        ("preferences", preferences),
        ("preferences: ask for the data", f"{preferences}/data"),
        ("preferences: ask to be deleted", f"{preferences}/delete"),
        ("my data", timed_url(site, reader, "data", ctx.clock()).removeprefix(base)),
        ("delete me", timed_url(site, reader, "delete", ctx.clock()).removeprefix(base)),
        ("unsubscribe", unsubscribe_url(site, reader).removeprefix(base)),
        ("editor: login", "/editor/login"),
        ("editor: calendar", "/editor/"),
        ("editor: calendar, week sent", f"/editor/?week={WEEK}"),
        ("editor: weekly", f"/editor/digest/{weekly}"),
        ("editor: weekly email frame", frame),
        ("editor: weekly, find a subscriber", f"/editor/digest/{weekly}?q=reader12"),
        ("editor: weekly, view as", f"/editor/digest/{weekly}?subscriber={reader}"),
        (
            "editor: weekly frame, view as",
            f"/editor/digest/{weekly}/email.html?subscriber={reader}",
        ),
        ("editor: weekly, find an item", f"/editor/digest/{weekly}?find=company"),
        ("editor: company", f"/editor/digest/{company}"),
        ("editor: company email frame", f"/editor/digest/{company}/email.html"),
        ("editor: company, not stored", f"/editor/digest/{unstored}"),
        ("editor: weekly's posts", f"/editor/digest/{weekly}/posts"),
        ("editor: company's posts, not stored", f"/editor/digest/{unstored}/posts"),
        ("editor: weekly's share card", f"/editor/{card_path(weekly, 1)}"),
        ("editor: reports", "/editor/reports"),
        ("editor: reports (CSV)", "/editor/reports.csv"),
        ("editor: weekly's report", f"/editor/reports/{weekly}"),
        ("editor: weekly's report (CSV)", f"/editor/reports/{weekly}.csv"),
        ("editor: sign-up forms", "/editor/signup"),
        ("editor: accounts", "/editor/accounts"),
        ("editor: password", "/editor/password"),
    ]


async def log_in(client: httpx.AsyncClient) -> None:
    form = await client.get("/editor/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token, "the login page has no CSRF field"
    data = {"csrf_token": token[1], "name": EDITOR, "password": PASSWORD, "next": "/editor/"}
    answer = await client.post("/editor/login", data=data)
    assert answer.status_code == 303, f"login failed: {answer.status_code} {answer.text[:300]}"


async def measure_all(
    ctx: Context, store: Store, repeat: int, only: re.Pattern[str]
) -> list[Measured]:
    app = create_app(ctx)
    transport = httpx.ASGITransport(app=app)
    measured = []
    async with httpx.AsyncClient(transport=transport, base_url=ctx.settings.site.base_url) as c:
        await log_in(c)
        for name, path in pages(ctx, store):
            if not only.search(name):
                continue
            first = await c.get(path)
            times, cpu = [], []
            for _ in range(repeat):
                started, used = time.perf_counter(), time.process_time()
                answer = await c.get(path)
                times.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - used) * 1000)
            median, median_cpu = statistics.median(times), statistics.median(cpu)
            measured.append(
                Measured(name, first.status_code, median, median_cpu, len(answer.content))
            )
    return measured


def opened(database_url: str, root: Path) -> tuple[Context, Store]:
    settings = settings_for(root, database_url)
    store = Store.open(database_url)
    ctx = Context(settings=settings, store=store, env=template_environment(), clock=lambda: NOW)
    return ctx, store


def is_built(store: Store) -> bool:
    """Whether the store holds the bench's account, the last thing `build_store` makes."""
    with store.engine.connect() as connection:
        query = select(exists().where(schema.editor_accounts.c.name == EDITOR))
        return bool(connection.scalar(query))


def measure(database_url: str, root: Path, repeat: int, only: str) -> list[Measured]:
    ctx, store = opened(database_url, root)
    try:
        return asyncio.run(measure_all(ctx, store, repeat, re.compile(only)))
    finally:
        store.close()


def measure_elsewhere(checkout: Path, database_url: str, repeat: int, only: str) -> list[Measured]:
    """The same measurement with the code of another checkout, in a child process."""
    command = [sys.executable, __file__, "--database", database_url, "--repeat", str(repeat)]
    command += ["--only", only]
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    done = subprocess.run([*command, "--json"], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the run against {checkout} failed:\n{done.stderr}")
    return [Measured(**row) for row in json.loads(done.stdout)]


def table(now: list[Measured], before: list[Measured] | None) -> Iterator[str]:
    # CPU time, not wall: on a loaded machine the wall time measures the load.
    over = [m for m in now if m.cpu_ms > LIMIT_MS or m.size > LIMIT_BYTES]
    if before is None:
        yield "| page | status | median | CPU | size |"
        yield "| --- | --- | ---: | ---: | ---: |"
        for m in now:
            yield (
                f"| {m.page} | {m.status} | {m.median_ms:.1f} ms | {m.cpu_ms:.1f} ms | "
                f"{m.size / 1000:.1f} KB |"
            )
    else:
        was = {m.page: m for m in before}
        yield "| page | status | before | after | ratio | CPU before | CPU after | size | after |"
        yield "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        for m in now:
            old = was.get(m.page)
            if old is None:
                yield (
                    f"| {m.page} | {m.status} | | {m.median_ms:.1f} ms | | | {m.cpu_ms:.1f} ms | | "
                    f"{m.size / 1000:.1f} KB |"
                )
                continue
            yield (
                f"| {m.page} | {old.status}, {m.status} | {old.median_ms:.1f} ms | "
                f"{m.median_ms:.1f} ms | "
                f"{old.median_ms / max(m.median_ms, 0.01):.1f}× | {old.cpu_ms:.1f} ms | "
                f"{m.cpu_ms:.1f} ms | {old.size / 1000:.1f} KB | {m.size / 1000:.1f} KB |"
            )
    yield ""
    yield (
        f"{len(now)} pages; over {LIMIT_MS} ms of CPU or {LIMIT_BYTES // 1_000_000} MB: "
        + (", ".join(m.page for m in over) if over else "none")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7, help="timed requests per page")
    parser.add_argument("--store", type=Path, help="SQLite file to build once and reuse")
    parser.add_argument(
        "--database", help="a database URL instead of --store (PostgreSQL), built once"
    )
    parser.add_argument("--against", type=Path, help="another checkout to measure, same run")
    parser.add_argument(
        "--against-store", type=Path, help="its copy of the store (default: --store)"
    )
    parser.add_argument("--against-database", help="its copy of --database")
    parser.add_argument("--only", default="", help="the pages whose name matches this regex")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        url = args.database or f"sqlite:///{args.store or root / 'pages.db'}"
        ctx, store = opened(url, root)
        if not is_built(store):
            print(f"building {mask(make_url(url))} …", file=sys.stderr)
            build_store(store, ctx, args.items, args.subscribers)
        store.close()
        if args.json:
            print(json.dumps([asdict(m) for m in measure(url, root, args.repeat, args.only)]))
            return
        against_url = args.against_database or (
            f"sqlite:///{args.against_store}" if args.against_store else url
        )
        before = (
            measure_elsewhere(args.against, against_url, args.repeat, args.only)
            if args.against
            else None
        )
        now = measure(url, root, args.repeat, args.only)
        print(
            f"{make_url(url).get_backend_name()}: {args.items:,} items, "
            f"{args.subscribers:,} subscribers; {args.repeat} requests a page"
        )
        for line in table(now, before):
            print(line)


if __name__ == "__main__":
    main()
