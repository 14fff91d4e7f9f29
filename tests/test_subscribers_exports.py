"""Other services' exports imported as they come (issue 12 item 7): Mailchimp's three audience
files, Substack's and Buttondown's subscriber lists, in tests/data/exports/ with the columns
those services document. Their statuses and consent times are kept; whoever left or bounced
lands on the suppression list and never becomes active."""

# Exact problem lines read best one to a line.
# ruff: noqa: E501

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.cli import main
from digest.errors import InputError
from digest.ingest.exports import address_id
from digest.ingest.subscribers import SubscriberList, read_import
from digest.models import Consent, Subscriber, SubscriberStatus
from digest.names import person_name
from digest.store import Store

REPO = Path(__file__).resolve().parent.parent
EXPORTS = REPO / "tests" / "data" / "exports"
MAILCHIMP = [
    str(EXPORTS / f"mailchimp_{part}.csv") for part in ("subscribed", "unsubscribed", "cleaned")
]
SUBSTACK = str(EXPORTS / "substack.csv")
BUTTONDOWN = str(EXPORTS / "buttondown.csv")
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def problems_of(*paths: str, source: str | None = None) -> list[str]:
    with pytest.raises(InputError) as raised:
        read_import(paths, source=source)
    return [str(problem) for problem in raised.value.problems]


def test_mailchimp_audience_files_keep_names_status_and_consent() -> None:
    read = read_import(MAILCHIMP)
    by_email = {subscriber.email: subscriber for subscriber in read.subscribers}
    assert by_email["ada@example.com"] == Subscriber(
        id=address_id("ada@example.com"),
        email="ada@example.com",
        name="Ada Lovelace",
        given_name="Ada",
        family_name="Lovelace",
        timezone="Europe/London",
    )
    jose = by_email["jose@xn--bcher-kva.de"]
    assert (jose.given_name, jose.family_name) == ("José María", "Núñez, hijo")
    assert jose.status is SubscriberStatus.ACTIVE and jose.timezone == "America/Mexico_City"
    assert by_email["bob@example.com"].status is SubscriberStatus.UNSUBSCRIBED
    assert by_email["gone@example.org"].status is SubscriberStatus.BOUNCED  # cleaned
    assert read.consents[address_id("ada@example.com")] == Consent(
        opted_in_at=at("2024-03-14T09:12:31+00:00"), confirmed_at=at("2024-03-14T09:14:00+00:00")
    )
    assert read.consents[address_id("bob@example.com")].unsubscribed_at == at(
        "2024-06-30T08:15:00+00:00"
    )


def test_substack_readers_who_turned_emails_off_are_unsubscribed() -> None:
    read = read_import([SUBSTACK])
    statuses = {subscriber.email: subscriber.status for subscriber in read.subscribers}
    assert statuses == {
        "ada@example.com": SubscriberStatus.ACTIVE,
        "zoe@xn--bcher-kva.de": SubscriberStatus.ACTIVE,
        "left@example.net": SubscriberStatus.UNSUBSCRIBED,
    }
    assert read.consents[address_id("zoe@bücher.de")] == Consent(
        opted_in_at=at("2025-12-19T08:03:04.977+00:00")
    )


def test_buttondown_types_map_to_statuses_and_never_to_active_when_not_subscribed() -> None:
    read = read_import([BUTTONDOWN])
    statuses = {subscriber.email: subscriber.status for subscriber in read.subscribers}
    assert statuses == {
        "ada@example.com": SubscriberStatus.ACTIVE,
        "new@xn--bcher-kva.de": SubscriberStatus.PENDING,  # unactivated: never confirmed
        "quit@example.net": SubscriberStatus.UNSUBSCRIBED,
        "spam@example.net": SubscriberStatus.UNSUBSCRIBED,
    }
    # Its own ids are Buttondown's: the address decides, as for every service.
    assert {subscriber.id for subscriber in read.subscribers} == {
        address_id(email) for email in statuses
    }
    assert read.consents[address_id("new@bücher.de")].opted_in_at == at("2025-01-05T08:00:00+00:00")


def test_a_bad_row_refuses_the_whole_export_naming_its_column(tmp_path: Path) -> None:
    export = tmp_path / "members.csv"
    text = Path(MAILCHIMP[0]).read_text(encoding="utf-8")
    text += "not-an-address,Al,,,2,yesterday,,,,,,,,Mars/Base,,,,1,2,,\n"
    export.write_text(text, encoding="utf-8")
    assert problems_of(str(export)) == [
        f'{export}:row 4: OPTIN_TIME: "yesterday" is not a date and time; write it as 2026-11-30 09:00:00',
        f'{export}:row 4: Email Address: "not-an-address" must have exactly one "@"; write it as name@example.com',
        f'{export}:row 4: TIMEZONE: "Mars/Base" is not an IANA time zone, e.g. Europe/Paris',
    ]
    twice = tmp_path / "substack.csv"
    twice.write_text(
        "email,email_disabled\na@example.com,false\nA@example.com,true\n", encoding="utf-8"
    )
    assert problems_of(str(twice)) == [
        f'{twice}:row 3: email: "A@example.com" is already at row 2; keep one row per address'
    ]
    buttondown = tmp_path / "buttondown.csv"
    buttondown.write_text(
        "email,creation_date,subscriber_type\na@example.com,2024-01-01T00:00:00Z,vip\n",
        encoding="utf-8",
    )
    (problem,) = problems_of(str(buttondown))
    assert problem.startswith(
        f'{buttondown}:row 2: subscriber_type: "vip" is not a Buttondown subscriber type; (regular,'
    )


