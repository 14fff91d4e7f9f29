"""Scale-out on PostgreSQL, with real processes: three `digest worker` processes deliver 5,000
messages to one SMTP server (aiosmtpd on loopback); none is delivered twice, none is left."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
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
from smtp_sink import smtp_server

from digest import outbox
from digest.schedule.messages import message_id
from digest.store import Store

MESSAGES = 5000
WORKERS = 3


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_three_workers_deliver_every_message_once(database_url: str, tmp_path: Path) -> None:
    with smtp_server() as server:
        raw = yaml.safe_load((REPO / "settings.yaml").read_text())
        raw["social"] = []
        raw["email"] = {**smtp_email(server.port, connections=2), "batch": 100}
        settings_path = tmp_path / "settings.yaml"
        settings_path.write_text(yaml.safe_dump(raw, allow_unicode=True))
        store = Store.open(database_url)
        try:
            ctx = context(settings_with_email(tmp_path, raw["email"], database_url), store)
            people = readers(MESSAGES)
            fill(store, people)
            digest = plan_weekly(ctx)
            command = [
                sys.executable, "-m", "digest", "--settings", str(settings_path),
                "--database", database_url, "worker", "--once",
            ]  # fmt: skip
            workers = [
                subprocess.Popen(command, stderr=subprocess.PIPE, env=worker_environ())
                for _ in range(WORKERS)
            ]
            logs = [worker.communicate(timeout=240)[1].decode() for worker in workers]
            assert [worker.returncode for worker in workers] == [0] * WORKERS, logs
            counts = outbox.state_counts(store.engine)
            expected = {
                person.email: message_id(ctx, f"{digest.key}/email/{person.id}")
                for person in people
            }
        finally:
            store.close()
        received = list(server.recorder.received)

    assert counts == {"sent": MESSAGES}  # none left
    per_recipient = Counter(message.recipients[0] for message in received)
    assert per_recipient == Counter(expected.keys())  # each once: none twice, none missing
    sent_ids = {
        message.data.split(b"Message-ID: ", 1)[1].split(b"\r\n", 1)[0] for message in received
    }
    assert sent_ids == {identifier.encode() for identifier in expected.values()}
    # The work was shared: each worker reports what it delivered.
    assert all("sent" in log for log in logs), logs
