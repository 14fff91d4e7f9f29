"""Email adapters: one module per service; `email_adapter(settings)` builds the configured one."""

from __future__ import annotations

import sys

from digest.delivery.base import adapter_classes, unknown_type
from digest.delivery.email.base import EmailAdapter
from digest.errors import ConfigError, Problem
from digest.render.dkim import DkimSigner
from digest.settings import Settings

__all__ = ["EmailAdapter", "check_email_settings", "email_adapter", "email_adapter_types"]


def email_adapter_types() -> dict[str, type[EmailAdapter]]:
    return adapter_classes(sys.modules[__name__], EmailAdapter)


def email_adapter(settings: Settings) -> EmailAdapter:
    """The adapter `email.type` names, its options validated (ConfigError naming the key)."""
    cls = email_adapter_class(settings)
    return cls(cls.parse_options(settings.email.options, "email.options", settings), settings)


def email_adapter_class(settings: Settings) -> type[EmailAdapter]:
    types = email_adapter_types()
    cls = types.get(settings.email.type)
    if cls is None:
        raise unknown_type("email.type", settings.email.type, types, settings)
    return cls


def check_email_settings(settings: Settings) -> None:
    """Validate `email:` without connecting anywhere, so a typo stops a run before it plans:
    the adapter's options, the DKIM keys, and the postal address real mail must carry."""
    cls = email_adapter_class(settings)
    cls.parse_options(settings.email.options, "email.options", settings)
    problems: list[Problem] = []
    if cls.reaches_recipients and not settings.site.postal_address:
        problems.append(
            Problem(
                settings.source,
                "",
                "site.postal_address",
                f"required to send through the {cls.type_name} adapter: commercial email must "
                "carry the sender's postal address (CAN-SPAM); add your organisation's address "
                'on one line, e.g. postal_address: "AMW Media, 12 Rue du Sentier, 75002 Paris, '
                'France"',
            )
        )
    try:
        DkimSigner.from_settings(settings)
    except ConfigError as error:
        problems.extend(error.problems)
    if problems:
        raise ConfigError(problems)
