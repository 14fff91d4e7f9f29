"""POST /batch (companies, items and AMW Reads, exactly as `digest ingest` reads them) and
GET /items."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from datetime import datetime

from digest.compose import IsoWeek
from digest.errors import InputError, Problem
from digest.ingest import Loaded, read_bodies
from digest.ingest.documents import LISTS
from digest.ingest.validate import COMPANY_FIELDS, ITEM_FIELDS, READ_FIELDS, REF_FIELDS
from digest.store import audit, pages
from digest.web.api import paging
from digest.web.api.models import BatchResult, Counts, ItemOut, ItemPage, ItemQuery
from digest.web.api.operations import JSON, Answer, Call, Operation, RawBody, invalid

# JSON Lines too, as `digest ingest` reads a .jsonl file (one record per line, with its kind).
JSON_LINES = ("application/x-ndjson", "application/jsonl")
AUDITED = 100  # ids of each kind written into the audit entry, at most


def _record_schema(fields: tuple[str, ...], description: str) -> dict[str, object]:
    # The field names are ingest's own; the checks are ingest's too, so the schema only says
    # what fields there are, and a body that breaks a rule gets ingest's words for it.
    return {
        "type": "object",
        "description": description,
        "properties": {name: {} for name in fields},
        "additionalProperties": False,
    }


_RECORDS = {
    "company": _record_schema(COMPANY_FIELDS, "a company (docs/input-format.md#companies)"),
    "item": _record_schema(ITEM_FIELDS, "a news item (docs/input-format.md#items)"),
    "read": {
        **_record_schema(READ_FIELDS, "an AMW Read (docs/input-format.md#reads)"),
        "properties": {
            **{name: {} for name in READ_FIELDS},
            "refs": {
                "type": ["array", "null"],
                "items": _record_schema(REF_FIELDS, "a reference"),
            },
        },
    },
}


def _list_schema(kind: str) -> dict[str, object]:
    # A list with nothing in it may be left empty (null), as in a YAML file.
    return {"type": ["array", "null"], "items": _RECORDS[kind]}


BATCH_BODY = RawBody(
    schema={
        "type": "object",
        "description": "A document as `digest ingest` reads it: up to three lists, validated "
        "by ingest's own rules, written all or nothing; an id already stored is updated. As "
        "application/x-ndjson: one record per line, each with its `kind`.",
        "properties": {name: _list_schema(kind) for name, kind in LISTS.items()},
        "additionalProperties": False,
    },
    media_types=(JSON, *JSON_LINES),
)


def post_batch(call: Call) -> Answer:
    fmt = "jsonl" if call.content_type in JSON_LINES else "json"
    body = Loaded.of_bytes("body", call.body, fmt)
    return _ingest(call, body)


def records_poster(name: str) -> Callable[[Call], Answer]:
    """POST /items (/companies, /reads): a JSON list of that kind's records, or a document
    holding only that list; read by ingest as the document `{name: [...]}` would be."""

    def post_records(call: Call) -> Answer:
        raw = bytes(call.body).strip()
        listed = raw.startswith(b"[")  # anything else is read as a document, or refused as one
        document = b'{"' + name.encode() + b'": ' + raw + b"}" if listed else raw
        return _ingest(call, Loaded.of_bytes("body", document, "json"), only=name)

    return post_records


def _ingest(call: Call, body: Loaded, *, only: str | None = None) -> Answer:
    store = call.ctx.store
    try:
        batch = read_bodies(
            [body], known_companies=store.company_slugs(), known_items=store.existing_item_ids
        )
        if only is not None:
            others = [name for name in LISTS if name != only and getattr(batch, name)]
            if others:
                message = f"only {only} are taken here; POST /batch for {' and '.join(others)}"
                raise InputError([Problem("body", "", others[0], message)])
        counts = store.write_batch(batch)
    except InputError as error:
        raise invalid(error.problems) from None
    audit.record(
        store.engine,
        at=call.now,
        actor=call.actor,
        action="items.ingest",
        subject="items",
        after={
            "companies": [company.slug for company in batch.companies[:AUDITED]],
            "items": [item.id for item in batch.items[:AUDITED]],
            "reads": [read.item_id for read in batch.reads[:AUDITED]],
            "request_id": call.request_id,
        },
    )
    return Answer(
        200,
        BatchResult(
            companies=Counts(inserted=counts.companies.inserted, updated=counts.companies.updated),
            items=Counts(inserted=counts.items.inserted, updated=counts.items.updated),
            reads=Counts(inserted=counts.reads.inserted, updated=counts.reads.updated),
        ),
    )


def list_items(call: Call) -> Answer:
    ctx, query = call.ctx, call.query
    start = end = None
    if query.week is not None:
        try:
            start, end = IsoWeek.parse(query.week).window(ctx.settings.site.zone)
        except ValueError as error:
            raise invalid([Problem("", "query", "week", str(error))]) from None
    if query.company is not None:
        _known_company(call, query.company)
    after = paging.decode(query.cursor, (_aware, str))
    limit = paging.size(call)
    found = pages.items_page(
        ctx.store.engine,
        start=start,
        end=end,
        company=query.company,
        after=(after[0], after[1]) if after else None,
        limit=limit + 1,
    )
    shown = found[:limit]
    reads = ctx.store.reads_for([item.id for item in shown])
    last = shown[-1] if len(found) > limit else None
    return Answer(
        200,
        ItemPage(
            data=[ItemOut.of(item, reads.get(item.id)) for item in shown],
            next_cursor=paging.encode([last.published_at.isoformat(), last.id]) if last else None,
        ),
    )


def _aware(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("a cursor's time has its offset")
    return moment


def _known_company(call: Call, slug: str) -> None:
    slugs = call.ctx.store.company_slugs()
    if slug not in slugs:
        close = difflib.get_close_matches(slug, sorted(slugs), n=1)
        hint = f'; did you mean "{close[0]}"?' if close else "; POST it in a batch first"
        raise invalid([Problem("", "query", "company", f'no company "{slug}"{hint}')])


operations = [
    Operation(
        "POST",
        "/batch",
        "postBatch",
        "Add or update companies, items and AMW Reads, all or nothing",
        post_batch,
        scope="items:write",
        tag="items",
        body=BATCH_BODY,
        responses={200: (BatchResult, "Written: how many of each were new or updated")},
        errors={415: "Not JSON nor JSON Lines"},
    ),
    *(
        Operation(
            "POST",
            f"/{name}",
            f"post{name.capitalize()}",
            f"Add or update {name}, all or nothing (as in a batch)",
            records_poster(name),
            scope="items:write",
            tag="items",
            body=RawBody(
                schema={
                    "description": f"A list of {name}, or a document holding only `{name}`; "
                    "validated by `digest ingest`'s own rules, written all or nothing",
                    "oneOf": [
                        {"type": "array", "items": _RECORDS[kind]},
                        {
                            "type": "object",
                            "properties": {
                                name: {"type": ["array", "null"], "items": _RECORDS[kind]}
                            },
                            "additionalProperties": False,
                        },
                    ],
                }
            ),
            responses={200: (BatchResult, "Written: how many were new or updated")},
            errors={415: "Not JSON"},
        )
        for name, kind in LISTS.items()
    ),
    Operation(
        "GET",
        "/items",
        "listItems",
        "Items by publication time, with their AMW Reads",
        list_items,
        scope="items:read",
        tag="items",
        query=ItemQuery,
        responses={200: (ItemPage, "A page of items")},
    ),
]
