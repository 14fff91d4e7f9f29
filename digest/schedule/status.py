"""Where a digest stands, derived from what is stored, never guessed:

    draft ─approve─▶ approved ─(its time)─▶ planned N ─worker─▶ sending k of N ─▶ sent
      │                                                                       └─▶ sent with failures
      └─hold─▶ held             (its time passed, nothing planned, grace over) ─▶ missed

Before any outbox row exists the editors' decision and the schedule tell the stage; once rows
exist (real recipients only: test-sends are not the digest going out) their states alone do, and
the words say how many are not due yet (waiting for their subscriber's hour) and when the next
is. The editor, the archive and the command line all print these words.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum

from digest.context import Context
from digest.models import DeliveryChannel, DeliveryState, Digest, DigestKind
from digest.schedule.jobs import release_blocker, scheduled_send_at
from digest.store.store import ApprovalStatus, DigestSummary
from digest.store.tallies import tallies


class Stage(StrEnum):
    DRAFT = "draft"
    HELD = "held"
    APPROVED = "approved"
    MISSED = "missed"
    PLANNED = "planned"
    SENDING = "sending"
    SENT = "sent"
    SENT_WITH_FAILURES = "sent with failures"


OPEN_STATES = (DeliveryState.PLANNED, DeliveryState.CLAIMED, DeliveryState.HELD)
FAILED_STATES = (DeliveryState.FAILED, DeliveryState.UNKNOWN)


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


@dataclass(frozen=True, slots=True)
class DeliveryCounts:
    """A digest's outbox rows for real recipients, by channel and state."""

    by_channel: Mapping[DeliveryChannel, Mapping[DeliveryState, int]] = field(default_factory=dict)
    # Planned rows that fall due later (an email's subscriber's hour, a post's slot), and when
    # the first of them does.
    later: int = 0
    next_due: datetime | None = None

    def count(
        self,
        states: Iterable[DeliveryState] | None = None,
        channel: DeliveryChannel | None = None,
    ) -> int:
        wanted = set(states) if states is not None else None
        return sum(
            number
            for each, counts in self.by_channel.items()
            if channel is None or each is channel
            for state, number in counts.items()
            if wanted is None or state in wanted
        )

    @property
    def total(self) -> int:
        return self.count()

    @property
    def delivered(self) -> int:
        return self.count([DeliveryState.SENT])

    @property
    def failed(self) -> int:
        return self.count(FAILED_STATES)

    @property
    def open(self) -> int:
        return self.count(OPEN_STATES)

    @property
    def untouched(self) -> bool:
        """Every row still planned: no worker has taken any yet."""
        return self.count([DeliveryState.PLANNED]) == self.total

    def planned_words(self) -> str:
        """ "88 deliveries: 30 emails and 58 posts"."""
        parts = []
        for channel, one in (
            (DeliveryChannel.EMAIL, "email"),
            (DeliveryChannel.SOCIAL, "post"),
        ):
            number = self.count(channel=channel)
            if number:
                parts.append(_plural(number, one))
        named = (DeliveryChannel.EMAIL, DeliveryChannel.SOCIAL)
        others = self.total - sum(self.count(channel=channel) for channel in named)
        if others:
            parts.append(_plural(others, "other delivery", "other deliveries"))
        detail = " and ".join(parts)
        return f"{_plural(self.total, 'delivery', 'deliveries')}: {detail}"

    def later_words(self, zone: tzinfo) -> str:
        """ "25 due later, the next at Tue 2026-12-01 00:00 CET"; empty when none is."""
        if not self.later or self.next_due is None:
            return ""
        first = self.next_due.astimezone(zone)
        return f"{self.later} due later, the next at {first:%a %Y-%m-%d %H:%M %Z}"


