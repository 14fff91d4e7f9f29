"""`linkedin`: the versioned Posts API, `POST /rest/posts`, commentary in "little text".

Headers: `LinkedIn-Version` (YYYYMM) and `X-Restli-Protocol-Version: 2.0.0`; the answer is 201
with the post's URN in `x-restli-id`. Reserved characters are escaped, or LinkedIn silently cuts
the post. No idempotency key and no search of one's own posts without a restricted permission:
an attempt whose outcome is unknown is held for an editor by the deliverer.

A post's share card goes up first through the Images API: `POST /rest/images?action=
initializeUpload` names the owner (the post's author) and answers an upload URL and the image's
URN; the bytes are PUT to that URL; the post then shows the URN as its link card's thumbnail
(`content.article.thumbnail`), or as its picture (`content.media`) when it has no link card.
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

    def _url(self, path: str) -> str:
        return self.options.base_url.rstrip("/") + path

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.options.access_token.reveal()}",
            "LinkedIn-Version": self.options.version,
            "X-Restli-Protocol-Version": "2.0.0",
        }

    def upload_image(self, post: SocialPost) -> tuple[str, str] | DeliveryResult | None:
        """(image URN, alt text) of the post's card, uploaded; None for a post without one."""
        picture = self.picture(post)
        if picture is None:
            return None
        started = self.request(
            "POST",
            self._url("/rest/images"),
            params={"action": "initializeUpload"},
            json={"initializeUploadRequest": {"owner": self.options.author}},
            headers=self._headers(),
            posts=False,
        )
        if isinstance(started, DeliveryResult):
            return started
        if not started.is_success:
            return self.error_result(started, posts=False)
        value = started.json()["value"]
        put = self.request(
            "PUT",
            value["uploadUrl"],
            content=picture.data,
            headers={
                "Authorization": f"Bearer {self.options.access_token.reveal()}",
                "Content-Type": "application/octet-stream",
            },
            posts=False,
        )
        if isinstance(put, DeliveryResult):
            return put
        if not put.is_success:
            return self.error_result(put, posts=False)
        return str(value["image"]), picture.alt

    def body(self, post: SocialPost, image: tuple[str, str] | None = None) -> dict[str, object]:
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
            article: dict[str, str] = {
                "source": post.url,
                "title": post.title,
                "description": post.description,
            }
            if image is not None:
                article["thumbnail"] = image[0]
            body["content"] = {"article": article}
        elif image is not None:
            body["content"] = {"media": {"id": image[0], "altText": image[1]}}
        return body

    def post(
        self, post: SocialPost, key: str, *, reply: Reply | None = None, attempt: Attempt = FIRST
    ) -> DeliveryResult:
        image = self.upload_image(post)
        if isinstance(image, DeliveryResult):
            return image
        response = self.request(
            "POST", self._url("/rest/posts"), json=self.body(post, image), headers=self._headers()
        )
        if isinstance(response, DeliveryResult):
            return response
        if not response.is_success:
            return self.error_result(response)
        return self.sent(response.headers.get("x-restli-id", ""))
