"""Delivering the default weekly digest to a local SMTP sink that this script starts.

    .venv/bin/python bench/bench_email_smtp.py [--messages 10000] [--connections 4]

The sink is postfix's `smtp-sink` (Debian package postfix; run as `-u nobody`), which accepts
and discards. Three ways are timed against it, in the same run:

  adapter     the smtp adapter's send_many with its pool of --connections (what a worker does,
              messages built beforehand so that only sending is timed)
  per message one new connection per message (smtplib: connect, EHLO, send, QUIT)
  ceiling     a bare pipelined asyncio client: four connections, one pre-encoded message,
              MAIL/RCPT/DATA sent in one write (RFC 2920) — what this machine and sink can do

and, for the whole path, a worker delivering an outbox of --messages rows (SQLite): claim, build
each personalised message, send through the adapter, record the results.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import sample_context, subscribers, weekly

from digest.delivery.email import email_adapter
from digest.render.message import OutgoingEmail
from digest.schedule import jobs
from digest.schedule.deliverer import Deliverer
from digest.schedule.messages import MessageBuilder


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_sink(port: int) -> subprocess.Popen[bytes]:
    sink = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    if not Path(sink).exists():
        sys.exit("smtp-sink not found: apt-get install postfix (it ships /usr/sbin/smtp-sink)")
    process = subprocess.Popen([sink, "-u", "nobody", f"127.0.0.1:{port}", "1024"])
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    sys.exit("smtp-sink did not start")


def per_message(port: int, messages: list[OutgoingEmail]) -> float:
    started = time.perf_counter()
    for message in messages:
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            smtp.sendmail(message.sender, [message.recipient], message.data)
    return len(messages) / (time.perf_counter() - started)


async def _pipelined(port: int, data: bytes, count: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def replies(number: int) -> None:
        for _ in range(number):
            while True:
                line = await reader.readline()
                if line[3:4] != b"-":  # the last line of a multi-line reply
                    break

    await replies(1)  # greeting
    writer.write(b"EHLO bench\r\n")
    await replies(1)
    envelope = b"MAIL FROM:<digest@news.example.org> BODY=8BITMIME\r\n"
    envelope += b"RCPT TO:<reader@example.com>\r\nDATA\r\n"
    body = data.replace(b"\r\n.", b"\r\n..") + b".\r\n"
    for _ in range(count):
        writer.write(envelope)
        await replies(3)
        writer.write(body)
        await replies(1)
    writer.write(b"QUIT\r\n")
    await writer.drain()
    writer.close()


def ceiling(port: int, data: bytes, count: int, connections: int = 4) -> float:
    async def run() -> None:
        share = count // connections
        await asyncio.gather(*(_pipelined(port, data, share) for _ in range(connections)))

    started = time.perf_counter()
    asyncio.run(run())
    return (count // connections * connections) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    port = free_port()
    sink = start_sink(port)
    try:
        with tempfile.TemporaryDirectory() as directory:
            email = {
                "type": "smtp",
                "options": {
                    "host": "127.0.0.1",
                    "port": port,
                    "security": "none",
                    "connections": args.connections,
                },
            }
            ctx = sample_context(Path(directory), type="smtp", options=email["options"])
            digest = weekly(ctx)
            ctx.store.save_digest(digest)
            people = subscribers(args.messages)
            builder = MessageBuilder(ctx)
            now = ctx.clock()
            distinct = min(2000, len(people))
            built = []
            for person in people[:distinct]:
                variant = builder.variant_for(digest.key, person, now)
                assert variant is not None
                key = f"{digest.key}/email/{person.id}"
                built.append(builder.personal_message(key, person, variant, now))
            messages = [built[n % distinct] for n in range(args.messages)]
            size = sum(len(m.data) for m in built) / distinct / 1024

            adapter = email_adapter(ctx.settings)
            started = time.perf_counter()
            for start in range(0, len(messages), 64):
                results = adapter.send_many(messages[start : start + 64])
                assert all(result.status.value == "sent" for result in results), results[0]
            adapter_rate = len(messages) / (time.perf_counter() - started)
            adapter.close()

            single_rate = per_message(port, messages[: min(1000, len(messages))])
            ceiling_rate = ceiling(port, built[0].data, len(messages))

            ctx.store.save_subscribers(people)
            jobs.plan_email(ctx, digest)
            ctx.settings = replace(ctx.settings, email=replace(ctx.settings.email, batch=500))
            started = time.perf_counter()
            report = Deliverer(ctx).run()
            worker_rate = report.total / (time.perf_counter() - started)
            assert report.states == {"sent": len(people)}, report.states
            ctx.close()
    finally:
        sink.terminate()
        sink.wait()
    print(f"messages: {args.messages:,} of the default weekly digest, {size:.1f} KB each")
    print(f"adapter ({args.connections} connections): {adapter_rate:,.0f} messages/s")
    print(f"one connection per message:  {single_rate:,.0f} messages/s")
    print(f"ceiling (bare pipelined asyncio, 4 connections): {ceiling_rate:,.0f} messages/s")
    print(f"adapter / per message: {adapter_rate / single_rate:.1f}x")
    print(f"adapter / ceiling: {adapter_rate / ceiling_rate:.0%} (target 75%)")
    print(f"whole worker (claim, build, send, record; SQLite): {worker_rate:,.0f} messages/s")
    print(f"target 1,000/s through the adapter: {'met' if adapter_rate >= 1000 else 'NOT met'}")


if __name__ == "__main__":
    main()
