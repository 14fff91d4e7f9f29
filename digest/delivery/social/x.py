"""`x`: X API v2 `POST /2/tweets` with an OAuth 2 user access token, renewed when it expires.

An access token lasts two hours. Given the refresh token (scope `offline.access`) and the app's
client id, a 401 renews it once (`POST /2/oauth2/token`, grant_type=refresh_token; Basic auth
for a confidential client) and the post is tried again with the new token. X answers a new
refresh token each time, the old one spent: the pair is kept in the store (`channel_tokens`),
so the next run starts from it. A second 401, or a refused renewal, fails saying what to do.

X takes no idempotency key, so an attempt whose outcome is unknown is never retried blindly:
the deliverer holds the row for an editor (reading one's own timeline needs a paid tier). A 401
is a definite answer (nothing was posted), so trying again after renewing is safe.

A post's share card goes up first with the v2 media upload, `POST /2/media/upload` (multipart:
the raw bytes as `media`, `media_category=tweet_image`; the token needs `media.write`), its alt
text is set with `POST /2/media/metadata`, and the post names it in `media.media_ids`. An upload
posts nothing, so one without an answer is simply tried again; a 401 renews the token first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from digest.delivery.social.base import FIRST, UNKNOWN_OUTCOME, Attempt, Reply, SocialAdapter
from digest.models import DeliveryResult, DeliveryStatus
from digest.render.social import SocialPost
from digest.settings import Secret, SectionProblems
from digest.store.channel_tokens import TokenPair

AUTHORISE_AGAIN = (
    "authorise the app again (OAuth 2 with PKCE, scopes tweet.read tweet.write users.read "
    "offline.access), put the new tokens in X_ACCESS_TOKEN and X_REFRESH_TOKEN, then run "
    "`digest worker`"
)


@dataclass(frozen=True, slots=True)
class XOptions:
    access_token: Secret  # OAuth 2 user token with tweet.write: ${X_ACCESS_TOKEN}
    # To renew the token when it expires: the refresh token (${X_REFRESH_TOKEN}) and the app's
    # OAuth 2 client id, with its secret for a confidential client (${X_CLIENT_SECRET}).
    refresh_token: Secret | None = None
    client_id: str | None = None
    client_secret: Secret | None = None
    base_url: str = "https://api.x.com"

    def check(self) -> None:
        if self.refresh_token is not None and not self.client_id:
            raise SectionProblems(("client_id", "required with refresh_token: the app's id"))


MAX_ALT_TEXT = 1000  # X's limit for a picture's alt text, in characters


class XAdapter(SocialAdapter):
    type_name = "x"
    platform = "x"
    Options = XOptions

    _pair: TokenPair | None = None  # the tokens in use once renewed (here or by another run)
    _pair_read = False

    def _origin(self) -> str | None:
        refresh = self.options.refresh_token
        return refresh.reveal() if refresh is not None else None

    def _current(self) -> TokenPair | None:
        origin = self._origin()
        if not self._pair_read and origin is not None and self.tokens is not None:
            self._pair = self.tokens.load(self.channel, origin)
        self._pair_read = True
        return self._pair

    def _extra_secrets(self) -> set[str]:
        pair = self._pair
        return {pair.access_token, pair.refresh_token} if pair else set()

    def _url(self, path: str) -> str:
        return self.options.base_url.rstrip("/") + path

    def _headers(self) -> dict[str, str]:
        pair = self._current()
        token = pair.access_token if pair else self.options.access_token.reveal()
        return {"Authorization": f"Bearer {token}"}

    def _tweet(self, body: dict[str, object]) -> httpx.Response | DeliveryResult:
        return self.request("POST", self._url("/2/tweets"), json=body, headers=self._headers())

    def _upload(
        self, call: Callable[[], httpx.Response | DeliveryResult]
    ) -> httpx.Response | DeliveryResult:
        """An upload's call; a 401 renews the token once (an upload is what meets an expired
        token first), then calls again."""
        response = call()
        if isinstance(response, httpx.Response) and response.status_code == 401:
            refused = self._renew(response)
            if refused is not None:
                return refused
            response = call()
        return response

    def upload_media(self, post: SocialPost) -> str | DeliveryResult | None:
        """The media id of the post's card, uploaded with its alt text; None without a card."""
        picture = self.picture(post)
        if picture is None:
            return None
        uploaded = self._upload(
            lambda: self.request(
                "POST",
                self._url("/2/media/upload"),
                headers=self._headers(),
                files={"media": (picture.file_name, picture.data, picture.content_type)},
                data={"media_category": "tweet_image", "media_type": picture.content_type},
                posts=False,
            )
        )
        if isinstance(uploaded, DeliveryResult):
            return uploaded
        if not uploaded.is_success:
            return self.error_result(uploaded, posts=False)
        media_id = str(uploaded.json()["data"]["id"])
        alt = {"id": media_id, "metadata": {"alt_text": {"text": picture.alt[:MAX_ALT_TEXT]}}}
        described = self.request(
            "POST", self._url("/2/media/metadata"), json=alt, headers=self._headers(), posts=False
        )
        if isinstance(described, DeliveryResult):
            return described
        if not described.is_success:
            return self.error_result(described, posts=False)
        return media_id

    def post(
        self, post: SocialPost, key: str, *, reply: Reply | None = None, attempt: Attempt = FIRST
    ) -> DeliveryResult:
        media_id = self.upload_media(post)
        if isinstance(media_id, DeliveryResult):
            return media_id
        body: dict[str, object] = {"text": post.text}
        if media_id is not None:
            body["media"] = {"media_ids": [media_id]}
        if reply is not None:
            body["reply"] = {"in_reply_to_tweet_id": reply.parent}
        response = self._tweet(body)
        if isinstance(response, httpx.Response) and response.status_code == 401:
            refused = self._renew(response)
            if refused is not None:
                return refused
            response = self._tweet(body)
            if isinstance(response, httpx.Response) and response.status_code == 401:
                message = self.mask(
                    f"{self.channel}: HTTP 401 with a renewed token: {response.text[:300]}"
                )
                return DeliveryResult(
                    DeliveryStatus.FAILED,
                    response=f"{message}. Check that the app may write posts (tweet.write) on "
                    f"developer.x.com; if it may, {AUTHORISE_AGAIN}",
                )
        if isinstance(response, DeliveryResult):
            return response
        if response.status_code == 403 and "duplicate" in response.text.lower():
            # X refuses the same text twice: a refusal of this post, not of the credentials.
            message = self.mask(f"{self.channel}: HTTP 403: {response.text[:300]}")
            return DeliveryResult(DeliveryStatus.REJECTED, response=message)
        if not response.is_success:
            return self.error_result(response)
        return self.sent(str(response.json()["data"]["id"]))

    def _renew(self, unauthorised: httpx.Response) -> DeliveryResult | None:
        """Renew the access token with the refresh token; None once renewed, else why not."""
        origin, client_id = self._origin(), self.options.client_id
        said = self.mask(unauthorised.text[:300])
        if origin is None or client_id is None:
            return DeliveryResult(
                DeliveryStatus.FAILED,
                response=f"{self.channel}: HTTP 401: {said}: the access token expired or was "
                "revoked. Give the channel's options refresh_token (${X_REFRESH_TOKEN}, scope "
                "offline.access) and client_id so that it renews itself, or put a new token "
                "in X_ACCESS_TOKEN; then run `digest worker`",
            )
        pair = self._current()
        refresh = pair.refresh_token if pair else origin
        secret = self.options.client_secret
        response = self.request(
            "POST",
            self._url("/2/oauth2/token"),
            data={"refresh_token": refresh, "grant_type": "refresh_token", "client_id": client_id},
            auth=(client_id, secret.reveal()) if secret is not None else None,
        )
        if isinstance(response, DeliveryResult):
            # Nothing was posted (the 401 said so): worth a later try, never a held row.
            reason = (response.response or "").removeprefix(f"{UNKNOWN_OUTCOME}: ")
            return DeliveryResult(
                DeliveryStatus.FAILED,
                response=f"renewing the access token failed: {reason}",
                transient=True,
            )
        if not response.is_success:
            body = self.mask(response.text[:300])
            return DeliveryResult(
                DeliveryStatus.FAILED,
                response=f"{self.channel}: X refused to renew the access token "
                f"(HTTP {response.status_code}: {body}): the refresh token is spent or "
                f"revoked; {AUTHORISE_AGAIN}",
            )
        try:
            answer = response.json()
            renewed = TokenPair(
                str(answer["access_token"]), str(answer.get("refresh_token") or refresh)
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return DeliveryResult(
                DeliveryStatus.FAILED,
                response=f"{self.channel}: X's token answer had no access_token: "
                f"{self.mask(response.text[:300])}; {AUTHORISE_AGAIN}",
            )
        self._pair = renewed
        if self.tokens is not None:
            self.tokens.save(self.channel, origin, renewed)
        return None
