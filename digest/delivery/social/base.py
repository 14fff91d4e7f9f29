"""What every social adapter receives and declares."""

from __future__ import annotations

from typing import Any, ClassVar

from digest.delivery.base import Adapter
from digest.errors import ConfigError, Problem
from digest.models import DeliveryResult
from digest.render.social import PLATFORMS, SocialPost
from digest.settings import Settings


class SocialAdapter(Adapter[Any]):
    # The platform whose rules posts follow; None when the channel's `platform:` says it.
    platform: ClassVar[str | None] = None

    def __init__(self, options: Any, settings: Settings, *, channel: str, path: str) -> None:
        super().__init__(options, settings)
        self.channel = channel
        configured = next(c.platform for c in settings.social if c.name == channel)
        platform = self.platform or configured
        if platform not in PLATFORMS:
            known = ", ".join(sorted(PLATFORMS))
            raise ConfigError(
                [Problem(settings.source, "", f"{path}.platform", f"choose one of {known}")]
            )
        self.platform_name: str = platform

    def post(self, post: SocialPost, key: str) -> DeliveryResult:
        raise NotImplementedError
