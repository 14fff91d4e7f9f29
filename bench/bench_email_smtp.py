"""The whole `digest send weekly` against the SMTP adapter alone and the machine's ceiling.

    .venv/bin/python bench/bench_email_smtp.py [--messages 100000] [--connections 4]
        [--adapter-messages 20000] [--database sqlite|postgresql://…] (repeatable)

The sink is postfix's `smtp-sink` (Debian package postfix), which accepts and discards. Timed
against it, in the same run:

  smtp-source  postfix's own C client, --connections sessions, connections reused: the ceiling
  asyncio      a bare pipelined Python client (MAIL/RCPT/DATA in one write), one message body
  adapter      the smtp adapter's send_each on fresh messages, one per distinct subscriber (built
               2,000 at a time, building not timed), answers not recorded anywhere
  send         `digest send weekly --now` as a child process, the way an operator runs it, on
               an outbox of --messages subscribers, with the default batch: planning, claiming,
               building, sending and recording; its delivery rate (from the "planned" line to
               the end), its whole rate, its CPU a message (user + system, planning
               included) and its peak RSS

The figure that matters is send / adapter (issue 14: at least 80%). Beside the adapter's and
each send's rate: the sink's own CPU a message and how busy it was (the sink is one process:
near 100% of a core it is the limit), and how much of the machine stood idle while delivering.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import NamedTuple

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import database, sample_context, subscribers, weekly

from digest.cli import DATA
from digest.delivery.email import email_adapter
from digest.delivery.email.base import RECORDED, Recorded
from digest.models import DeliveryResult
from digest.render.message import OutgoingEmail
from digest.schedule.messages import MessageBuilder
from digest.schedule.webhooks import WebhookDeliverer

BUILT_AT_ONCE = 2_000


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


def cpu_seconds(pid: int) -> float:
    """A process's user + system CPU so far (/proc/PID/stat), e.g. the sink's."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_ticks() -> tuple[int, int]:
    """The machine's CPU ticks so far, in all and idle (idle + iowait; /proc/stat)."""
    ticks = [int(tick) for tick in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return sum(ticks), ticks[3] + ticks[4]


class Sink(NamedTuple):
    """What the sink did over a span of `messages`: CPU µs a message, share of a core busy."""

    cpu_per_message: float
    busy: float

    @classmethod
    def over(cls, cpu: float, seconds: float, messages: int) -> Sink:
        return cls(cpu / messages * 1e6, cpu / seconds)


class Send(NamedTuple):
    delivering: float  # messages/s from the "planned" line to the end
    whole: float  # messages/s, planning included
    cpu_per_message: float  # µs of the child's CPU, planning included
    peak_mb: float
    sink: Sink  # while delivering
    idle: float  # share of the machine's CPU idle while delivering


def smtp_source(port: int, size: int, count: int, sessions: int) -> float:
    """postfix's C client: `sessions` parallel sessions, each reusing its connection (-d)."""
    source = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
    command = [source, "-d", "-s", str(sessions), "-l", str(size), "-m", str(count)]
    command += ["-f", "digest@news.example.org", "-t", "reader@example.com", f"127.0.0.1:{port}"]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return count / (time.perf_counter() - started)


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


def asyncio_client(port: int, data: bytes, count: int, connections: int) -> float:
    async def run() -> None:
        share = count // connections
        await asyncio.gather(*(_pipelined(port, data, share) for _ in range(connections)))

    started = time.perf_counter()
    asyncio.run(run())
    return (count // connections * connections) / (time.perf_counter() - started)


def adapter_rate(
    directory: Path, port: int, count: int, connections: int, sink_pid: int
) -> tuple[float, bytes, Sink]:
    """The adapter's send_each on fresh messages: its rate, one of the messages, and the
    sink's work while they were sent."""
    options = {"host": "127.0.0.1", "port": port, "security": "none", "connections": connections}
    ctx = sample_context(directory, type="smtp", options=options)
    try:
        digest = weekly(ctx)
        ctx.store.save_digest(digest)
        builder = MessageBuilder(ctx)
        adapter = email_adapter(ctx.settings)
        now = ctx.clock()
        sending = sink_cpu = 0.0
        for start in range(0, count, BUILT_AT_ONCE):
            batch: list[tuple[int, OutgoingEmail]] = []
            for n, person in enumerate(subscribers(min(BUILT_AT_ONCE, count - start), start=start)):
                variant = builder.variant_for(digest.key, person, now)
                assert variant is not None
                key = f"{digest.key}/email/{person.id}"
                batch.append((n, builder.personal_message(key, person, variant, now)))
            work = iter(batch)

            def answered(_row: int, result: DeliveryResult) -> Recorded:
                assert result.status.value == "sent", result
                return RECORDED

            started, sink_before = time.perf_counter(), cpu_seconds(sink_pid)
            adapter.send_each(lambda work=work: next(work, None), answered)
            sending += time.perf_counter() - started
            sink_cpu += cpu_seconds(sink_pid) - sink_before
        adapter.close()
    finally:
        ctx.close()
    return count / sending, batch[0][1].data, Sink.over(sink_cpu, sending, count)


def peak_rss_of(pid: int, running: threading.Event, peak: list[int]) -> None:
    """The child's VmHWM, read until it ends. Not getrusage: a child's ru_maxrss starts from its
    parent's peak at fork (it survives exec), and this process holds thousands of messages."""
    while running.is_set():
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peak[0] = max(peak[0], int(line.split()[1]))
        time.sleep(0.05)


def whole_send(
    directory: Path, url: str, port: int, count: int, connections: int, sink_pid: int
) -> Send:
    """`digest send weekly --now` for `count` subscribers, timed and watched."""
    ctx = sample_context(directory, database_url=url)
    try:
        for start in range(0, count, 20_000):
            ctx.store.save_subscribers(subscribers(min(20_000, count - start), start=start))
        # Their sign-up events fanned out now, as a list's were long before its send.
        WebhookDeliverer(ctx, owner="bench").fan_out()
    finally:
        ctx.close()
    raw = yaml.safe_load((DATA / "settings.yaml").read_text())
    raw["social"] = []
    raw["database"] = {"url": url}
    options = {"host": "127.0.0.1", "port": port, "security": "none", "connections": connections}
    raw["email"] = {"type": "smtp", "options": options}  # the default batch
    settings = directory / "send.yaml"
    settings.write_text(yaml.safe_dump(raw, allow_unicode=True))
    command = [sys.executable, "-m", "digest", "--settings", str(settings), "send", "weekly"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    log = directory / "send.log"  # its progress lines: a pipe could fill up and stop it
    with log.open("w") as errors:
        child = subprocess.Popen(
            [*command, "--now"], stdout=subprocess.PIPE, stderr=errors, text=True
        )
    assert child.stdout is not None
    running, peak = threading.Event(), [0]
    running.set()
    watcher = threading.Thread(target=peak_rss_of, args=(child.pid, running, peak))
    watcher.start()
    planned = None
    output = []
    for line in child.stdout:
        output.append(line)
        if planned is None and " planned " in line:
            planned = time.perf_counter()
            sink_before, ticks_before = cpu_seconds(sink_pid), machine_ticks()
    running.clear()
    watcher.join()
    status = child.wait()
    ended = time.perf_counter()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the child alone: the sink still runs
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    if status != 0 or planned is None:
        sys.exit(f"digest send failed ({status}):\n{''.join(output)}\n{log.read_text()[-3000:]}")
    if os.environ.get("BENCH_VERBOSE"):
        print("".join(output[-5:]), end="")
    sink = Sink.over(cpu_seconds(sink_pid) - sink_before, ended - planned, count)
    ticks = [end - start for end, start in zip(machine_ticks(), ticks_before, strict=True)]
    return Send(
        delivering=count / (ended - planned),
        whole=count / (ended - started),
        cpu_per_message=cpu / count * 1e6,
        peak_mb=peak[0] / 1024,
        sink=sink,
        idle=ticks[1] / ticks[0],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--adapter-messages", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument(
        "--database",
        action="append",
        help="sqlite (the default) or a PostgreSQL URL; give it twice for both",
    )
    args = parser.parse_args()
    port = free_port()
    sink = start_sink(port)
    sends = []
    try:
        with tempfile.TemporaryDirectory() as directory:
            root = Path(directory)
            (root / "adapter").mkdir()
            count, connections = args.adapter_messages, args.connections
            adapter, sample, adapter_sink = adapter_rate(
                root / "adapter", port, count, connections, sink.pid
            )
            size = len(sample)
            source = smtp_source(port, size, count, connections)
            python = asyncio_client(port, sample, count, connections)
            for choice in args.database or ["sqlite"]:
                run = root / f"send-{len(sends)}"
                run.mkdir()
                with database(choice, run) as url:
                    send = whole_send(run, url, port, args.messages, connections, sink.pid)
                    sends.append((choice, send))
    finally:
        sink.terminate()
        sink.wait()
    load = os.getloadavg()[0]
    cpu = resource.getrusage(resource.RUSAGE_SELF).ru_utime
    print(f"SMTP to postfix's smtp-sink, {args.connections} connections, {size:,} bytes a message")
    print(f"(load average {load:.1f} at the end; this process's CPU {cpu:.0f} s)")
    print(f"  smtp-source (C, the ceiling):   {source:8,.0f} messages/s")
    print(f"  bare asyncio Python client:     {python:8,.0f} messages/s ({python / source:.0%})")
    print(
        f"  adapter, fresh messages:        {adapter:8,.0f} messages/s ({adapter / source:.0%}); "
        f"{_sink_words(adapter_sink)}"
    )
    for choice, send in sends:
        name = "SQLite" if choice == "sqlite" else "PostgreSQL"
        print(
            f"  digest send weekly, {name:<10}:   {send.delivering:8,.0f} messages/s delivering "
            f"({send.delivering / adapter:.0%} of the adapter; target 80%), {send.whole:,.0f}/s "
            f"with planning, {send.cpu_per_message:,.0f} µs CPU a message, peak RSS "
            f"{send.peak_mb:.0f} MB, {args.messages:,} subscribers; {_sink_words(send.sink)}, "
            f"the machine {send.idle:.0%} idle"
        )


def _sink_words(sink: Sink) -> str:
    return f"smtp-sink {sink.cpu_per_message:,.0f} µs CPU a message, {sink.busy:.0%} of a core busy"


if __name__ == "__main__":
    main()
