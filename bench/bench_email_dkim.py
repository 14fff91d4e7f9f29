"""What DKIM signing costs the fast message path, side by side: messages/s unsigned, signed
with ed25519-sha256, with rsa-sha256, and with both (one message, two signatures).

    .venv/bin/python bench/bench_email_dkim.py [--subscribers 5000] [--naive 200] [--rounds 3]

Every figure is a whole message as the deliverer builds it (signed links, headers, bodies, and
the signatures), for the default weekly digest of the bundled sample. Two naive ways on a sample:
`dkim.sign` from dkimpy on each finished message (its own RSA, in pure Python, and its own
canonicalisation of every body), and our signer canonicalising each whole body instead of
hashing the chunks canonicalised once per variant. Every way runs once per round, in turn;
medians. CPU time is the figure to compare on a busy machine; wall time is printed beside it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import dkim

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import sample_context, subscribers, weekly

from digest.context import Context
from digest.models import Subscriber
from digest.render.dkim import SIGNED_HEADERS, DkimSigner, new_key
from digest.schedule.messages import MessageBuilder
from digest.settings import DkimKeySettings, DkimSettings, Secret

DOMAIN = "news.example.org"


def timed(run: Callable[[], int]) -> tuple[float, float, int]:
    """(CPU seconds, wall seconds, messages) of one run."""
    cpu, wall = time.process_time(), time.perf_counter()
    count = run()
    return time.process_time() - cpu, time.perf_counter() - wall, count


def medians(runs: list[tuple[float, float, int]]) -> tuple[float, float, int]:
    """Median CPU and wall seconds of runs of the same messages."""
    cpu = statistics.median(run[0] for run in runs)
    return cpu, statistics.median(run[1] for run in runs), runs[0][2]


def with_keys(ctx: Context, pems: dict[str, bytes], kinds: tuple[str, ...]) -> Context:
    if not kinds:
        return ctx
    first, *rest = kinds
    options = DkimSettings(
        selector=f"digest-{first}",
        domain=DOMAIN,
        private_key=Secret(pems[first].decode()),
        second=DkimKeySettings(f"digest-{rest[0]}", Secret(pems[rest[0]].decode()))
        if rest
        else None,
    )
    email = replace(ctx.settings.email, dkim=options)
    return replace(ctx, settings=replace(ctx.settings, email=email))


def build_all(ctx: Context, key: str, people: list[Subscriber]) -> Callable[[], int]:
    builder = MessageBuilder(ctx)
    now = ctx.clock()
    builder.variant_for(key, people[0], now)  # compiled (and framed) once, before the clock starts

    def run() -> int:
        for person in people:
            variant = builder.variant_for(key, person, now)
            assert variant is not None
            builder.personal_message(f"{key}/email/{person.id}", person, variant, now)
        return len(people)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=5_000)
    parser.add_argument("--naive", type=int, default=200, help="sample size for the naive ways")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every way (medians)")
    args = parser.parse_args()
    pems = {kind: new_key(kind).private_pem for kind in ("rsa", "ed25519")}
    with tempfile.TemporaryDirectory() as directory:
        ctx = sample_context(Path(directory))
        digest = weekly(ctx)
        ctx.store.save_digest(digest)
        people = subscribers(args.subscribers)
        ways = {
            label: build_all(with_keys(ctx, pems, kinds), digest.key, people)
            for label, kinds in (
                ("unsigned", ()),
                ("ed25519-sha256", ("ed25519",)),
                ("rsa-sha256 (2048)", ("rsa",)),
                ("both signatures", ("rsa", "ed25519")),
            )
        }

        # The naive ways, on a sample of finished unsigned messages.
        builder = MessageBuilder(ctx)
        now = ctx.clock()
        sample = people[: args.naive]
        messages = []
        for person in sample:
            variant = builder.variant_for(digest.key, person, now)
            assert variant is not None
            messages.append(builder.personal_message(person.id, person, variant, now).data)

        def dkimpy_sign() -> int:
            for data in messages:
                dkim.sign(
                    data,
                    b"digest-rsa",
                    DOMAIN.encode(),
                    pems["rsa"],
                    canonicalize=(b"relaxed", b"relaxed"),
                    include_headers=list(SIGNED_HEADERS),
                )
            return len(messages)

        signer = MessageBuilder(with_keys(ctx, pems, ("rsa",))).signer
        assert signer is not None

        def whole_body(signer: DkimSigner = signer) -> int:
            for data in messages:
                signer.sign(data, now)
            return len(messages)

        ways["naive: dkimpy"] = dkimpy_sign
        ways["naive: whole body"] = whole_body
        runs: dict[str, list[tuple[float, float, int]]] = {label: [] for label in ways}
        for _ in range(args.rounds):  # every way in turn, so that all see the same load
            for label, run in ways.items():
                runs[label].append(timed(run))
        ctx.close()
    results = {label: medians(timed_runs) for label, timed_runs in runs.items()}
    naive_dkimpy = results.pop("naive: dkimpy")
    naive_body = results.pop("naive: whole body")

    unsigned_rate = results["unsigned"][2] / results["unsigned"][0]
    print(
        f"{len(people):,} messages of the default weekly digest (one core); medians of"
        f" {args.rounds} rounds; load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'':34} {'messages/s (CPU)':>17} {'wall':>9} {'vs unsigned':>12} {'µs signing':>11}")
    for label, (cpu, wall, count) in results.items():
        rate = count / cpu
        cost = (cpu / count - 1 / unsigned_rate) * 1e6
        print(
            f"{label:34} {rate:>17,.0f} {count / wall:>9,.0f} {rate / unsigned_rate:>11.2f}x "
            f"{cost:>11,.0f}"
        )
    for label, (cpu, wall, count) in (
        ("naive: dkimpy's dkim.sign (rsa)", naive_dkimpy),
        ("naive: each whole body canonicalised", naive_body),
    ):
        # The naive ways only sign: the unsigned build time is added for a whole message's rate.
        build = count / unsigned_rate
        rate = count / (cpu + build)
        print(
            f"{label:34} {rate:>17,.0f} {count / (wall + build):>9,.0f} "
            f"{rate / unsigned_rate:>11.2f}x {cpu / count * 1e6:>11,.0f}"
        )
    fast_rsa = results["rsa-sha256 (2048)"]
    dkimpy_rate = naive_dkimpy[2] / (naive_dkimpy[0] + naive_dkimpy[2] / unsigned_rate)
    print(f"rsa-sha256: fast {fast_rsa[2] / fast_rsa[0] / dkimpy_rate:.1f}x dkimpy's dkim.sign")


if __name__ == "__main__":
    main()
