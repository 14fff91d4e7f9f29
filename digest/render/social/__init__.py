"""Social posts: one composer, and each platform's limit and way of counting (a module each).

`PLATFORMS` holds each platform's default rules; a channel may supply others at run time (a
Mastodon server's own limit) through `Platform.with_limits`.
"""

from __future__ import annotations

from digest.render.social.bluesky import BlueskyPlatform, facets, post_record
from digest.render.social.compose import (
    ELLIPSIS,
    PostOptions,
    compose_company_post,
    compose_digest_posts,
    compose_item_post,
    compose_list_posts,
    compose_weekly_posts,
    entry_hashtags,
)
from digest.render.social.counting import Platform, grapheme_count, graphemes, utf16_length
from digest.render.social.linkedin import LinkedInPlatform, little_text
from digest.render.social.mastodon import MastodonPlatform
from digest.render.social.post import SocialPost
from digest.render.social.threads import ThreadsPlatform
from digest.render.social.webhooks import DiscordPlatform, SlackPlatform, slack_escape
from digest.render.social.x import XPlatform

PLATFORMS: dict[str, Platform] = {
    platform.name: platform
    for platform in (
        XPlatform(),
        MastodonPlatform(),
        BlueskyPlatform(),
        LinkedInPlatform(),
        ThreadsPlatform(),
        SlackPlatform(),
        DiscordPlatform(),
    )
}

__all__ = [
    "ELLIPSIS",
    "PLATFORMS",
    "BlueskyPlatform",
    "DiscordPlatform",
    "LinkedInPlatform",
    "MastodonPlatform",
    "Platform",
    "PostOptions",
    "SlackPlatform",
    "SocialPost",
    "ThreadsPlatform",
    "XPlatform",
    "compose_company_post",
    "compose_digest_posts",
    "compose_item_post",
    "compose_list_posts",
    "compose_weekly_posts",
    "entry_hashtags",
    "facets",
    "grapheme_count",
    "graphemes",
    "little_text",
    "post_record",
    "slack_escape",
    "utf16_length",
]
