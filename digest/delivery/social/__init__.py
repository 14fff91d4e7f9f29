"""Social adapters: one module per service; `social_adapters(settings)` builds every channel's."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime

import httpx

from digest.delivery.base import adapter_classes, unknown_type
from digest.delivery.social.base import SocialAdapter
from digest.render.cards import CardLookup
from digest.settings import Settings
from digest.store.channel_tokens import StoredTokens

__all__ = ["SocialAdapter", "social_adapter_types", "social_adapters"]


def social_adapter_types() -> dict[str, type[SocialAdapter]]:
    return adapter_classes(sys.modules[__name__], SocialAdapter)


def social_adapters(
    settings: Settings,
    *,
    client: httpx.Client | None = None,
    clock: Callable[[], datetime] | None = None,
    tokens: StoredTokens | None = None,
    cards: CardLookup | None = None,
) -> dict[str, SocialAdapter]:
    """One adapter per channel in `social`, by channel name, options validated. Each makes its
    own HTTP client unless one is given (tests give one on an `httpx.MockTransport`); `tokens`
    keeps the tokens a channel renews itself (without it, renewed tokens last the run); `cards`
    reads the posts' share cards (without it, posts go without their picture)."""
    types = social_adapter_types()
    adapters: dict[str, SocialAdapter] = {}
    for index, channel in enumerate(settings.social):
        path = f"social[{index}]"
        cls = types.get(channel.type)
        if cls is None:
            raise unknown_type(f"{path}.type", channel.type, types, settings)
        options = cls.parse_options(channel.options, f"{path}.options", settings)
        adapters[channel.name] = cls(
            options,
            settings,
            channel=channel.name,
            path=path,
            client=client,
            clock=clock,
            tokens=tokens,
            cards=cards,
        )
    return adapters
