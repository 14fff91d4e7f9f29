"""`bluesky`: one session, reused across posts and refreshed, then `createRecord`.

`createSession` is rate limited (about 30 per 5 minutes), so the adapter creates one session on
its first post and keeps it; when the access token expires (`ExpiredToken`) it calls
`refreshSession` with the refresh token and carries on. The record carries facets (UTF-8 byte
offsets) for the link and hashtags and an external embed for the link card, whose thumbnail is
the post's share card, uploaded first with `uploadBlob` (raw bytes; the lexicon takes a thumb
of at most 1,000,000 bytes, which a card is far below).

createRecord takes no idempotency key, but a repository can be listed: after an attempt whose
outcome is unknown, the adapter looks for a post with the same text before posting again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from digest.delivery.social.base import FIRST, Attempt, Reply, SocialAdapter
from digest.models import DeliveryResult
from digest.render.social import SocialPost, post_record
from digest.settings import Secret

COLLECTION = "app.bsky.feed.post"
MAX_THUMB_BYTES = 1_000_000  # app.bsky.embed.external's thumb: maxSize


@dataclass(frozen=True, slots=True)
class BlueskyOptions:
    identifier: str  # handle or DID: "news.example.org"
    app_password: Secret  # an app password, never the account's: ${BLUESKY_APP_PASSWORD}
    service: str = "https://bsky.social"
    language: str = "en"


@dataclass
class _Session:
    did: str
    access: str
    refresh: str


def _split(provider_id: str) -> dict[str, str]:
    uri, _, cid = provider_id.partition(" ")
    return {"uri": uri, "cid": cid}


class BlueskyAdapter(SocialAdapter):
    type_name = "bluesky"
    platform = "bluesky"
    Options = BlueskyOptions
    finds_posts = True
    max_picture_bytes = MAX_THUMB_BYTES

    _session: _Session | None = None

    def _url(self, method: str) -> str:
        return f"{self.options.service.rstrip('/')}/xrpc/{method}"

    def _extra_secrets(self) -> set[str]:
        return {self._session.access, self._session.refresh} if self._session else set()

    def _login(self) -> DeliveryResult | None:
        body = {
            "identifier": self.options.identifier,
            "password": self.options.app_password.reveal(),
        }
        response = self.request("POST", self._url("com.atproto.server.createSession"), json=body)
        return self._keep_session(response)

    def _refresh(self) -> DeliveryResult | None:
        assert self._session is not None
        response = self.request(
            "POST",
            self._url("com.atproto.server.refreshSession"),
            headers={"Authorization": f"Bearer {self._session.refresh}"},
        )
        return self._keep_session(response)

    def _keep_session(self, response: httpx.Response | DeliveryResult) -> DeliveryResult | None:
        if isinstance(response, DeliveryResult):
            return response
        if not response.is_success:
            return self.error_result(response)
        data = response.json()
        self._session = _Session(data["did"], data["accessJwt"], data["refreshJwt"])
        return None

    def _call(
        self, method: str, http: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response | DeliveryResult:
        """An authenticated call; an expired access token is refreshed once, then retried."""
        if self._session is None and (failed := self._login()) is not None:
            return failed
        for _ in range(2):
            assert self._session is not None
            headers = {**(headers or {}), "Authorization": f"Bearer {self._session.access}"}
            response = self.request(http, self._url(method), headers=headers, **kwargs)
            if isinstance(response, DeliveryResult) or not _expired(response):
                return response
            # When the refresh token ran out too (after weeks): one new session, then go on.
            if self._refresh() is not None and (failed := self._login()) is not None:
                return failed
        return response

    def find(self, text: str) -> str | DeliveryResult | None:
        """The provider id of our latest post with this text, None if there is none."""
        assert self._session is not None
        params = {"repo": self._session.did, "collection": COLLECTION, "limit": 50}
        response = self._call("com.atproto.repo.listRecords", "GET", params=params)
        if isinstance(response, DeliveryResult):
            return response
        if not response.is_success:
            return self.error_result(response)
        for record in response.json().get("records", []):
            if record.get("value", {}).get("text") == text:
                return f"{record['uri']} {record['cid']}"
        return None

    def upload_thumb(self, post: SocialPost) -> dict[str, Any] | DeliveryResult | None:
        """The blob of the post's card, uploaded; None for a post without a card or link card."""
        picture = self.picture(post)
        if picture is None or not post.title or len(picture.data) > MAX_THUMB_BYTES:
            return None
        response = self._call(
            "com.atproto.repo.uploadBlob",
            "POST",
            content=picture.data,
            headers={"Content-Type": picture.content_type},
            posts=False,
        )
        if isinstance(response, DeliveryResult):
            return response
        if not response.is_success:
            return self.error_result(response, posts=False)
        blob: dict[str, Any] = response.json()["blob"]
        return blob

    def post(
        self, post: SocialPost, key: str, *, reply: Reply | None = None, attempt: Attempt = FIRST
    ) -> DeliveryResult:
        if self._session is None and (failed := self._login()) is not None:
            return failed
        assert self._session is not None
        if attempt.after_unknown:
            found = self.find(post.text)
            if isinstance(found, DeliveryResult):
                return found
            if found is not None:
                return self.sent(found)
        thumb = self.upload_thumb(post)
        if isinstance(thumb, DeliveryResult):
            return thumb
        record = post_record(
            text=post.text,
            hashtags=post.hashtags,
            created_at=self.clock().isoformat().replace("+00:00", "Z"),
            url=post.url,
            title=post.title,
            description=post.description,
            links=post.links,
            # The language the composer detected; the channel's for a post it could not tell.
            langs=(post.language or self.options.language,),
            reply=None
            if reply is None
            else {"root": _split(reply.root), "parent": _split(reply.parent)},
            thumb=thumb,
        )
        body = {"repo": self._session.did, "collection": COLLECTION, "record": record}
        response = self._call("com.atproto.repo.createRecord", "POST", json=body)
        if isinstance(response, DeliveryResult):
            return response
        if not response.is_success:
            return self.error_result(response)
        data = response.json()
        return self.sent(f"{data['uri']} {data['cid']}")


def _expired(response: httpx.Response) -> bool:
    if response.status_code not in (400, 401):
        return False
    try:
        return response.json().get("error") == "ExpiredToken"
    except ValueError:
        return False
