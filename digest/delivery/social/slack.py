"""`slack`: an incoming webhook; the hook URL is the credential (a Secret).

No idempotency key and no way for a webhook to list what it posted: an attempt whose outcome is
unknown is held for an editor by the deliverer. A post's picture rides in an attachment's image
block, by its public URL (Slack fetches it): the message's own text stays what Slack shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from digest.delivery.social.base import FIRST, Attempt, Reply, SocialAdapter
from digest.models import DeliveryResult
from digest.render.social import SocialPost, slack_escape
from digest.settings import Secret


@dataclass(frozen=True, slots=True)
class SlackOptions:
    webhook_url: Secret  # ${SLACK_WEBHOOK_URL}


MAX_ALT_TEXT = 2000  # an image block's alt_text


class SlackAdapter(SocialAdapter):
    type_name = "slack"
    platform = "slack"
    Options = SlackOptions

    def post(
        self, post: SocialPost, key: str, *, reply: Reply | None = None, attempt: Attempt = FIRST
    ) -> DeliveryResult:
        body: dict[str, object] = {"text": slack_escape(post.text), "unfurl_links": True}
        link = self.picture_link(post)
        if link is not None:
            url, alt = link
            image = {"type": "image", "image_url": url, "alt_text": alt[:MAX_ALT_TEXT]}
            body["attachments"] = [{"fallback": alt[:MAX_ALT_TEXT], "blocks": [image]}]
        response = self.request("POST", self.options.webhook_url.reveal(), json=body)
        if isinstance(response, DeliveryResult):
            return response
        if not response.is_success:
            return self.error_result(response)
        return self.sent(f"slack:{key}")  # Slack's webhooks answer "ok", no message id
