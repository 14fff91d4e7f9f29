"""`threads`: Meta's Threads API, two steps: create a container, then publish it.

A post with a picture is an IMAGE container whose `image_url` Meta fetches itself: the item's
own image when the input gave one, else the post's share card on the site (the web app serves
it at `site.base_url`, which must be public for this). Without one it is a TEXT container.

No idempotency key, but one's own posts can be listed: after an attempt whose outcome is
unknown, the adapter looks for a post with the same text before posting again. The token goes
in the Authorization header, never in a URL that could reach a log.
"""

from __future__ import annotations

from dataclasses import dataclass

from digest.delivery.social.base import FIRST, Attempt, Reply, SocialAdapter
from digest.models import DeliveryResult
from digest.render.social import SocialPost
from digest.settings import Secret


@dataclass(frozen=True, slots=True)
class ThreadsOptions:
    user_id: str  # the Threads user id
    access_token: Secret  # threads_basic + threads_content_publish: ${THREADS_TOKEN}
    base_url: str = "https://graph.threads.net/v1.0"


class ThreadsAdapter(SocialAdapter):
    type_name = "threads"
    platform = "threads"
    Options = ThreadsOptions
    finds_posts = True

    def _url(self, path: str) -> str:
        return f"{self.options.base_url.rstrip('/')}/{self.options.user_id}/{path}"

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.options.access_token.reveal()}"}

    def find(self, text: str) -> str | DeliveryResult | None:
        response = self.request(
            "GET",
            self._url("threads"),
            params={"fields": "id,text,timestamp", "limit": 25},
            headers=self._headers(),
        )
        if isinstance(response, DeliveryResult):
            return response
        if not response.is_success:
            return self.error_result(response)
        for thread in response.json().get("data", []):
            if thread.get("text") == text:
                return str(thread["id"])
        return None

    def post(
        self, post: SocialPost, key: str, *, reply: Reply | None = None, attempt: Attempt = FIRST
    ) -> DeliveryResult:
        if attempt.after_unknown:
            found = self.find(post.text)
            if isinstance(found, DeliveryResult):
                return found
            if found is not None:
                return self.sent(found)
        link = self.picture_link(post)
        params = {"media_type": "TEXT", "text": post.text}
        if link is not None:
            params = {"media_type": "IMAGE", "image_url": link[0], "text": post.text}
        if reply is not None:
            params["reply_to_id"] = reply.parent
        created = self.request("POST", self._url("threads"), data=params, headers=self._headers())
        if isinstance(created, DeliveryResult):
            return created
        if not created.is_success:
            return self.error_result(created)
        published = self.request(
            "POST",
            self._url("threads_publish"),
            params={"creation_id": created.json()["id"]},
            headers=self._headers(),
        )
        if isinstance(published, DeliveryResult):
            return published
        if not published.is_success:
            return self.error_result(published)
        return self.sent(str(published.json()["id"]))