@dataclass(frozen=True, slots=True)
class DigestStatus:
    key: str
    stage: Stage
    counts: DeliveryCounts
    send_at: datetime | None  # when its schedule sends it (None: the schedule is disabled)
    waiting: str | None = None  # why it may not go now (held, waiting for approval, no news)
    approved_by: str | None = None
    approved_at: datetime | None = None
    planned_at: datetime | None = None  # when it was released to its recipients
    zone: tzinfo = UTC  # the site's, for the times in `words`

    @property
    def words(self) -> str:
        """One line for a person: the stage and its figures."""
        counts = self.counts
        later = counts.later_words(self.zone)
        if self.stage is Stage.PLANNED:
            if counts.later == counts.total:
                return f"planned for {counts.planned_words()}; none due yet: {later}"
            line = f"planned for {counts.planned_words()}; no worker has sent any yet"
            return f"{line}; {later}" if later else line
        if self.stage is Stage.SENDING:
            line = f"sending: {counts.delivered} of {counts.total} delivered"
            if counts.failed:
                line += f", {counts.failed} failed"
            held = counts.count([DeliveryState.HELD])
            if held:
                line += f", {held} held for an editor"
            if later:
                line += f", {later}"
            return line
        if self.stage is Stage.SENT and not counts.total:
            return "sent to nobody: no subscriber follows it and no channel posts it"
        if self.stage in (Stage.SENT, Stage.SENT_WITH_FAILURES):
            line = f"{self.stage.value}: {counts.delivered} of {counts.total} delivered"
            if counts.failed:
                line += f", {counts.failed} failed"
            skipped = counts.count([DeliveryState.SKIPPED])
            if skipped:
                line += f", {skipped} skipped (the recipient left)"
            return line
        if self.stage is Stage.MISSED:
            at = f" at {self.send_at:%a %Y-%m-%d %H:%M %Z}" if self.send_at else ""
            return f"missed: nothing was planned{at} (the scheduler was not running)"
        if self.stage is Stage.HELD:
            return "held by an editor: not sent until approved"
        if self.stage is Stage.APPROVED:
            return "approved: sent at its scheduled time"
        return f"draft: {self.waiting}" if self.waiting else "draft: sent at its scheduled time"

    @property
    def is_out(self) -> bool:
        """Released to its recipients: it has gone, or is going, out."""
        return self.planned_at is not None or self.counts.total > 0


def delivery_counts(ctx: Context, keys: Collection[str]) -> dict[str, DeliveryCounts]:
    """Each digest's real rows by channel and state, and those not due yet, from the tallies
    of all the keys at once."""
    found: dict[str, dict[DeliveryChannel, dict[DeliveryState, int]]] = {}
    later: dict[str, tuple[int, datetime]] = {}
    now = ctx.clock()
    for tally in tallies(ctx.store.engine, keys):
        by_state = found.setdefault(tally.digest_key, {}).setdefault(tally.channel, {})
        by_state[tally.state] = by_state.get(tally.state, 0) + tally.rows
        if tally.state is DeliveryState.PLANNED and tally.available_at > now:
            number, first = later.get(tally.digest_key, (0, tally.available_at))
            later[tally.digest_key] = (number + tally.rows, first)  # earliest first
    return {key: DeliveryCounts(found.get(key, {}), *later.get(key, (0, None))) for key in keys}


def digest_status(ctx: Context, digest: Digest | DigestSummary) -> DigestStatus:
    """Where `digest` stands now (by the context's clock). A stored digest may be given by its
    summary: it has news, or it would not have been stored."""
    return digest_statuses(ctx, [digest])[digest.key]


def digest_statuses(
    ctx: Context, digests: Sequence[Digest | DigestSummary]
) -> dict[str, DigestStatus]:
    """`digest_status` of each of `digests`, by key: their rows counted and their approvals
    read in one query each, however many there are (a week's calendar shows hundreds)."""
    keys = [digest.key for digest in digests]
    counted = delivery_counts(ctx, keys)
    approvals = ctx.store.digest_approvals(keys)
    send_times: dict[tuple[DigestKind, datetime], datetime | None] = {}  # one cron a kind
    statuses = {}
    for digest in digests:
        counts, approval = counted[digest.key], approvals.get(digest.key)
        when = (digest.kind, digest.window_end)
        if when not in send_times:
            send_times[when] = scheduled_send_at(ctx, digest)
        send_at = send_times[when]
        decided = approval.status if approval else ApprovalStatus.DRAFT
        has_news = bool(digest.entries) if isinstance(digest, Digest) else True
        waiting = release_blocker(ctx.settings, digest.kind, has_news, decided)
        released = approval is not None and approval.planned_at is not None
        statuses[digest.key] = DigestStatus(
            stage=_stage(ctx, counts, decided, send_at, waiting, released=released),
            key=digest.key,
            counts=counts,
            send_at=send_at,
            waiting=waiting,
            approved_by=approval.approved_by if approval else None,
            approved_at=approval.approved_at if approval else None,
            planned_at=approval.planned_at if approval else None,
            zone=ctx.settings.site.zone,
        )
    return statuses


def _stage(
    ctx: Context,
    counts: DeliveryCounts,
    decided: ApprovalStatus,
    send_at: datetime | None,
    waiting: str | None,
    *,
    released: bool,
) -> Stage:
    if counts.total:
        if counts.untouched:
            return Stage.PLANNED
        if counts.open:
            return Stage.SENDING
        return Stage.SENT_WITH_FAILURES if counts.failed else Stage.SENT
    if released:
        return Stage.SENT  # released to nobody: every recipient it had, it reached
    if decided is ApprovalStatus.HELD:
        return Stage.HELD
    grace = timedelta(seconds=ctx.settings.schedules.misfire_grace_seconds)
    if waiting is None and send_at is not None and ctx.clock() > send_at + grace:
        return Stage.MISSED
    return Stage.APPROVED if decided is ApprovalStatus.APPROVED else Stage.DRAFT
