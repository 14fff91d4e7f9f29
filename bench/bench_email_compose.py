"""Composing complete personalised messages (bytes ready for the wire) on one core.

    .venv/bin/python bench/bench_email_compose.py [--subscribers 100000] [--naive 10000]

The fast way is what the deliverer does: the digest variant compiled once, a message frame built
once, then per subscriber their signed links and a join of bytes. The naive way is the fair
straightforward one: the MJML compiled once too, then for every subscriber their parts filled in
and an email.message.EmailMessage built and serialised; it is timed on a sample (--naive) of the
same subscribers, and its rate is per message either way. Every way runs once per round, in
turn; medians of the rounds, by CPU time (wall beside it).

The fast way is timed three times in one run: untracked, with tracked links (`tracking.weekly`:
each link a signed /r/ token, the same in every message), and per subscriber
(`tracking.per_subscriber`: one more slot, each message's reader token, in every link).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import sample_context, subscribers, weekly

from digest.context import Context
from digest.models import Digest, Subscriber
from digest.render.email import EmailRenderer
from digest.render.message import build_message
from digest.schedule.messages import MessageBuilder, message_id, recipient_for
from digest.settings import TrackingSettings

MODES = {
    "untracked": TrackingSettings(),
    "tracked links": TrackingSettings(weekly=True),
    "per subscriber": TrackingSettings(weekly=True, per_subscriber=True),
}


def fast(ctx: Context, digest: Digest, people: list[Subscriber]) -> tuple[float, float, int]:
    """CPU seconds (what a loaded machine still measures fairly) and wall seconds for every
    message, and their bytes."""
    builder = MessageBuilder(ctx)
    now = ctx.clock()
    cpu, wall = time.process_time(), time.perf_counter()
    total_bytes = 0
    for person in people:
        variant = builder.variant_for(digest.key, person, now)
        assert variant is not None
        key = f"{digest.key}/email/{person.id}"
        total_bytes += len(builder.personal_message(key, person, variant, now).data)
    return time.process_time() - cpu, time.perf_counter() - wall, total_bytes


def naive(ctx: Context, digest: Digest, people: list[Subscriber]) -> tuple[float, float, int]:
    """The fair naive way: the MJML compiled once for the digest, then for every subscriber
    their parts filled in and an email.message.EmailMessage built and serialised."""
    renderer = EmailRenderer(ctx.env, ctx.settings.site)
    site = ctx.settings.site
    companies = ctx.store.companies()
    now = ctx.clock()
    cpu, wall = time.process_time(), time.perf_counter()
    compiled = renderer.compile(digest)
    total_bytes = 0
    for person in people:
        recipient = recipient_for(ctx, person, digest.key, companies)
        total_bytes += len(
            build_message(
                compiled.personalise(recipient),
                from_address=site.from_address,
                to_name=person.name,
                to_address=person.email,
                message_id=message_id(ctx, f"{digest.key}/email/{person.id}"),
                date=now,
                list_id=site.list_id,
                list_name=site.name,
                unsubscribe_url=recipient.unsubscribe_url,
                unsubscribe_mailto=recipient.unsubscribe_mailto,
            )
        )
    return time.process_time() - cpu, time.perf_counter() - wall, total_bytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--naive", type=int, default=10_000, help="sample size for the naive way")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every way (medians)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        ctx = sample_context(Path(directory))
        digest = weekly(ctx)
        ctx.store.save_digest(digest)
        people = subscribers(args.subscribers)
        sample = people[: args.naive]

        # Rounds of every way in turn, interleaved, medians kept: on a shared machine, the
        # ratios between ways measured side by side are what holds.
        runs: dict[str, list[tuple[float, float, int]]] = {}
        for _ in range(args.rounds):
            for mode, tracking in MODES.items():
                tracked = replace(ctx, settings=replace(ctx.settings, tracking=tracking))
                runs.setdefault(mode, []).append(fast(tracked, digest, people))
            runs.setdefault("naive", []).append(naive(ctx, digest, sample))
        ctx.close()
    counts = {mode: len(people) for mode in MODES} | {"naive": len(sample)}
    rates = {
        mode: counts[mode] / statistics.median(cpu for cpu, _, _ in timed)
        for mode, timed in runs.items()
    }
    print(f"subscribers: {len(people):,} (naive way: {len(sample):,}); rounds: {args.rounds}")
    for mode, timed in runs.items():
        cpu = statistics.median(cpu for cpu, _, _ in timed)
        wall = statistics.median(wall for _, wall, _ in timed)
        size = timed[0][2] / counts[mode] / 1024
        print(
            f"{mode}: {rates[mode]:,.0f} messages/s by CPU, {counts[mode] / wall:,.0f} by wall"
            f" ({cpu:.2f} CPU s, {wall:.2f} wall s; mean {size:.1f} KB;"
            f" {rates[mode] / rates['untracked']:.2f}x untracked)"
        )
    print(
        f"ratio untracked / naive: {rates['untracked'] / rates['naive']:,.1f}x;"
        " target 20,000/s: "
        + ", ".join(f"{mode} {'met' if rates[mode] >= 20_000 else 'NOT met'}" for mode in MODES)
    )


if __name__ == "__main__":
    main()
