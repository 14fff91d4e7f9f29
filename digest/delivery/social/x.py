"""`x`: X API v2 `POST /2/tweets` with an OAuth 2 user access token.

X takes no idempotency key, so an attempt whose outcome is unknown is never retried blindly:
the deliverer holds the row for an editor (reading one's own timeline needs a paid tier).
"""

from __future__ import annotations

from dataclasses import dataclass

from digest.delivery.social.base import FIRST, Attempt, Reply, SocialAdapter
from digest.models import DeliveryResult, DeliveryStatus
from digest.render.social import SocialPost
from digest.settings import Secret


@dataclass(frozen=True, slots=True)
class XOptions:
    access_token: Secret  # OAuth 2 user token with tweet.write: ${X_ACCESS_TOKEN}
    base_url: str = "https://api.x.com"


class XAdapter(SocialAdapter):
    type_name = "x"
    platform = "x"
    Options = XOptions

    def post(
        self, post: SocialPost, key: str, *, reply: Reply | None = None, attempt: Attempt = FIRST
    ) -> DeliveryResult:
        body: dict[str, object] = {"text": post.text}
        if reply is not None:
            body["reply"] = {"in_reply_to_tweet_id": reply.parent}
        response = self.request(
            "POST",
            self.options.base_url.rstrip("/") + "/2/tweets",
            json=body,
            headers={"Authorization": f"Bearer {self.options.access_token.reveal()}"},
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
