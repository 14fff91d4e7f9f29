"""`ses`: Amazon SES v2 `SendEmail` with raw content, `POST /v2/email/outbound-emails`.

Requests are signed (AWS Signature Version 4) by botocore, installed with the optional extra:
`pip install 'digest[ses]'`. Nothing else of the AWS SDK is used: the call goes through httpx
like the other HTTP adapters.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import httpx

from digest.delivery.email.http import HttpEmailAdapter
from digest.errors import ConfigError, Problem
from digest.models import DeliveryResult, DeliveryStatus
from digest.render.message import OutgoingEmail
from digest.settings import Secret, Settings

# SES error types (x-amzn-ErrorType) about the account or its set-up, not this message.
_ACCOUNT_ERRORS = ("AccountSuspended", "SendingPaused", "MailFromDomainNotVerified", "NotFound")


@dataclass(frozen=True, slots=True)
class SesOptions:
    region: str
    access_key_id: str
    secret_access_key: Secret
    session_token: Secret | None = None
    configuration_set: str | None = None
    endpoint: str | None = None  # default https://email.{region}.amazonaws.com


class SesEmailAdapter(HttpEmailAdapter):
    type_name = "ses"
    Options = SesOptions
    # SES v2 takes raw messages up to 40 MB; the sending quota is per account (see its console).
    max_message_bytes: ClassVar[int] = 40 * 1024 * 1024

    def __init__(
        self, options: Any, settings: Settings, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        try:
            from botocore.auth import SigV4Auth
            from botocore.credentials import Credentials
        except ImportError:
            raise ConfigError(
                [
                    Problem(
                        settings.source,
                        "",
                        "email.type",
                        "the ses adapter needs botocore: pip install 'digest[ses]'",
                    )
                ]
            ) from None
        super().__init__(options, settings, transport=transport)
        token = options.session_token.reveal() if options.session_token else None
        credentials = Credentials(options.access_key_id, options.secret_access_key.reveal(), token)
        self.signer = SigV4Auth(credentials, "ses", options.region)
        endpoint = options.endpoint or f"https://email.{options.region}.amazonaws.com"
        self.url = f"{endpoint.rstrip('/')}/v2/email/outbound-emails"

    def secrets(self) -> Iterable[str]:
        token = self.options.session_token
        return (self.options.secret_access_key.reveal(), token.reveal() if token else "")

    def send(self, message: OutgoingEmail) -> DeliveryResult:
        from botocore.awsrequest import AWSRequest

        body: dict[str, Any] = {
            "FromEmailAddress": message.sender,
            "Destination": {"ToAddresses": [message.recipient]},
            "Content": {"Raw": {"Data": base64.b64encode(message.data).decode("ascii")}},
        }
        if self.options.configuration_set:
            body["ConfigurationSetName"] = self.options.configuration_set
        data = json.dumps(body).encode()
        request = AWSRequest(
            method="POST", url=self.url, data=data, headers={"Content-Type": "application/json"}
        )
        self.signer.add_auth(request)
        answer = self.post(self.url, content=data, headers=dict(request.headers.items()))
        if isinstance(answer, DeliveryResult):
            return answer
        if answer.status_code == 200:
            return DeliveryResult(DeliveryStatus.SENT, provider_id=answer.json().get("MessageId"))
        error_type = answer.headers.get("x-amzn-ErrorType", "").split(":")[0]
        if answer.status_code == 400 and error_type.removesuffix("Exception") in _ACCOUNT_ERRORS:
            reason = f"HTTP 400 {error_type}: {self.masked(answer.text[:2000])}"
            # The account, not the message: retried once the operator has fixed it.
            return DeliveryResult(DeliveryStatus.FAILED, response=reason, transient=True)
        result = self.failure(answer)
        if error_type:
            return replace(result, response=f"{error_type}: {result.response}")
        return result
