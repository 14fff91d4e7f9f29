"""For tests that drive the web app in a real browser: a live server and headless Chromium.

Chromium is Debian's (`/usr/bin/chromium`, or DIGEST_TEST_CHROMIUM), driven by Playwright with
`executable_path` (Playwright's own browser download cannot run here). Where it is missing the
browser tests skip and say why, except under CI=true, where nothing may be skipped.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
import yaml
from starlette.applications import Starlette

from digest.context import Context
from digest.ingest import read_sources, read_subscribers
from digest.render.templates import template_environment
from digest.settings import parse_settings
from digest.store import Store
from digest.store.accounts import Role, create_account
from digest.web.app import server_config

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
DATA = REPO / "digest" / "data"
ADMIN = "Ada Editor"


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@contextmanager
def sample_desk(
    tmp_path: Path,
    clock: Clock,
    password: str,
    change: Callable[[dict[str, Any]], None] | None = None,
) -> Iterator[Context]:
    """The repository's settings.yaml (its outboxes in tmp_path; `change` edits it as read), a
    SQLite store of the sample week and its subscribers, and an admin account, ADMIN, with
    `password`."""
    raw = yaml.safe_load((REPO / "settings.yaml").read_text())
    raw["email"]["options"]["directory"] = str(tmp_path / "outbox" / "email")
    for channel in raw["social"]:
        channel["options"]["directory"] = str(tmp_path / "outbox" / "social")
    if change is not None:
        change(raw)
    parsed = parse_settings(raw, where="settings.yaml", root=tmp_path)
    with Store.open(f"sqlite:///{tmp_path / 'digest.db'}") as store:
        store.write_batch(read_sources([str(DATA / "sample.yaml")]))
        store.save_subscribers(read_subscribers(DATA / "sample-subscribers.csv"))
        create_account(
            store.engine, name=ADMIN, email="ada@example.org", role=Role.ADMIN,
            password=password, now=clock.now,
        )  # fmt: skip
        yield Context(settings=parsed, store=store, env=template_environment(), clock=clock)


def chromium_path() -> str:
    """The browser to drive, or skip (fail under CI) with how to install it."""
    path = os.environ.get("DIGEST_TEST_CHROMIUM") or shutil.which("chromium")
    if path is None:
        reason = "Chromium not found: `apt-get install chromium` (or set DIGEST_TEST_CHROMIUM)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def live_server(app: Starlette, port: int | None = None) -> Iterator[str]:
    """Serve `app` with uvicorn on loopback in a thread; yields its base URL."""
    port = port or free_port()
    config = server_config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test web server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
