"""Roles on the desk: every editor route against every role, as one table (route × role →
allowed), and every route of the desk guarded by a permission."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_web_editor import SUNDAY, WEEKLY, Client, client_for, csrf_of, log_in
from test_web_editor import clock as clock
from test_web_editor import context as context
from test_web_editor import overrides as overrides

from digest.context import Context
from digest.store.accounts import Role, create_account
from digest.web.app import create_app
from digest.web.editor.routes import OPEN, routes

DIGEST = f"/editor/digest/{WEEKLY}"
EVERYONE = {"marketing", "editor", "admin"}
EMAIL_PEOPLE = {"editor", "admin"}
# (method, path, form, roles allowed): the whole desk, one line a route (and view-as apart).
CARD = "1-1200x675.png"  # the weekly's top story's post card
TABLE: list[tuple[str, str, dict[str, str], set[str]]] = [
    ("GET", "/editor/", {}, EVERYONE),
    ("GET", DIGEST, {}, EVERYONE),
    ("GET", f"{DIGEST}/email.html", {}, EVERYONE),
    ("GET", f"{DIGEST}?subscriber=s001", {}, EMAIL_PEOPLE),
    ("GET", f"{DIGEST}/email.html?subscriber=s001", {}, EMAIL_PEOPLE),
    ("GET", f"{DIGEST}?q=a", {}, EVERYONE),  # the search answers only roles that may view as
    ("POST", f"{DIGEST}/edit", {"action": "text", "note": "Hello"}, EMAIL_PEOPLE),
    ("POST", f"{DIGEST}/test-send", {"address": "proof@example.org"}, EMAIL_PEOPLE),
    ("POST", f"{DIGEST}/approve", {"content_hash": "stale"}, EMAIL_PEOPLE),
    ("POST", f"{DIGEST}/hold", {}, EMAIL_PEOPLE),
    ("POST", f"{DIGEST}/send-now", {}, EMAIL_PEOPLE),  # 409 here: it is not missed
    ("GET", f"{DIGEST}/posts", {}, EVERYONE),
    # 404 here (no post is planned): the role was let through to look for it.
    ("POST", f"{DIGEST}/posts/count", {"post": "1", "text": "Hello"}, EVERYONE),
    ("POST", f"{DIGEST}/posts/change", {"post": "1", "action": "skip"}, EVERYONE),
    ("GET", f"/editor/cards/{WEEKLY}/{CARD}", {}, EVERYONE),
    ("GET", "/editor/signup", {}, EVERYONE),
    ("GET", "/editor/reports", {}, EVERYONE),
    ("GET", "/editor/reports.csv", {}, EVERYONE),
    ("GET", f"/editor/reports/{WEEKLY}", {}, EVERYONE),
    ("GET", f"/editor/reports/{WEEKLY}.csv", {}, EVERYONE),
    ("GET", "/editor/accounts", {}, {"admin"}),
    ("POST", "/editor/accounts", {"action": "end-sessions", "name": "nobody"}, {"admin"}),
    ("GET", "/editor/password", {}, EVERYONE),
    ("POST", "/editor/password", {"current": "wrong", "new": "x", "again": "y"}, EVERYONE),
]
PASSWORDS = {role: f"the {role.value} role's password" for role in Role}


@pytest.fixture
def people(context: Context) -> Iterator[Context]:
    for role in Role:
        create_account(
            context.store.engine,
            name=f"{role.value} person",
            email=f"{role.value}@example.org",
            role=role,
            password=PASSWORDS[role],
            now=SUNDAY,
        )
    yield context


def ask(client: Client, method: str, path: str, form: dict[str, str]) -> int:
    if method == "GET":
        return client.get(path).status_code
    page = client.get("/editor/").text
    return client.post(path, data={"csrf_token": csrf_of(page), **form}).status_code


def test_each_route_allows_exactly_the_roles_of_the_table(people: Context) -> None:
    for role in Role:
        with client_for(create_app(people)) as client:
            assert log_in(client, PASSWORDS[role], name=f"{role.value} person").status_code == 303
            for method, path, form, allowed in TABLE:
                status = ask(client, method, path, form)
                if role.value in allowed:
                    assert status not in (401, 403), (role, method, path, status)
                else:
                    assert status == 403, (role, method, path, status)
            # Marketing sees the digest and its posts, never a subscriber.
            if role is Role.MARKETING:
                page = client.get(f"{DIGEST}?q=a").text
                assert 'id="posts"' in page and 'id="people"' not in page
                assert 'id="approve"' not in page and 'name="action" value="pin"' not in page
    # A refusal says what the role cannot do, and whom to ask.
    with client_for(create_app(people)) as client:
        log_in(client, PASSWORDS[Role.MARKETING], name="marketing person")
        page = client.get("/editor/").text
        refused = client.post(f"{DIGEST}/approve", data={"csrf_token": csrf_of(page)})
        assert refused.status_code == 403
        assert "Your role, marketing, cannot approve or hold digests" in refused.text


def test_every_desk_route_is_guarded_and_in_the_table() -> None:
    tabled = {path.split("?")[0] for _, path, _, _ in TABLE}
    for route in routes:
        if route.name in OPEN:
            continue
        assert hasattr(route.endpoint, "permission"), f"{route.path} has no permission"
        path = "/editor" + route.path.replace("{key:str}", WEEKLY).replace("{name:str}", CARD)
        assert path in tabled, f"{route.path} is missing from the route × role table"
