"""`slack`: an incoming webhook; the hook URL is the credential (a Secret).

No idempotency key and no way for a webhook to list what it posted: an attempt whose outcome is
unknown is held for an editor by the deliverer.
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


class SlackAdapter(SocialAdapter):
    type_name = "slack"
    platform = "slack"
    Options = SlackOptions

    def post(
        self, post: SocialPost, key: str, *, reply: Reply | None = None, attempt: Attempt = FIRST
    ) -> DeliveryResult:
        body = {"text": slack_escape(post.text), "unfurl_links": True}
        response = self.request("POST", self.options.webhook_url.reveal(), json=body)
        if isinstance(response, DeliveryResult):
            return response
        if not response.is_success:
            return self.error_result(response)
        return self.sent(f"slack:{key}")  # Slack's webhooks answer "ok", no message id
