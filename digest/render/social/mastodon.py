"""Mastodon: the server's own limit (500 by default), counted in graphemes; a URL with its
scheme counts as the server's `characters_reserved_per_url` (23 by default).

Both numbers come from the server's `GET /api/v2/instance`; the adapter reads them once and
hands `with_limits(...)` to the composer. Counting a `@user@domain` mention in full (the server
counts `@user`) only ever over-counts.
"""

from __future__ import annotations

from typing import ClassVar

from digest.render.social.counting import Platform


class MastodonPlatform(Platform):
    name = "mastodon"
    max_length = 500
    max_hashtags: ClassVar[int | None] = 5  # more reads as spam
    url_length = 23
    threads: ClassVar[bool] = True
    says_language: ClassVar[bool] = True
