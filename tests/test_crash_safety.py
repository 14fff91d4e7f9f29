"""Crash safety, shown with real processes: a `digest worker` delivering to a real SMTP server
(aiosmtpd on loopback) is killed with SIGKILL at random moments while it sends, at least twenty
times, and started again each time. At the end every planned recipient has received a message
with its Message-ID, nobody has received two different messages, the only messages sent twice
are ones whose rows the killed worker held (in flight) when it died, and each kill repeated at
most one message per connection (the one whose answer it had not yet recorded)."""

from __future__ import annotations

import email
import email.policy
import random
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import yaml
from email_world import (
    REPO,
    context,
    fill,
    plan_weekly,
    readers,
    settings_with_email,
    smtp_email,
    worker_environ,
)
from smtp_sink import Received, Recorder, smtp_server
from sqlalchemy import select

from digest import outbox
from digest.models import DeliveryState
from digest.schedule.messages import message_id
from digest.store import Store
from digest.store.schema import deliveries

RECIPIENTS = 800
KILLS = 20
CONNECTIONS = 2
# The server takes 10 ms a message, so the kills land while the worker sends; the lease is
# short enough to take over a dead worker's rows within a second.
ACCEPT_SECONDS = 0.01
EMAIL = {"lease_seconds": 1, "batch": 40}


def write_settings(path: Path, port: int, database: str) -> None:
    raw = yaml.safe_load((REPO / "settings.yaml").read_text())
    raw["database"] = {"url": database}
    raw["social"] = []
    raw["email"] = {**smtp_email(port, connections=CONNECTIONS), **EMAIL}
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))


def start_worker(settings: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "digest",
            "--settings",
            str(settings),
            "worker",
            "--poll",
            "0.2",
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=worker_environ(),
    )


def held_by(store: Store, pid: int) -> set[str]:
    """The rows a (dead) worker still held: what it had in flight."""
    owner = f"{socket.gethostname()}:{pid}"
    query = select(deliveries.c.target).where(
        deliveries.c.state == DeliveryState.CLAIMED.value, deliveries.c.lease_owner == owner
    )
    with store.engine.connect() as connection:
        return set(connection.execute(query).scalars())


def wait_for(condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def content(received: Received) -> tuple[str, ...]:
    """What makes two messages the same one: its id, headers and decoded parts (the Date and the
    MIME boundary may differ between two transmissions of one message)."""
    parsed = email.message_from_bytes(received.data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    parts = [str(part.get_content()) for part in parsed.walk() if not part.is_multipart()]
    return (str(parsed["Message-ID"]), str(parsed["To"]), str(parsed["Subject"]), *parts)


def test_a_worker_killed_at_random_moments_loses_nothing_and_repeats_only_what_was_in_flight(
    tmp_path: Path,
) -> None:
    database = f"sqlite:///{tmp_path / 'digest.db'}"
    settings_path = tmp_path / "settings.yaml"
    chance = random.Random()
    with smtp_server(recorder=Recorder(delay=ACCEPT_SECONDS)) as server:
        write_settings(settings_path, server.port, database)
        store = Store.open(database)
        try:
            settings = settings_with_email(tmp_path, smtp_email(server.port), database)
            ctx = context(settings, store)
            people = readers(RECIPIENTS)
            fill(store, people)
            plan_weekly(ctx)
            key = _digest_key(store)
            expected = {
                person.email: message_id(ctx, f"{key}/email/{person.id}") for person in people
            }
            in_flight: set[str] = set()
            kills = 0
            while kills < KILLS:
                before = len(server.recorder.received)
                worker = start_worker(settings_path)
                started = wait_for(lambda before=before: len(server.recorder.received) > before, 20)
                if not started:
                    worker.kill()
                    worker.wait()
                    break  # nothing left to send: every kill so far counts
                time.sleep(chance.uniform(0.0, 0.5))
                worker.send_signal(signal.SIGKILL)
                worker.wait()
                kills += 1
                in_flight |= held_by(store, worker.pid)
            assert kills >= KILLS, f"only {kills} kills before everything was sent: slow the rate"
            time.sleep(1.2)  # the last dead worker's leases run out
            final = start_worker(settings_path, "--once")
            assert final.wait(timeout=60) == 0
            counts = outbox.state_counts(store.engine)
        finally:
            store.close()
        received = list(server.recorder.received)

    assert counts == {"sent": RECIPIENTS}
    by_recipient: dict[str, list[Received]] = defaultdict(list)
    for message in received:
        (recipient,) = message.recipients
        by_recipient[recipient].append(message)
    assert set(by_recipient) == set(expected)  # everyone got it
    targets = {person.email: person.id for person in people}
    for recipient, messages in by_recipient.items():
        versions = {content(message) for message in messages}
        assert len(versions) == 1, f"{recipient} got {len(versions)} different messages"
        assert next(iter(versions))[0] == expected[recipient]  # with its own Message-ID
        if len(messages) > 1:
            assert targets[recipient] in in_flight, f"{recipient} got a repeat not in flight"
    repeats = len(received) - RECIPIENTS
    assert repeats <= kills * CONNECTIONS, f"{repeats} repeats over {kills} kills"


def _digest_key(store: Store) -> str:
    (key,) = store.digest_keys()
    return key
