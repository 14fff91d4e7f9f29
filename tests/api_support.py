"""For the API's tests: a context on the bundled sample (items, subscribers), a settings file
with the API and outgoing webhooks configured, tokens with chosen scopes, a moveable clock."""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from digest.context import Context
from digest.ingest import read_sources, read_subscribers
from digest.render.templates import template_environment
from digest.settings import parse_settings
from digest.store import Store, api_tokens

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "digest" / "data"
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
BASE_URL = "https://news.example.org"
SETTINGS_SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" + "AAAAAAAAAAA="


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def settings_raw(tmp_path: Path, **sections: Mapping[str, Any]) -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load((REPO / "settings.yaml").read_text())
    raw["site"]["base_url"] = BASE_URL
    raw["web"]["api"] = {"rate_limit": "10000/minute"}
    for name, values in sections.items():
        if name == "api":
            raw["web"]["api"] = dict(values)
        else:
            raw[name] = dict(values)
    return raw


@dataclass
class ApiWorld:
    ctx: Context
    clock: Clock
    tokens: dict[tuple[str, ...], str] = field(default_factory=dict)

    def token(self, *scopes: str) -> str:
        """A token with exactly these scopes (made once per set)."""
        key = tuple(sorted(scopes))
        if key not in self.tokens:
            name = f"t{len(self.tokens)}"
            self.tokens[key] = api_tokens.create(self.ctx.store.engine, name, key, self.clock())
        return self.tokens[key]

    def auth(self, *scopes: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(*scopes)}"}


def seed(database_url: str) -> None:
    """Migrate and fill a store with the sample's items and subscribers."""
    with Store.open(database_url) as store:
        store.write_batch(read_sources([str(DATA / "sample.yaml")]))
        store.save_subscribers(read_subscribers(DATA / "sample-subscribers.csv"))


def seeded_copy(seeded: Path, tmp_path: Path) -> str:
    """A copy of a seeded SQLite file: each test its own store, migrated and filled once."""
    target = tmp_path / "digest.db"
    shutil.copyfile(seeded, target)
    return f"sqlite:///{target}"


def open_world(database_url: str, tmp_path: Path, **sections: Mapping[str, Any]) -> ApiWorld:
    """A world on a seeded store (see `seed`)."""
    settings = parse_settings(
        settings_raw(tmp_path, **sections), where="settings.yaml", root=tmp_path
    )
    store = Store.open(database_url)
    clock = Clock()
    ctx = Context(settings=settings, store=store, env=template_environment(), clock=clock)
    return ApiWorld(ctx, clock)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store seeded once per test module (`seed`), copied by `world` for each test."""
    path = tmp_path_factory.mktemp("seeded") / "digest.db"
    seed(f"sqlite:///{path}")
    return path


@pytest.fixture
def world(seeded: Path, tmp_path: Path) -> Iterator[ApiWorld]:
    opened = open_world(seeded_copy(seeded, tmp_path), tmp_path)
    yield opened
    opened.ctx.close()
