"""Compose: pure functions from what the store returned to Digests. No I/O, no clock."""

from digest.compose.audience import (
    NOTHING_FOR_THEM,
    Variants,
    receives,
    variant_signature,
    wants_company_digest,
    wants_weekly,
    weekly_variant,
)
from digest.compose.company import compose_company_digest, compose_company_digests
from digest.compose.connections import Lookback, relative_age
from digest.compose.edits import ChangeSet, Edited, StaleEdit, apply_edits, edit_digest
from digest.compose.weekly import compose_weekly_digest, rank_items
from digest.compose.weeks import IsoWeek

__all__ = [
    "NOTHING_FOR_THEM",
    "ChangeSet",
    "Edited",
    "IsoWeek",
    "Lookback",
    "StaleEdit",
    "Variants",
    "apply_edits",
    "compose_company_digest",
    "compose_company_digests",
    "compose_weekly_digest",
    "edit_digest",
    "rank_items",
    "receives",
    "relative_age",
    "variant_signature",
    "wants_company_digest",
    "wants_weekly",
    "weekly_variant",
]
