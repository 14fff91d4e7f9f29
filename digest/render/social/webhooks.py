"""Chat webhooks: Slack (a practical 4,000 for `text`) and Discord (2,000 for `content`).

Both services are JavaScript-side strings, so both count UTF-16 units here.
"""

from __future__ import annotations

from typing import ClassVar

from digest.render.social.counting import Platform, utf16_length


class SlackPlatform(Platform):
    name = "slack"
    max_length = 4000
    counts_ascii_as_written: ClassVar[bool] = False  # &, < and > go as entities

    def measure(self, text: str) -> int:
        # Sent with &, < and > escaped as entities: count what is sent.
        return utf16_length(slack_escape(text))


class DiscordPlatform(Platform):
    name = "discord"
    max_length = 2000

    def measure(self, text: str) -> int:
        return utf16_length(text)


def slack_escape(text: str) -> str:
    """Slack's mrkdwn needs only &, < and > escaped; anything else is shown as written."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
