"""GET /digests, /digests/{key} (with its deliveries counted by state) and
/digests/{key}/deliveries."""

from __future__ import annotations

from digest.links import archive_url
from digest.models import DeliveryState, Digest
from digest.outbox import listing
from digest.schedule.status import DigestStatus, digest_status, digest_statuses
from digest.store.store import DigestSummary
from digest.web.api import paging
from digest.web.api.models import (
    DeliveryOut,
    DeliveryPage,
    DeliveryQuery,
    DigestOut,
    DigestPage,
    DigestSummaryOut,
    EntryOut,
    PageQuery,
)
from digest.web.api.operations import Answer, Call, Operation, not_found

KEY = {"key": 'the digest\'s key, like "weekly:2026-W48" or "company:mistral-ai:2026-W48"'}


def _summary(call: Call, summary: DigestSummary, status: DigestStatus) -> DigestSummaryOut:
    released = status.planned_at is not None
    return DigestSummaryOut(
        key=summary.key,
        kind=summary.kind,
        title=summary.title,
        window_start=summary.window_start,
        window_end=summary.window_end,
        approval=summary.status,
        stage=status.stage,
        status=status.words,
        planned_at=status.planned_at,
        archive_url=archive_url(call.ctx.settings.site, summary.key) if released else None,
    )


def list_digests(call: Call) -> Answer:
    summaries = call.ctx.store.digest_summaries()  # newest first; a few a week: paged in memory
    after = paging.decode(call.query.cursor, (str,))
    if after is not None:
        keys = [summary.key for summary in summaries]
        summaries = summaries[keys.index(after[0]) + 1 :] if after[0] in keys else []
    limit = paging.size(call)
    shown = summaries[:limit]
    statuses = digest_statuses(call.ctx, shown)
    return Answer(
        200,
        DigestPage(
            data=[_summary(call, summary, statuses[summary.key]) for summary in shown],
            next_cursor=paging.encode([shown[-1].key]) if len(summaries) > limit else None,
        ),
    )


def _stored(call: Call) -> tuple[Digest, DigestSummary]:
    key = call.path["key"]
    summary = next((s for s in call.ctx.store.digest_summaries() if s.key == key), None)
    digest = call.ctx.store.load_digest(key) if summary is not None else None
    if digest is None or summary is None:
        raise not_found(f"no digest has the key {key!r}; GET /api/v1/digests lists them")
    return digest, summary


def get_digest(call: Call) -> Answer:
    digest, summary = _stored(call)
    status = digest_status(call.ctx, digest)
    by_channel = {channel: dict(states) for channel, states in status.counts.by_channel.items()}
    totals: dict[DeliveryState, int] = {}
    for states in by_channel.values():
        for state, count in states.items():
            totals[state] = totals.get(state, 0) + count
    return Answer(
        200,
        DigestOut(
            **_summary(call, summary, status).model_dump(),
            company=digest.company.slug if digest.company else None,
            generated_at=digest.generated_at,
            entries=[
                EntryOut(
                    section=section.title,
                    item_id=entry.item.id,
                    title=entry.item.title,
                    url=entry.item.url,
                )
                for section in digest.sections
                for entry in section.entries
            ],
            deliveries=totals,
            deliveries_by_channel=by_channel,
        ),
    )


def list_deliveries(call: Call) -> Answer:
    digest, _ = _stored(call)
    after = paging.decode(call.query.cursor, (int,))
    limit = paging.size(call)
    rows = listing.deliveries_page(
        call.ctx.store.engine,
        digest.key,
        state=call.query.state,
        after=after[0] if after else None,
        limit=limit + 1,
    )
    shown = rows[:limit]
    return Answer(
        200,
        DeliveryPage(
            data=[DeliveryOut.of(row) for row in shown],
            next_cursor=paging.encode([shown[-1].id]) if len(rows) > limit else None,
        ),
    )


operations = [
    Operation(
        "GET",
        "/digests",
        "listDigests",
        "Stored digests, newest week first",
        list_digests,
        scope="digests:read",
        tag="digests",
        query=PageQuery,
        responses={200: (DigestPage, "A page of digests")},
    ),
    Operation(
        "GET",
        "/digests/{key}",
        "getDigest",
        "One digest: its entries, and its deliveries counted by state",
        get_digest,
        scope="digests:read",
        tag="digests",
        path_params=KEY,
        responses={200: (DigestOut, "The digest")},
        errors={404: "No digest has that key"},
    ),
    Operation(
        "GET",
        "/digests/{key}/deliveries",
        "listDigestDeliveries",
        "A digest's outbox rows (emails and posts), oldest first; ?state=failed for failures",
        list_deliveries,
        scope="digests:read",
        tag="digests",
        query=DeliveryQuery,
        path_params=KEY,
        responses={200: (DeliveryPage, "A page of deliveries")},
        errors={404: "No digest has that key"},
    ),
]
