"""The JSON API under /api/v1: each endpoint and each error, token scopes as a table, paging,
ETags and request ids. Driven through Starlette's TestClient on the real app and store."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from digest.errors import InputError
from digest.ingest import read_sources
from digest.models import DeliveryState, SubscriberStatus
from digest.schedule import jobs
from digest.store import api_tokens, schema
from digest.store.audit import entries_by
from digest.web.api.application import OPERATIONS
from digest.web.app import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note about httpx2
    from starlette.testclient import TestClient

from api_support import ApiWorld, open_world, seeded_copy

ALL = api_tokens.SCOPES
ZOE = "zoe.mueller@example.com"  # sub-001 of the sample, active
JSON_BODY = {"Content-Type": "application/json"}

# Every operation and the scope it needs: the contract, written out (the app must agree).
SCOPE_TABLE = [
    ("POST", "/batch", "items:write"),
    ("POST", "/companies", "items:write"),
    ("POST", "/items", "items:write"),
    ("POST", "/reads", "items:write"),
    ("GET", "/items", "items:read"),
    ("GET", "/digests", "digests:read"),
    ("GET", "/digests/{key}", "digests:read"),
    ("GET", "/digests/{key}/deliveries", "digests:read"),
    ("POST", "/subscribers", "subscribers:write"),
    ("GET", "/subscribers/{email}", "subscribers:read"),
    ("PATCH", "/subscribers/{email}", "subscribers:write"),
    ("POST", "/subscribers/{email}/unsubscribe", "subscribers:write"),
    ("DELETE", "/subscribers/{email}", "subscribers:write"),
    ("GET", "/webhooks", "webhooks:read"),
    ("POST", "/webhooks", "webhooks:write"),
    ("DELETE", "/webhooks/{name}", "webhooks:write"),
    ("POST", "/webhooks/{name}/resume", "webhooks:write"),
]
PATHS = {"{key}": "weekly:2026-W48", "{email}": ZOE, "{name}": "nobody"}
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/batch"): {"items": []},
    ("POST", "/subscribers"): {"email": "someone@example.org"},
    ("PATCH", "/subscribers/{email}"): {"preferences": {"weekly": False}},
    ("POST", "/webhooks"): {"name": "crm", "url": "https://crm.example.org/hooks"},
}


@pytest.fixture
def client(world: ApiWorld) -> TestClient:
    return TestClient(create_app(world.ctx), base_url="https://news.example.org")


def call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> Any:
    concrete = path
    for placeholder, value in PATHS.items():
        concrete = concrete.replace(placeholder, value)
    body = BODIES.get((method, path))
    return client.request(
        method,
        f"/api/v1{concrete}",
        headers={**headers, **JSON_BODY},
        content=json.dumps(body) if body is not None else None,
    )


def test_the_scope_table_is_what_the_app_declares() -> None:
    declared = [(operation.method, operation.path, operation.scope) for operation in OPERATIONS]
    assert sorted(declared) == sorted(SCOPE_TABLE)


@pytest.mark.parametrize(("method", "path", "scope"), SCOPE_TABLE)
def test_each_operation_needs_its_scope_and_no_other(
    client: TestClient, world: ApiWorld, method: str, path: str, scope: str
) -> None:
    others = [other for other in ALL if other != scope]
    refused = call(client, method, path, world.auth(*others))
    assert refused.status_code == 403
    assert refused.json()["code"] == "missing_scope" and scope in refused.json()["message"]
    allowed = call(client, method, path, world.auth(scope))
    assert allowed.status_code not in (401, 403, 500), allowed.text
    assert allowed.headers["X-Request-Id"].startswith("req_")


@pytest.mark.parametrize(("method", "path", "scope"), SCOPE_TABLE)
def test_no_token_is_a_json_401(client: TestClient, method: str, path: str, scope: str) -> None:
    response = call(client, method, path, {})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["code"] == "missing_token"


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("Basic dXNlcjpwYXNz", "missing_token"),
        ("Bearer ", "missing_token"),
        ("Bearer dgst_not-a-token-anyone-made", "unknown_token"),
        ("Bearer something-else", "unknown_token"),
    ],
)
def test_a_bad_authorization_header_is_a_401(client: TestClient, header: str, code: str) -> None:
    response = client.get("/api/v1/items", headers={"Authorization": header})
    assert response.status_code == 401 and response.json()["code"] == code


def test_a_revoked_token_is_refused_at_once(client: TestClient, world: ApiWorld) -> None:
    headers = world.auth("items:read")
    assert client.get("/api/v1/items", headers=headers).status_code == 200
    (token,) = api_tokens.tokens(world.ctx.store.engine)
    assert api_tokens.revoke(world.ctx.store.engine, token.name, world.clock())
    response = client.get("/api/v1/items", headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "revoked_token"


def test_tokens_are_stored_only_as_their_hash(world: ApiWorld) -> None:
    token = world.token("items:read")
    with world.ctx.store.engine.connect() as connection:
        row = connection.execute(select(schema.api_tokens)).one()
    assert token not in repr(tuple(row))
    assert row.token_hash == api_tokens.token_hash(token)


def test_a_token_over_its_rate_limit_gets_429_with_retry_after(
    seeded: Path, tmp_path: Path
) -> None:
    world = open_world(seeded_copy(seeded, tmp_path), tmp_path, api={"rate_limit": "3/minute"})
    client = TestClient(create_app(world.ctx))
    headers, other = world.auth("items:read"), world.auth("digests:read")
    statuses = [client.get("/api/v1/items", headers=headers).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = client.get("/api/v1/items", headers=headers)
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.json()["code"] == "rate_limited"
    assert client.get("/api/v1/digests", headers=other).status_code == 200  # per token
    world.clock.advance(seconds=61)
    assert client.get("/api/v1/items", headers=headers).status_code == 200
    world.ctx.close()


def test_every_answer_has_a_request_id_and_a_sane_one_is_kept(
    client: TestClient, world: ApiWorld
) -> None:
    answers = [
        client.get("/api/v1/items", headers=world.auth("items:read")),
        client.get("/api/v1/items"),
        client.get("/api/v1/no-such-thing"),
        client.put("/api/v1/items", headers=world.auth("items:read")),
        client.get("/api/v1/openapi.json"),
    ]
    ids = [answer.headers["X-Request-Id"] for answer in answers]
    assert len(set(ids)) == len(ids)
    assert answers[2].status_code == 404 and answers[2].json()["code"] == "not_found"
    assert answers[3].status_code == 405 and answers[3].json()["request_id"] == ids[3]
    kept = client.get("/api/v1/items", headers={"X-Request-Id": "cms-42"})
    assert kept.headers["X-Request-Id"] == "cms-42" and kept.json()["request_id"] == "cms-42"
    replaced = client.get("/api/v1/items", headers={"X-Request-Id": "x\tinjected"})
    assert replaced.headers["X-Request-Id"].startswith("req_")


def test_an_unexpected_error_is_json_with_the_request_id(
    client: TestClient, world: ApiWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(world.ctx.store, "digest_summaries", broken)
    response = client.get("/api/v1/digests", headers=world.auth("digests:read"))
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "internal" and body["request_id"] in body["message"]
    assert "Traceback" not in response.text and "database went away" not in response.text


# Items ---------------------------------------------------------------------------------------

NEW_COMPANY = {
    "slug": "helsing",
    "name": "Helsing",
    "sector": "Foundation Models / LLMs",
    "country": "DE",
    "hashtag": "Helsing",
}
NEW_ITEM = {
    "id": "helsing-sovereign-stack",
    "title": "Helsing ships a sovereign AI stack for German ministries",
    "summary": "The stack runs on premises and is certified for classified documents.",
    "url": "https://news.example.org/helsing-sovereign-stack",
    "published_at": "2026-11-26T10:00:00+01:00",
    "companies": ["helsing"],
    "category": "Product",
    "topics": ["Digital Sovereignty"],
    "countries": ["DE"],
}
NEW_READ = {
    "item": "helsing-sovereign-stack",
    "text": "Sovereignty sells where trust in foreign clouds ended.",
    "novelty": 3,
    "significance": 4,
}
BATCH = {"companies": [NEW_COMPANY], "items": [NEW_ITEM], "reads": [NEW_READ]}
BAD_BATCH = {
    "companies": [{**NEW_COMPANY, "country": "Germany"}],
    "items": [
        {**NEW_ITEM, "url": "ftp://example.org/x", "published_at": "26 November"},
        {**NEW_ITEM, "id": "other", "companies": ["nobody-we-know"], "colour": "red"},
    ],
    "reads": [{**NEW_READ, "novelty": 9}],
}


def store_counts(world: ApiWorld) -> tuple[int, ...]:
    with world.ctx.store.engine.connect() as connection:
        return tuple(
            connection.scalar(select(func.count()).select_from(table)) or 0
            for table in (schema.companies, schema.items, schema.reads)
        )


def test_a_batch_is_written_and_posting_it_again_changes_nothing(
    client: TestClient, world: ApiWorld
) -> None:
    headers = world.auth("items:write")
    first = client.post("/api/v1/batch", headers=headers, json=BATCH)
    assert first.status_code == 200, first.text
    assert first.json() == {
        "companies": {"inserted": 1, "updated": 0},
        "items": {"inserted": 1, "updated": 0},
        "reads": {"inserted": 1, "updated": 0},
    }
    after_first = store_counts(world)
    again = client.post("/api/v1/batch", headers=headers, json=BATCH)
    assert again.json()["items"] == {"inserted": 0, "updated": 0}  # equal: left alone
    assert store_counts(world) == after_first
    reads = world.ctx.store.reads_for([NEW_ITEM["id"]])
    assert reads[NEW_ITEM["id"]].significance == 4
    (entry, _) = entries_by(world.ctx.store.engine, "token:t0")
    assert entry.action == "items.ingest" and entry.after is not None
    assert entry.after["items"] == [NEW_ITEM["id"]]


def test_a_bad_batch_gets_ingests_problems_and_changes_nothing(
    client: TestClient, world: ApiWorld, tmp_path: Path
) -> None:
    before = store_counts(world)
    response = client.post("/api/v1/batch", headers=world.auth("items:write"), json=BAD_BATCH)
    assert response.status_code == 422
    assert store_counts(world) == before
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(BAD_BATCH))
    store = world.ctx.store
    with pytest.raises(InputError) as ingest:
        read_sources(
            [str(path)], known_companies=store.company_slugs(), known_items=store.item_ids()
        )
    expected = [
        {"record": p.record, "field": p.field, "message": p.message} for p in ingest.value.problems
    ]
    got = [{k: p[k] for k in ("record", "field", "message")} for p in response.json()["problems"]]
    assert got == expected and len(got) >= 5
    texts = [problem["text"] for problem in response.json()["problems"]]
    assert all(str(p).endswith(text) for p, text in zip(ingest.value.problems, texts, strict=True))
    assert "items[1]: colour: unknown field" in " ".join(texts)


def test_items_companies_and_reads_each_have_their_own_post(
    client: TestClient, world: ApiWorld
) -> None:
    headers = world.auth("items:write")
    company = client.post("/api/v1/companies", headers=headers, json=[NEW_COMPANY])
    assert company.status_code == 200, company.text
    item = client.post("/api/v1/items", headers=headers, json={"items": [NEW_ITEM]})
    assert item.json()["items"] == {"inserted": 1, "updated": 0}
    read = client.post("/api/v1/reads", headers=headers, json=[NEW_READ])
    assert read.json()["reads"] == {"inserted": 1, "updated": 0}
    # Another kind in the document: refused, pointing at /batch; nothing written.
    before = store_counts(world)
    mixed = client.post("/api/v1/items", headers=headers, json=BATCH)
    assert mixed.status_code == 422
    assert "POST /batch for companies and reads" in mixed.json()["problems"][0]["text"]
    assert store_counts(world) == before
    # A bad item: ingest's own words, with the record's place in the list.
    bad = client.post("/api/v1/items", headers=headers, json=[{**NEW_ITEM, "colour": "red"}])
    assert bad.status_code == 422
    assert "items[0]: colour: unknown field" in bad.json()["problems"][0]["text"]
    assert client.post("/api/v1/items", json=[NEW_ITEM]).status_code == 401


def test_json_lines_are_read_as_ingest_reads_them(client: TestClient, world: ApiWorld) -> None:
    lines = "\n".join(
        json.dumps({"kind": kind, **record})
        for kind, record in (("company", NEW_COMPANY), ("item", NEW_ITEM), ("read", NEW_READ))
    )
    headers = {**world.auth("items:write"), "Content-Type": "application/x-ndjson"}
    response = client.post("/api/v1/batch", headers=headers, content=lines)
    assert response.status_code == 200 and response.json()["reads"]["inserted"] == 1
    bad = client.post("/api/v1/batch", headers=headers, content='{"kind": "itme"}\n{oops')
    assert [p["record"] for p in bad.json()["problems"]] == ["line 1", "line 2"]


@pytest.mark.parametrize(
    ("content", "content_type", "status", "expected"),
    [
        ("{not json", "application/json", 422, "not valid JSON"),
        ('["a list"]', "application/json", 422, "must be a document with companies:"),
        ('{"items": []}', "text/plain", 415, "send the body as application/json"),
    ],
)
def test_a_body_that_is_not_a_batch_is_refused_in_words(
    client: TestClient,
    world: ApiWorld,
    content: str,
    content_type: str,
    status: int,
    expected: str,
) -> None:
    headers = {**world.auth("items:write"), "Content-Type": content_type}
    response = client.post("/api/v1/batch", headers=headers, content=content)
    assert response.status_code == status
    assert expected in response.text


def test_a_body_over_the_limit_is_a_413(client: TestClient, world: ApiWorld) -> None:
    headers = {**world.auth("items:write"), **JSON_BODY}
    response = client.post("/api/v1/batch", headers=headers, content=b" " * (10 * 1024 * 1024 + 1))
    assert response.status_code == 413 and response.json()["code"] == "too_large"


def test_items_page_through_a_week_with_an_etag(client: TestClient, world: ApiWorld) -> None:
    headers = world.auth("items:read")
    week = jobs.latest_week(world.ctx)
    assert week is not None
    start, end = week.window(world.ctx.settings.site.zone)
    expected = [item.id for item in world.ctx.store.items_between(start, end)]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"week": str(week), "limit": "2", **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/items", headers=headers, params=params).json()
        seen.extend(item["id"] for item in page["data"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected and len(seen) > 2
    first = client.get("/api/v1/items", headers=headers, params={"week": str(week)})
    tag = first.headers["ETag"]
    unchanged = client.get(
        "/api/v1/items", headers={**headers, "If-None-Match": tag}, params={"week": str(week)}
    )
    assert unchanged.status_code == 304 and unchanged.content == b""
    client.post("/api/v1/batch", headers=world.auth("items:write"), json=BATCH)
    changed = client.get(
        "/api/v1/items", headers={**headers, "If-None-Match": tag}, params={"week": str(week)}
    )
    assert changed.status_code == 200 and changed.headers["ETag"] != tag


def test_items_of_one_company_with_their_reads(client: TestClient, world: ApiWorld) -> None:
    page = client.get(
        "/api/v1/items", headers=world.auth("items:read"), params={"company": "mistral-ai"}
    ).json()
    assert page["data"] and all("mistral-ai" in item["companies"] for item in page["data"])
    assert any(item["read"] and item["read"]["significance"] for item in page["data"])


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"week": "2026-48"}, "week", "2026-W48"),
        ({"company": "mistral"}, "company", 'did you mean "mistral-ai"?'),
        ({"cursor": "bm90IGEgY3Vyc29y"}, "cursor", "not a cursor of this list"),
        ({"limit": "0"}, "limit", "greater than or equal to 1"),
        ({"limit": "many"}, "limit", "valid integer"),
        ({"colour": "red"}, "colour", "unknown field"),
    ],
)
def test_a_bad_query_is_a_422_naming_the_parameter(
    client: TestClient, world: ApiWorld, params: dict[str, str], field: str, words: str
) -> None:
    response = client.get("/api/v1/items", headers=world.auth("items:read"), params=params)
    assert response.status_code == 422
    (problem,) = response.json()["problems"]
    assert problem["record"] == "query" and problem["field"] == field
    assert words in problem["message"]


# Digests -------------------------------------------------------------------------------------


def planned_weekly(world: ApiWorld) -> tuple[str, int]:
    week = jobs.latest_week(world.ctx)
    assert week is not None
    report = jobs.plan_email(world.ctx, jobs.compose_weekly(world.ctx, week), at_once=True)
    return report.digest_key, report.recipients


def test_digests_list_and_one_with_its_deliveries_by_state(
    client: TestClient, world: ApiWorld
) -> None:
    key, recipients = planned_weekly(world)
    headers = world.auth("digests:read")
    listed = client.get("/api/v1/digests", headers=headers).json()
    assert [digest["key"] for digest in listed["data"]] == [key]
    assert listed["data"][0]["planned_at"] is not None
    assert listed["data"][0]["stage"] == "planned"
    assert listed["data"][0]["status"].startswith("planned for")
    assert listed["data"][0]["archive_url"] == f"https://news.example.org/archive/{key}"
    one = client.get(f"/api/v1/digests/{key}", headers=headers).json()
    assert one["deliveries"] == {"planned": recipients}
    assert one["deliveries_by_channel"] == {"email": {"planned": recipients}}
    assert one["entries"] and one["kind"] == "weekly"
    missing = client.get("/api/v1/digests/weekly:1999-W01", headers=headers)
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_a_digests_deliveries_page_by_state(client: TestClient, world: ApiWorld) -> None:
    key, _ = planned_weekly(world)
    engine = world.ctx.store.engine
    with engine.begin() as connection:
        first = connection.scalar(select(func.min(schema.deliveries.c.id)))
        connection.execute(
            schema.deliveries.update()
            .where(schema.deliveries.c.id == first)
            .values(state=DeliveryState.FAILED.value, last_error="550 no such user")
        )
    headers = world.auth("digests:read")
    failed = client.get(
        f"/api/v1/digests/{key}/deliveries", headers=headers, params={"state": "failed"}
    ).json()
    assert [(row["id"], row["last_error"]) for row in failed["data"]] == [
        (first, "550 no such user")
    ]
    ids: list[int] = []
    cursor = None
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        page = client.get(f"/api/v1/digests/{key}/deliveries", headers=headers, params=params)
        ids.extend(row["id"] for row in page.json()["data"])
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert ids == sorted(ids) and len(ids) == len(set(ids)) > 3
    bad = client.get(f"/api/v1/digests/{key}/deliveries", headers=headers, params={"state": "lost"})
    assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "state"


# Subscribers ---------------------------------------------------------------------------------


def outbox_rows(world: ApiWorld, target: str) -> int:
    query = select(func.count()).where(schema.deliveries.c.target == target)
    with world.ctx.store.engine.connect() as connection:
        return int(connection.scalar(query) or 0)


def test_a_new_subscriber_is_pending_with_a_confirmation_planned(
    client: TestClient, world: ApiWorld
) -> None:
    body = {
        "email": "Ada@Example.org",
        "name": "Ada",
        "preferences": {"companies": ["mistral-ai"], "send_hour": 7},
    }
    response = client.post(
        "/api/v1/subscribers", headers=world.auth("subscribers:write"), json=body
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["confirmation_planned"] is True
    subscriber = created["subscriber"]
    assert subscriber["status"] == "pending" and subscriber["email"] == "Ada@example.org"
    assert subscriber["preferences"]["companies"] == ["mistral-ai"]
    assert subscriber["preferences"]["send_hour"] == 7
    assert response.headers["Location"] == "/api/v1/subscribers/Ada@example.org"
    assert outbox_rows(world, subscriber["id"]) == 1
    again = client.post("/api/v1/subscribers", headers=world.auth("subscribers:write"), json=body)
    assert again.status_code == 200 and again.json()["subscriber"]["id"] == subscriber["id"]
    (entry,) = entries_by(world.ctx.store.engine, "token:t0", limit=5)[-1:]
    assert entry.subject == f"subscriber:{subscriber['id']}"


def test_a_confirmed_subscriber_needs_the_import_scope(client: TestClient, world: ApiWorld) -> None:
    body = {"email": "grace@example.org", "confirmed": True}
    refused = client.post("/api/v1/subscribers", headers=world.auth("subscribers:write"), json=body)
    assert refused.status_code == 403 and "subscribers:import" in refused.json()["message"]
    headers = world.auth("subscribers:write", "subscribers:import")
    made = client.post("/api/v1/subscribers", headers=headers, json=body)
    assert made.status_code == 201
    assert made.json()["subscriber"]["status"] == "active"
    assert made.json()["confirmation_planned"] is False
    assert outbox_rows(world, made.json()["subscriber"]["id"]) == 0
    twice = client.post("/api/v1/subscribers", headers=headers, json=body)
    assert twice.status_code == 409


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"email": "not-an-address"}, "email", ""),
        ({"email": "a@example.org", "timezone": "Mars/Olympus"}, "timezone", "Mars/Olympus"),
        ({"email": "a@example.org", "preferences": {"send_hour": 25}}, "send_hour", "23"),
        ({"email": "a@example.org", "preferences": {"format": "pdf"}}, "preferences.format", ""),
        ({"email": "a@example.org", "preferences": {"weekly": "yes"}}, "preferences.weekly", ""),
        ({"email": "a@example.org", "colour": "red"}, "colour", "unknown field"),
        (
            {"email": "a@example.org", "preferences": {"companies": ["opnai"]}},
            "companies[0]",
            'unknown company "opnai"; did you mean "openai"?',
        ),
        ({}, "email", "missing"),
    ],
)
def test_a_bad_subscriber_is_a_422_naming_the_field(
    client: TestClient, world: ApiWorld, body: dict[str, Any], field: str, words: str
) -> None:
    response = client.post(
        "/api/v1/subscribers", headers=world.auth("subscribers:write"), json=body
    )
    assert response.status_code == 422, response.text
    problems = response.json()["problems"]
    assert [problem["field"] for problem in problems] == [field]
    assert problems[0]["record"] == "body" and words in problems[0]["message"]


def test_get_update_unsubscribe_and_forget_by_address(client: TestClient, world: ApiWorld) -> None:
    reader, writer = world.auth("subscribers:read"), world.auth("subscribers:write")
    got = client.get(f"/api/v1/subscribers/{ZOE.upper()}", headers=reader)
    assert got.status_code == 200 and got.json()["id"] == "sub-001"
    changed = client.patch(
        f"/api/v1/subscribers/{ZOE}",
        headers=writer,
        json={"timezone": "Asia/Tokyo", "preferences": {"weekly": False, "topics": []}},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["timezone"] == "Asia/Tokyo"
    assert changed.json()["preferences"]["weekly"] is False
    stored = world.ctx.store.subscriber("sub-001")
    assert stored is not None and stored.timezone == "Asia/Tokyo"
    bad = client.patch(
        f"/api/v1/subscribers/{ZOE}", headers=writer, json={"preferences": {"send_hour": -1}}
    )
    assert bad.status_code == 422
    left = client.post(f"/api/v1/subscribers/{ZOE}/unsubscribe", headers=writer)
    assert left.json()["status"] == "unsubscribed"
    stored = world.ctx.store.subscriber("sub-001")
    assert stored is not None and stored.status is SubscriberStatus.UNSUBSCRIBED
    forgotten = client.delete(f"/api/v1/subscribers/{ZOE}", headers=writer)
    assert forgotten.status_code == 204 and forgotten.content == b""
    assert world.ctx.store.subscriber("sub-001") is None
    assert client.get(f"/api/v1/subscribers/{ZOE}", headers=reader).status_code == 404
    actions = [entry.action for entry in entries_by(world.ctx.store.engine, "token:t1")]
    assert actions == ["subscriber.forget", "subscriber.unsubscribe", "subscriber.update"]
    forget_entry = entries_by(world.ctx.store.engine, "token:t1")[0]
    assert ZOE not in json.dumps([forget_entry.subject, forget_entry.after])


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("GET", ""), ("PATCH", ""), ("POST", "/unsubscribe")],
)
def test_an_unknown_address_is_a_404(
    client: TestClient, world: ApiWorld, method: str, suffix: str
) -> None:
    response = client.request(
        method,
        f"/api/v1/subscribers/nobody@example.org{suffix}",
        headers={**world.auth("subscribers:read", "subscribers:write"), **JSON_BODY},
        content="{}" if method == "PATCH" else None,
    )
    assert response.status_code == 404 and response.json()["code"] == "not_found"


# Webhook endpoints ---------------------------------------------------------------------------


def test_endpoints_are_made_listed_resumed_and_deleted(client: TestClient, world: ApiWorld) -> None:
    writer, reader = world.auth("webhooks:write"), world.auth("webhooks:read")
    body = {"name": "crm", "url": "https://crm.example.org/hooks", "events": ["digest.sent"]}
    made = client.post("/api/v1/webhooks", headers=writer, json=body)
    assert made.status_code == 201, made.text
    assert made.json()["secret"].startswith("whsec_")
    listed = client.get("/api/v1/webhooks", headers=reader).json()["data"]
    assert [(e["name"], e["events"], e["source"]) for e in listed] == [
        ("crm", ["digest.sent"], "api")
    ]
    assert "secret" not in json.dumps(listed)
    assert client.post("/api/v1/webhooks", headers=writer, json=body).status_code == 409
    assert client.post("/api/v1/webhooks/crm/resume", headers=writer).status_code == 200
    assert client.delete("/api/v1/webhooks/crm", headers=writer).status_code == 204
    assert client.delete("/api/v1/webhooks/crm", headers=writer).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Bad Name", "url": "https://x.example.org"}, "name"),
        ({"name": "crm", "url": "ftp://x.example.org"}, "url"),
        ({"name": "crm", "url": "https://x.example.org", "events": ["digest.eaten"]}, "events.0"),
    ],
)
def test_a_bad_endpoint_is_a_422(
    client: TestClient, world: ApiWorld, body: dict[str, Any], field: str
) -> None:
    response = client.post("/api/v1/webhooks", headers=world.auth("webhooks:write"), json=body)
    assert response.status_code == 422
    assert [problem["field"] for problem in response.json()["problems"]] == [field]


# The document --------------------------------------------------------------------------------


def test_the_document_and_the_reference_page_need_no_token(client: TestClient) -> None:
    document = client.get("/api/v1/openapi.json").json()
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": "https://news.example.org/api/v1"}]
    documented = {
        (method.upper(), path) for path, ops in document["paths"].items() for method in ops
    }
    assert documented == {(method, path) for method, path, _ in SCOPE_TABLE}
    page = client.get("/api/v1/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for method, path, scope in SCOPE_TABLE:
        assert f"{method} {path}" in page.text and scope in page.text
