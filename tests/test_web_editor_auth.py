"""Editor accounts and sessions in the store (argon2id hashes, sessions that end), the command
that manages accounts, the searches the desk makes, and where a login may send the browser."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update

from digest.cli import main
from digest.ingest import read_sources
from digest.models import Subscriber
from digest.render.social import SocialPost
from digest.store import Store, schema
from digest.store import accounts as store_accounts
from digest.store.accounts import AccountError, Role, create_account, verify_login
from digest.store.audit import entries_for
from digest.web.editor.auth import safe_next
from digest.web.editor.previews import post_warnings

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 29, 18, 0, tzinfo=UTC)
PASSWORD = "a long editor password"


def add(store: Store, name: str = "Ada", role: Role = Role.EDITOR) -> store_accounts.Account:
    return create_account(
        store.engine, name=name, email=f"{name.lower()}@example.org", role=role,
        password=PASSWORD, now=NOW,
    )  # fmt: skip


def stored_hash(store: Store, name: str) -> str:
    with store.engine.connect() as connection:
        found: str = connection.scalar(
            select(schema.editor_accounts.c.password_hash).where(
                schema.editor_accounts.c.name == name
            )
        )
    return found


def test_passwords_are_argon2id_and_verify_only_their_own(store: Store) -> None:
    account = add(store)
    assert stored_hash(store, "Ada").startswith("$argon2id$")
    assert PASSWORD not in stored_hash(store, "Ada")
    assert verify_login(store.engine, "Ada", PASSWORD, NOW) == account
    assert verify_login(store.engine, "Ada", PASSWORD.upper(), NOW) is None
    assert verify_login(store.engine, "Nobody", PASSWORD, NOW) is None
    with pytest.raises(AccountError, match="already an account named 'Ada'"):
        add(store)
    with pytest.raises(AccountError, match="too short"):
        create_account(
            store.engine, name="Bo", email="bo@example.org", role=Role.EDITOR,
            password="short", now=NOW,
        )  # fmt: skip
    store_accounts.set_disabled(store.engine, "Ada", True)
    assert verify_login(store.engine, "Ada", PASSWORD, NOW) is None


def test_a_hash_of_an_older_cost_is_upgraded_at_login(store: Store) -> None:
    add(store)
    cheap = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    with store.write() as connection:
        connection.execute(update(schema.editor_accounts).values(password_hash=cheap))
    assert verify_login(store.engine, "Ada", PASSWORD, NOW) is not None
    assert stored_hash(store, "Ada") != cheap
    assert verify_login(store.engine, "Ada", PASSWORD, NOW) is not None


def test_sessions_end_on_logout_new_password_disable_and_expiry(store: Store) -> None:
    account = add(store)
    engine = store.engine
    token = store_accounts.open_session(engine, account, now=NOW, minutes=60, client="::1")
    session = store_accounts.session_for(engine, token, NOW)
    assert session is not None and session.account == account and session.actor == "editor:Ada"
    assert store_accounts.session_for(engine, token + "x", NOW) is None
    assert store_accounts.session_for(engine, token, NOW + timedelta(minutes=61)) is None
    store_accounts.end_session(engine, token)
    assert store_accounts.session_for(engine, token, NOW) is None
    for end in (
        lambda: store_accounts.set_password(engine, "Ada", "another long password", NOW),
        lambda: store_accounts.set_disabled(engine, "Ada", True),
        lambda: store_accounts.end_sessions(engine, "Ada"),
    ):
        store_accounts.set_disabled(engine, "Ada", False)
        token = store_accounts.open_session(engine, account, now=NOW, minutes=60, client="::1")
        end()
        assert store_accounts.session_for(engine, token, NOW) is None
    # The token's hash is stored, never the token.
    with engine.connect() as connection:
        hashes = connection.scalars(select(schema.editor_sessions.c.token_hash)).all()
    assert token not in hashes


def test_a_bootstrap_session_ends_once_an_admin_exists(store: Store) -> None:
    engine = store.engine
    token = store_accounts.open_session(
        engine, store_accounts.BOOTSTRAP, now=NOW, minutes=60, client="::1"
    )
    session = store_accounts.session_for(engine, token, NOW)
    assert session is not None and session.actor == "token:bootstrap"
    add(store, "Root", Role.ADMIN)
    assert store_accounts.session_for(engine, token, NOW) is None


def test_the_editor_commands_manage_accounts_and_never_print_a_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    database = ["--settings", str(REPO / "settings.yaml"), "--database"]
    database.append(f"sqlite:///{tmp_path / 'digest.db'}")
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{PASSWORD}\n"))
    assert main([*database, "editor", "add", "Quinn", "quinn@example.org", "--role", "admin"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main([*database, "editor", "add", "Bo", "bo@example.org"]) == 2
    assert main([*database, "editor", "role", "Quinn", "marketing"]) == 0
    assert main([*database, "editor", "disable", "Quinn"]) == 0
    assert main([*database, "editor", "list"]) == 0
    assert main([*database, "editor", "role", "Nobody", "editor"]) == 2
    out, err = capsys.readouterr()
    assert "Added Quinn <quinn@example.org> as admin" in out
    assert "Quinn <quinn@example.org>: marketing, disabled, never logged in" in out
    assert "too short" in err and "no account is named 'Nobody'" in err
    assert PASSWORD not in out + err
    with Store.open(f"sqlite:///{tmp_path / 'digest.db'}") as store:
        actions = [e.action for e in entries_for(store.engine, "account:Quinn")]
    assert actions == ["account.disable", "account.role", "account.add"]


def test_subscribers_are_found_by_the_start_of_their_address_or_their_id(store: Store) -> None:
    people = [
        Subscriber(id=f"s{n}", email=email, name=f"Person {n}")
        for n, email in enumerate(
            ["Ann.Lee@example.org", "ann_b@example.org", "annex@example.org", "bob@example.org",
             "a%b@example.org", "ann@other.example"]
        )
    ]  # fmt: skip
    store.save_subscribers(people)

    def found(words: str) -> list[str]:
        return [s.email for s in store.search_subscribers(words)]

    assert found("ANN") == [  # in the order of the lower-cased addresses' characters
        "Ann.Lee@example.org", "ann@other.example", "ann_b@example.org", "annex@example.org"
    ]  # fmt: skip
    assert found("ann.") == ["Ann.Lee@example.org"]  # punctuation counts, whatever the collation
    assert found("ann_") == ["ann_b@example.org"]  # no LIKE wildcards
    assert found("a%") == ["a%b@example.org"]
    assert found("s3") == ["bob@example.org"]  # an exact id
    assert found("  ") == [] and found("zzz") == []


def test_the_weeks_items_are_found_by_title_or_company(store: Store) -> None:
    store.write_batch(read_sources([str(REPO / "digest" / "data" / "sample.yaml")]))
    start = datetime(2026, 11, 23, tzinfo=UTC)
    end = start + timedelta(days=7)
    by_company = store.search_items(start, end, "mistral")
    assert by_company and all(
        "mistral-ai" in item.companies or "mistral" in item.title.lower() for item in by_company
    )
    assert all(start <= item.published_at < end for item in by_company)
    by_title = store.search_items(start, end, by_company[0].title[5:25].upper())
    assert by_company[0].id in [item.id for item in by_title]
    assert store.search_items(start, end, "%") == []
    assert store.companies_with_news(start, end)
    assert store.has_items_between(start, end)
    assert not store.has_items_between(start - timedelta(days=3650), start - timedelta(days=3000))


def test_after_login_only_a_path_inside_the_editor_is_followed() -> None:
    assert safe_next("/editor/digest/weekly:2026-W48?width=375") == (
        "/editor/digest/weekly:2026-W48?width=375"
    )
    for hostile in ("https://evil.example/", "//evil.example/editor/", "/editor\\..", None, ""):
        assert safe_next(hostile) == "/editor/"
    assert safe_next("/editor/\r\nSet-Cookie: x") == "/editor/"


def test_an_account_name_is_one_printable_line() -> None:
    assert store_accounts.clean_name("  Ada\r\nBcc: x  ") == "Ada Bcc: x"
    assert store_accounts.clean_name("a" * 500) == "a" * 80


def post(**changes: object) -> SocialPost:
    values: dict[str, object] = {
        "digest_key": "weekly:2026-W48",
        "key": "item:1",
        "platform": "x",
        "text": "Title https://example.com #Tag",
        "url": "https://example.com",
        "hashtags": ("Tag",),
        "length": 40,
        "limit": 280,
    }
    values.update(changes)
    return SocialPost(**values)  # type: ignore[arg-type]


def test_post_warnings_say_what_would_go_wrong() -> None:
    assert post_warnings(post()) == ()
    assert post_warnings(post(length=290)) == ("10 over the limit of 280",)
    assert post_warnings(post(hashtags=())) == ("no hashtags: none fitted",)
    assert post_warnings(post(hashtags=(), reply_to="top")) == ()  # a thread's later part
    links = " ".join(f"https://example.com/{n}" for n in range(6))
    assert post_warnings(post(platform="threads", text=links, limit=500)) == (
        "more than 5 links: Threads refuses it",
    )
