"""The outbox: one row per (digest, recipient) or (post, channel), and its life.

    planned ──claim──▶ claimed (leased to one worker) ──record──▶ sent | failed | unknown
       ▲                    │   marked in flight when handed      | skipped | held (an editor
       │                    │   to the service                    |   decides: `digest held`)
       └── a transient failure, after a backoff; an unknown outcome, once, after a delay;
           or the lease ran out (the worker died)

Planning is idempotent (a row's idempotency key is unique, so planning again adds nothing);
claiming takes due rows no other worker holds (`FOR UPDATE SKIP LOCKED` on PostgreSQL); a row's
attempt is counted when it is claimed, before the service is called, and given back if its
worker died before handing it over. A row that was in flight when its worker died counts as
unanswered, and fails instead of being claimed again when that was its last attempt. Retries
live here and nowhere else.
"""

from digest.outbox.claims import WORKER_DIED, claim, due, release, renew
from digest.outbox.counts import due_counts, sent_since, state_counts
from digest.outbox.held import held_rows, hold, release_held
from digest.outbox.hours import DueTimes, by_hour, next_local_hour
from digest.outbox.keys import email_key, social_key
from digest.outbox.planning import PLAN_CHUNK, PlannedDelivery, count_unplanned, due_now, plan
from digest.outbox.posts import note_attempt, postpone, provider_ids, states_of
from digest.outbox.report import DeliveryReport, OnRow
from digest.outbox.results import (
    ResultWriter,
    RetryPolicy,
    UnknownPolicy,
    finish,
    finish_many,
    record,
)
from digest.outbox.vacuum import vacuum

__all__ = [
    "PLAN_CHUNK",
    "WORKER_DIED",
    "DeliveryReport",
    "DueTimes",
    "OnRow",
    "PlannedDelivery",
    "ResultWriter",
    "RetryPolicy",
    "UnknownPolicy",
    "by_hour",
    "claim",
    "count_unplanned",
    "due",
    "due_counts",
    "due_now",
    "email_key",
    "finish",
    "finish_many",
    "held_rows",
    "hold",
    "next_local_hour",
    "note_attempt",
    "plan",
    "postpone",
    "provider_ids",
    "record",
    "release",
    "release_held",
    "renew",
    "sent_since",
    "social_key",
    "state_counts",
    "states_of",
    "vacuum",
]