def test_a_header_of_no_known_format_asks_for_from(tmp_path: Path) -> None:
    unknown = tmp_path / "people.csv"
    unknown.write_text("Mail,Full name\na@example.com,Al\n", encoding="utf-8")
    (problem,) = problems_of(str(unknown))
    assert problem.startswith(f"{unknown}:row 1: cannot tell the list's format from its header")
    assert problem.endswith("or pass --from mailchimp|substack|buttondown")
    # Told the service, a file without its address column says so.
    assert problems_of(str(unknown), source="substack") == [
        f"{unknown}:row 1: email: missing column; a Substack export has it (is this one?)"
    ]
    # Told the service, its marks are not needed: the address column is enough.
    plain = tmp_path / "plain.csv"
    plain.write_text('"Email Address","First Name"\nal@example.com,Al\n', encoding="utf-8")
    (subscriber,) = read_import([str(plain)], source="mailchimp").subscribers
    assert (subscriber.email, subscriber.given_name) == ("al@example.com", "Al")


def test_left_and_cleaned_addresses_are_suppressed_and_reimports_update(store: Store) -> None:
    read = read_import(MAILCHIMP)
    counts = store.save_subscribers(read.subscribers, NOW, consents=read.consents)
    assert (counts.inserted, counts.updated) == (4, 0)
    assert store.suppression_reasons(
        ["bob@example.com", "gone@example.org", "ada@example.com"]
    ) == {
        "bob@example.com": "unsubscribed",
        "gone@example.org": "bounced",
    }
    active = {subscriber.email for subscriber in store.subscribers([SubscriberStatus.ACTIVE])}
    assert active == {"ada@example.com", "jose@xn--bcher-kva.de"}
    data = store.subscriber_data(address_id("bob@example.com"))
    assert data is not None
    assert data["subscriber"]["opted_in_at"] == "2023-01-02T10:00:00+00:00"
    assert data["subscriber"]["confirmed_at"] == "2023-01-02T10:01:00+00:00"
    assert data["subscriber"]["unsubscribed_at"] == "2024-06-30T08:15:00+00:00"
    # The same files again, and the same people from Substack: updated, never added twice.
    assert store.save_subscribers(read.subscribers, NOW, consents=read.consents).inserted == 0
    substack = read_import([SUBSTACK])
    counts = store.save_subscribers(substack.subscribers, NOW, consents=substack.consents)
    assert (counts.inserted, counts.updated) == (2, 1)
    ada = store.subscriber(address_id("ada@example.com"))
    assert ada is not None and ada.given_name == "" and ada.status is SubscriberStatus.ACTIVE
    # Mailchimp's confirmation stays: Substack's list does not say when she confirmed.
    data = store.subscriber_data(address_id("ada@example.com"))
    assert data is not None
    assert data["subscriber"]["confirmed_at"] == "2024-03-14T09:14:00+00:00"
    assert data["subscriber"]["opted_in_at"] == "2025-08-27T15:06:27.713000+00:00"


def test_someone_already_subscribed_here_is_updated_under_their_id(store: Store) -> None:
    signed_up, _ = store.request_subscription(
        email="ADA@example.com", name=person_name(""), new_id="web-1", timezone="", now=NOW
    )
    assert signed_up is not None
    store.confirm_subscriber("web-1", NOW)
    read = read_import(MAILCHIMP)
    read = read.known_as(store.subscriber_ids(read.exported()))
    counts = store.save_subscribers(read.subscribers, NOW, consents=read.consents)
    assert (counts.inserted, counts.updated) == (3, 1)
    ada = store.subscriber("web-1")
    assert ada is not None and (ada.given_name, ada.timezone) == ("Ada", "Europe/London")
    data = store.subscriber_data("web-1")
    assert data is not None and data["subscriber"]["opted_in_at"] == "2024-03-14T09:12:31+00:00"
    # A list of digest's own format names its ids: the same address under another is refused.
    native = Subscriber(id="s9", email="ada@example.com", name="Ada")
    with pytest.raises(InputError, match="already the address of subscriber web-1"):
        store.save_subscribers(
            SubscriberList((native,), {}).known_as({"ada@example.com": "web-1"}).subscribers, NOW
        )


def test_an_export_cannot_make_a_suppressed_address_active_again(store: Store) -> None:
    read = read_import(MAILCHIMP)
    store.save_subscribers(read.subscribers, NOW, consents=read.consents)
    back = Subscriber(id=address_id("bob@example.com"), email="bob@example.com", name="Bob")
    with pytest.raises(InputError, match="is on the suppression list"):
        store.save_subscribers([back], NOW)


def test_the_command_imports_each_service_and_refuses_a_wrong_from(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(REPO / "settings.yaml", tmp_path / "settings.yaml")
    base = ["--settings", str(tmp_path / "settings.yaml")]
    base += ["--database", f"sqlite:///{tmp_path / 'digest.db'}"]
    assert main([*base, "subscribers", "add", "Ada@example.com", "--id", "k1"]) == 0
    capsys.readouterr()
    assert main([*base, "subscribers", "import", *MAILCHIMP]) == 0
    assert capsys.readouterr().out == "subscribers: 3 new, 1 updated\n"  # Ada is k1
    assert main([*base, "subscribers", "import", "--from", "buttondown", BUTTONDOWN]) == 0
    assert capsys.readouterr().out == "subscribers: 3 new, 1 updated\n"
    assert main([*base, "subscribers", "import", "--from", "substack", MAILCHIMP[0]]) == 2
    assert "email: missing column; a Substack export has it" in capsys.readouterr().err
    assert main([*base, "subscribers", "list", "--status", "active"]) == 0
    listed = sorted(tuple(line.split("\t")[:2]) for line in capsys.readouterr().out.splitlines())
    assert listed == [
        ("k1", "ada@example.com"),
        (address_id("jose@bücher.de"), "jose@xn--bcher-kva.de"),
    ]
