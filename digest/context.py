"""What every job and request needs, built once per process: settings, store, templates, clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import jinja2

from digest.render.templates import template_environment
from digest.settings import Settings
from digest.store import Store

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Context:
    settings: Settings
    store: Store
    env: jinja2.Environment
    clock: Clock = utc_now

    @classmethod
    def open(cls, settings: Settings, *, database_url: str | None = None) -> Context:
        override = settings.resolve(settings.site.templates) if settings.site.templates else None
        return cls(
            settings=settings,
            store=Store.open(database_url or settings.database_url()),
            env=template_environment(override),
        )

    def close(self) -> None:
        self.store.close()
