"""`mastodon`: `POST /api/v1/statuses` with the `Idempotency-Key` HTTP header.

The key goes in the header, where the server reads it (in the JSON body it is ignored) and keeps
it about an hour, so a retry of an unanswered call never posts twice. The server's own limit and
URL reservation are read once from `GET /api/v2/instance` and the posts composed to them.

A post's share card goes up first with `POST /api/v2/media` (multipart `file`, its alt text as
`description`) and the status names it in `media_ids[]`. The server answers 200 for an image it
processed at once, or 202 while it still works on it: then the media is asked for once more
(`GET /api/v1/media/:id`, 206 while processing), since a status naming unprocessed media is
refused; a card still not ready is tried again later.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import httpx

from digest.delivery.social.base import FIRST, Attempt, Reply, SocialAdapter
from digest.models import DeliveryResult, DeliveryStatus
from digest.render.social import PLATFORMS, Platform, SocialPost
from digest.settings import Secret


@dataclass(frozen=True, slots=True)
class MastodonOptions:
    base_url: str  # "https://mastodon.social"
    access_token: Secret  # an app's token with write:statuses: ${MASTODON_TOKEN}
    visibility: str = "public"  # public, unlisted, private
    language: str | None = "en"


MAX_DESCRIPTION = 1500  # a media attachment's description, in characters


class MastodonAdapter(SocialAdapter):
    type_name = "mastodon"
    platform = "mastodon"
    Options = MastodonOptions
    idempotent = True

    _rules: Platform | None = None

    def _url(self, path: str) -> str:
        return self.options.base_url.rstrip("/") + path

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.options.access_token.reveal()}"}

    def rules(self) -> Platform:
        """The server's limit and URL reservation, asked once; the defaults if it won't say."""
        if self._rules is None:
            default = PLATFORMS["mastodon"]
            response = self.request("GET", self._url("/api/v2/instance"))
            statuses: dict[str, object] = {}
            if isinstance(response, httpx.Response) and response.is_success:
                configuration = response.json().get("configuration") or {}
                statuses = configuration.get("statuses") or {}
            limit = statuses.get("max_characters")
            per_url = statuses.get("characters_reserved_per_url")
            self._rules = default.with_limits(
                max_length=limit if isinstance(limit, int) else None,
                url_length=per_url if isinstance(per_url, int) else None,
            )
        return self._rules

    def upload_media(self, post: SocialPost) -> str | DeliveryResult | None:
        """The id of the post's card uploaded as media; None for a post without a card."""
        picture = self.picture(post)
        if picture is None:
            return None
        response = self.request(
            "POST",
            self._url("/api/v2/media"),
            headers=self._headers(),
            files={"file": (picture.file_name, picture.data, picture.content_type)},
            data={"description": picture.alt[:MAX_DESCRIPTION]},
            posts=False,
        )
        if isinstance(response, DeliveryResult):
            return response
        if not response.is_success:
            return self.error_result(response, posts=False)
        media_id = str(response.json()["id"])
        if response.status_code == 202:
            checked = self.request(
                "GET", self._url(f"/api/v1/media/{media_id}"), headers=self._headers(), posts=False
            )
            if isinstance(checked, DeliveryResult):
                return checked
            if checked.status_code != 200:
                message = f"{self.channel}: the server is still processing the card {media_id}"
                return DeliveryResult(DeliveryStatus.FAILED, response=message, transient=True)
        return media_id

    def post(
        self, post: SocialPost, key: str, *, reply: Reply | None = None, attempt: Attempt = FIRST
    ) -> DeliveryResult:
        media_id = self.upload_media(post)
        if isinstance(media_id, DeliveryResult):
            return media_id
        body: dict[str, object] = {"status": post.text, "visibility": self.options.visibility}
        if media_id is not None:
            body["media_ids"] = [media_id]
        # The language the composer detected; the channel's for a post it could not tell.
        if language := post.language or self.options.language:
            body["language"] = language
        if reply is not None:
            body["in_reply_to_id"] = reply.parent
        headers = {
            **self._headers(),
            # Our key may be long; the server wants a short opaque one, the same on every retry.
            "Idempotency-Key": hashlib.sha256(key.encode()).hexdigest(),
        }
        response = self.request("POST", self._url("/api/v1/statuses"), json=body, headers=headers)
        if isinstance(response, DeliveryResult):
            return response
        if not response.is_success:
            return self.error_result(response)
        return self.sent(str(response.json()["id"]))
