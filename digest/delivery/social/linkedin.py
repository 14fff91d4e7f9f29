"""`linkedin`: the versioned Posts API, `POST /rest/posts`, commentary in "little text".

Headers: `LinkedIn-Version` (YYYYMM) and `X-Restli-Protocol-Version: 2.0.0`; the answer is 201
with the post's URN in `x-restli-id`. Reserved characters are escaped, or LinkedIn silently cuts
the post. No idempotency key and no search of one's own posts without a restricted permission:
an attempt whose outcome is unknown is held for an editor by the deliverer.
"""

from __future__ import annotations

from dataclasses import dataclass

from digest.delivery.social.base import FIRST, Attempt, Reply, SocialAdapter
from digest.models import DeliveryResult
from digest.render.social import SocialPost, little_text
from digest.settings import Secret


@dataclass(frozen=True, slots=True)
class LinkedInOptions:
    access_token: Secret  # w_member_social / w_organization_social: ${LINKEDIN_TOKEN}
    author: str  # "urn:li:organization:123" or "urn:li:person:abc"
    version: str = "202511"  # LinkedIn-Version, YYYYMM
    base_url: str = "https://api.linkedin.com"


class LinkedInAdapter(SocialAdapter):
    type_name = "linkedin"
    platform = "linkedin"
    Options = LinkedInOptions

    def body(self, post: SocialPost) -> dict[str, object]:
        body: dict[str, object] = {
            "author": self.options.author,
            "commentary": little_text(post.text, post.hashtags),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        if post.title:
            body["content"] = {
                "article": {
                    "source": post.url,
                    "title": post.title,
                    "description": post.description,
                }
            }
        return body

    def post(
        self, post: SocialPost, key: str, *, reply: Reply | None = None, attempt: Attempt = FIRST
    ) -> DeliveryResult:
        response = self.request(
            "POST",
            self.options.base_url.rstrip("/") + "/rest/posts",
            json=self.body(post),
            headers={
                "Authorization": f"Bearer {self.options.access_token.reveal()}",
                "LinkedIn-Version": self.options.version,
                "X-Restli-Protocol-Version": "2.0.0",
            },
        )
        if isinstance(response, DeliveryResult):
            return response
        if not response.is_success:
            return self.error_result(response)
        return self.sent(response.headers.get("x-restli-id", ""))
