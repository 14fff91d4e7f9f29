"""`discord`: a webhook (`?wait=true` answers with the message); the URL is the credential.

No idempotency key and no way for a webhook to list what it posted: an attempt whose outcome is
unknown is held for an editor by the deliverer. A 429 carries `retry_after` in its body. A post's
picture is an embed's image, by its public URL (Discord fetches it).
"""

from __future__ import annotations

from dataclasses import dataclass

from digest.delivery.social.base import FIRST, Attempt, Reply, SocialAdapter
from digest.models import DeliveryResult
from digest.render.social import SocialPost
from digest.settings import Secret


@dataclass(frozen=True, slots=True)
class DiscordOptions:
    webhook_url: Secret  # ${DISCORD_WEBHOOK_URL}
    username: str | None = None


class DiscordAdapter(SocialAdapter):
    type_name = "discord"
    platform = "discord"
    Options = DiscordOptions

    def post(
        self, post: SocialPost, key: str, *, reply: Reply | None = None, attempt: Attempt = FIRST
    ) -> DeliveryResult:
        # No pings: an item's text may hold "@everyone".
        body: dict[str, object] = {"content": post.text, "allowed_mentions": {"parse": []}}
        if self.options.username:
            body["username"] = self.options.username
        link = self.picture_link(post)
        if link is not None:
            body["embeds"] = [{"image": {"url": link[0]}}]
        response = self.request(
            "POST", self.options.webhook_url.reveal(), params={"wait": "true"}, json=body
        )
        if isinstance(response, DeliveryResult):
            return response
        if not response.is_success:
            return self.error_result(response)
        return self.sent(str(response.json()["id"]))
