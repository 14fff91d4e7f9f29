"""Composing complete personalised messages (bytes ready for the wire) on one core.

    .venv/bin/python bench/bench_email_compose.py [--subscribers 100000] [--naive 300]

The fast way is what the deliverer does: the digest variant compiled once, a message frame built
once, then per subscriber their signed links and a join of bytes. The naive way compiles the MJML
and builds an email.message.EmailMessage for every subscriber; it is timed on a sample (--naive)
because at its speed 100,000 would take minutes, and its rate is per message either way.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import sample_context, subscribers, weekly

from digest.render.email import EmailRenderer
from digest.render.message import build_message
from digest.schedule.messages import MessageBuilder, message_id, recipient_for


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--naive", type=int, default=300, help="sample size for the naive way")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        ctx = sample_context(Path(directory))
        digest = weekly(ctx)
        ctx.store.save_digest(digest)
        people = subscribers(args.subscribers)
        now = ctx.clock()

        builder = MessageBuilder(ctx)
        started = time.perf_counter()
        total_bytes = 0
        for person in people:
            variant = builder.variant_for(digest.key, person)
            assert variant is not None
            key = f"{digest.key}/email/{person.id}"
            total_bytes += len(builder.personal_message(key, person, variant, now).data)
        fast_seconds = time.perf_counter() - started
        fast_rate = len(people) / fast_seconds

        renderer = EmailRenderer(ctx.env, ctx.settings.site)
        site = ctx.settings.site
        companies = ctx.store.companies()
        sample = people[: args.naive]
        started = time.perf_counter()
        for person in sample:
            recipient = recipient_for(ctx, person, digest.key, companies)
            build_message(
                renderer.compile(digest).personalise(recipient),
                from_address=site.from_address,
                to_name=person.name,
                to_address=person.email,
                message_id=message_id(ctx, f"{digest.key}/email/{person.id}"),
                date=now,
                list_id=site.list_id,
                list_name=site.name,
                unsubscribe_url=recipient.unsubscribe_url,
                unsubscribe_mailto=site.unsubscribe_mailto,
            )
        naive_rate = len(sample) / (time.perf_counter() - started)
        ctx.close()
    print(f"subscribers: {len(people):,}; mean message {total_bytes / len(people) / 1024:.1f} KB")
    print(f"fast:  {fast_rate:,.0f} messages/s ({fast_seconds:.2f} s for all)")
    print(f"naive: {naive_rate:,.0f} messages/s (MJML compile + EmailMessage per subscriber)")
    print(
        f"ratio: {fast_rate / naive_rate:,.0f}x; target 20,000/s: "
        f"{'met' if fast_rate >= 20_000 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
