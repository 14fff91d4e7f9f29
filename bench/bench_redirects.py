"""Clicks on tracked links through `digest serve`: how many a second, and how fast each answers.

    .venv/bin/python bench/bench_redirects.py [--rate 1000] [--seconds 10] [--connections 64]

Starts `digest serve` (uvicorn, SQLite store, tracking on) as a child process and loads it with
clicks on the weekly digest's tracked links, from distinct readers (X-Forwarded-For, which
uvicorn takes from a proxy on loopback) with a mix of scanners (HEAD requests, a gateway's user
agent). Three runs, in the same process:

  burst     --rate clicks a second offered for --seconds (open loop: each click is timed from
            when it was due, so a server falling behind shows in the latencies)
  flat out  --connections clients clicking back to back: the clicks a second the server handles
  naive     the burst again against the same app with a recorder that writes each hit to the
            store as it comes (what batching saves)

After each run the server is stopped (it writes what it still holds as it stops) and the store's
counts are compared with what was sent: readers, scanners, and nothing lost. The server's CPU
time per click (from /proc) is the work each hit costs it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import sample_context, weekly

from digest.engagement import TrackedLinks
from digest.settings import load_settings
from digest.store import Store
from digest.store.engagement import link_counts

REPO = Path(__file__).resolve().parent.parent
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
GATEWAY = "Mimecast-URL-Protect/1.0"
SCANNER_EVERY = 10  # one click in ten is a scanner's: half HEAD, half a gateway's agent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_settings(directory: Path, database: str) -> Path:
    raw = yaml.safe_load((REPO / "settings.yaml").read_text())
    raw["database"]["url"] = database
    raw["tracking"]["weekly"] = True
    path = directory / "settings.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


class Server:
    """`digest serve`, or (naive) the same app with a recorder writing every hit at once."""

    def __init__(self, settings: Path, *, naive: bool) -> None:
        self.port = free_port()
        if naive:
            command = [sys.executable, __file__, "--naive-server", str(settings), str(self.port)]
        else:
            digest = str(Path(sys.executable).with_name("digest"))
            command = [digest, "--settings", str(settings), "serve", "--port", str(self.port)]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.1)
        self.cpu_at_start = cpu_seconds(self.process.pid)

    def cpu(self) -> tuple[float, float]:
        user, system = cpu_seconds(self.process.pid)
        return user - self.cpu_at_start[0], system - self.cpu_at_start[1]

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)  # uvicorn shuts down: the lifespan writes the rest
        self.process.wait(timeout=60)


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    readers: int = 0
    scanners: int = 0
    errors: int = 0

    def count(self, redirected: bool, scanner: bool, latency: float) -> None:
        self.latencies.append(latency)
        if not redirected:
            self.errors += 1
        elif scanner:
            self.scanners += 1
        else:
            self.readers += 1


def requests(paths: list[str], count: int, offset: int) -> list[tuple[bytes, bool]]:
    """`count` pre-encoded requests: (bytes, is a scanner's)."""
    made = []
    for n in range(offset, offset + count):
        scanner = n % SCANNER_EVERY == 0
        method = "HEAD" if scanner and n % (2 * SCANNER_EVERY) == 0 else "GET"
        agent = GATEWAY if scanner and method == "GET" else BROWSER
        address = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
        path = paths[n % len(paths)]
        made.append(
            (
                f"{method} {path} HTTP/1.1\r\nHost: bench\r\nUser-Agent: {agent}\r\n"
                f"X-Forwarded-For: {address}\r\n\r\n".encode(),
                scanner,
            )
        )
    return made


async def one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> bool:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    if length and not request.startswith(b"HEAD"):
        await reader.readexactly(length)
    return head.startswith(b"HTTP/1.1 302")


async def open_loop(
    port: int, made: list[tuple[bytes, bool]], *, connections: int, rate: float
) -> tuple[Tally, float]:
    """Each request falls due at its time and is timed from then, however busy the clients."""
    tally = Tally()
    queue: asyncio.Queue[tuple[bytes, bool, float] | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    async def client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while (job := await queue.get()) is not None:
            request, scanner, due = job
            tally.count(await one(reader, writer, request), scanner, loop.time() - due)
        writer.close()

    workers = [asyncio.create_task(client()) for _ in range(connections)]
    started = loop.time()
    for index, (request, scanner) in enumerate(made):
        due = started + index / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((request, scanner, due))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    return tally, loop.time() - started


async def closed_loop(
    port: int, made: list[tuple[bytes, bool]], *, connections: int
) -> tuple[Tally, float]:
    tally = Tally()
    loop = asyncio.get_running_loop()
    pending = iter(made)

    async def client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for request, scanner in pending:
            asked = loop.time()
            tally.count(await one(reader, writer, request), scanner, loop.time() - asked)
        writer.close()

    started = loop.time()
    await asyncio.gather(*(client() for _ in range(connections)))
    return tally, loop.time() - started


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def report(name: str, tally: Tally, seconds: float, cpu: tuple[float, float]) -> None:
    total = tally.readers + tally.scanners + tally.errors
    ms = [value * 1000 for value in tally.latencies]
    user, system = (part / total * 1e6 for part in cpu)
    print(
        f"{name:8} {total:>7,} clicks in {seconds:5.2f} s = {total / seconds:6,.0f} clicks/s | "
        f"latency p50 {percentile(ms, 0.50):7.2f} ms  p90 {percentile(ms, 0.90):7.2f}  "
        f"p99 {percentile(ms, 0.99):7.2f}  max {max(ms):8.2f} | "
        f"server CPU a click: {user:4.0f} µs user + {system:4.0f} µs system"
    )


def run(
    settings: Path,
    made: list[tuple[bytes, bool]],
    *,
    connections: int,
    naive: bool,
    rate: float | None,
) -> tuple[Tally, float, tuple[float, float]]:
    """One run against a fresh server; (tally, seconds, the server's user and system CPU)."""
    server = Server(settings, naive=naive)
    try:
        if rate:
            loaded = open_loop(server.port, made, connections=connections, rate=rate)
        else:
            loaded = closed_loop(server.port, made, connections=connections)
        tally, seconds = asyncio.run(loaded)
        cpu = server.cpu()
    finally:
        server.stop()
    return tally, seconds, cpu


def naive_server(settings_path: str, port: int) -> None:
    """The app with a recorder that writes each hit in its own transaction, as it comes."""
    import uvicorn

    from digest.context import Context
    from digest.engagement import HitRecorder
    from digest.web.app import create_app

    class WriteEachHit(HitRecorder):
        def record(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            judgement = super().record(*args, **kwargs)
            self.flush(everything=True)
            return judgement

    ctx = Context.open(load_settings(settings_path))
    recorder = WriteEachHit(ctx.store.engine, ctx.settings.site, ctx.settings.tracking, ctx.clock)
    uvicorn.run(create_app(ctx, recorder=recorder), host="127.0.0.1", port=port)


def app_work(settings_path: Path, paths: list[str], count: int = 20_000) -> float:
    """Microseconds of CPU of the app's own work per click: the ASGI app called directly
    (routing, token, rules, buffer, response), no HTTP server and no network."""
    from digest.context import Context
    from digest.web.app import create_app

    ctx = Context.open(load_settings(settings_path))
    app = create_app(ctx)
    answers: list[int] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.start":
            answers.append(int(message["status"]))  # type: ignore[call-overload]

    async def clicks() -> float:
        started = time.process_time()
        for n in range(count):
            path = paths[n % len(paths)]
            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "GET",
                "scheme": "https",
                "path": path,
                "raw_path": path.encode(),
                "query_string": b"",
                "root_path": "",
                "headers": [(b"host", b"bench"), (b"user-agent", BROWSER.encode())],
                "client": (f"10.9.{n >> 8 & 255}.{n & 255}", 50000),
                "server": ("bench", 443),
                "state": {},
            }
            await app(scope, receive, send)  # type: ignore[arg-type]
        return time.process_time() - started

    seconds = asyncio.run(clicks())
    ctx.close()
    assert answers == [302] * count
    return seconds / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="clicks a second offered")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--naive-server", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.naive_server:
        naive_server(args.naive_server[0], int(args.naive_server[1]))
        return
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        ctx = sample_context(folder)
        digest = weekly(ctx)
        ctx.store.save_digest(digest)
        database = f"sqlite:///{folder / 'bench.db'}"
        settings = write_settings(folder, database)
        # Links made an hour ago: the message went out then, so readers are not "too soon".
        made_at = ctx.clock() - timedelta(hours=1)
        links = TrackedLinks.for_digest(
            ctx.settings.site, load_settings(settings).tracking, digest.key, now=made_at
        )
        paths = [
            "/" + links.url(entry.item.url, f"item:{entry.item.id}").split("/", 3)[3]
            for entry in digest.entries
        ]
        ctx.close()
        count = int(args.rate * args.seconds)
        print(
            f"{len(paths)} tracked links of {digest.key}; one click in {SCANNER_EVERY} a "
            f"scanner's; {args.connections} connections; SQLite store"
        )
        print(
            f"app work  {app_work(settings, paths):.0f} µs a click (the ASGI app called directly)"
        )
        offset = 0
        for name, naive, rate in (
            ("burst", False, args.rate),
            ("flat out", False, None),
            ("naive", True, args.rate),
        ):
            made = requests(paths, count, offset)
            offset += count
            before = verify_counts(database, digest.key)
            tally, seconds, cpu = run(
                settings, made, connections=args.connections, naive=naive, rate=rate
            )
            report(name, tally, seconds, cpu)
            after = verify_counts(database, digest.key)
            delta = Tally(readers=after[0] - before[0], scanners=after[1] - before[1])
            ok = (delta.readers, delta.scanners, tally.errors) == (tally.readers, tally.scanners, 0)
            print(
                f"          store counted {delta.readers:,} reader and {delta.scanners:,} "
                f"scanner clicks: {'all of them' if ok else 'MISMATCH'}"
            )


def verify_counts(database: str, digest_key: str) -> tuple[int, int]:
    store = Store.open(database)
    counts = link_counts(store.engine, digest_key)
    store.close()
    readers = sum(count.count for count in counts if count.verdict == "reader")
    return readers, sum(count.count for count in counts if count.verdict == "scanner")


if __name__ == "__main__":
    main()
