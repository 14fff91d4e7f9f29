"""`digest subscribers import|export|list|add|remove|forget` on a real SQLite store (imports of
many batches on PostgreSQL too)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from digest.cli import main
from digest.context import utc_now
from digest.ingest import subscriber_spool
from digest.models import Preferences, SubscriberStatus
from digest.store import Store
from digest.store.ratelimits import DatabaseStorage
from digest.store.rows import email_hash

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "subscribers" / "sample.csv"
ITEMS = REPO / "digest" / "data" / "sample.yaml"


class Cli:
    """`digest` on a settings file and SQLite store of its own; each call's (code, out, err)."""

    def __init__(
        self, folder: Path, capsys: pytest.CaptureFixture[str], database: str | None = None
    ) -> None:
        shutil.copy(REPO / "settings.yaml", folder / "settings.yaml")
        self.settings = str(folder / "settings.yaml")
        self.database = database or f"sqlite:///{folder / 'digest.db'}"
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        code = main(["--settings", self.settings, "--database", self.database, *args])
        out, err = self.capsys.readouterr()
        return code, out, err

    def store(self) -> Store:
        return Store.open(self.database)


@pytest.fixture
def run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    """A store holding the sample's companies and topics, which subscribers may follow."""
    cli = Cli(tmp_path, capsys)
    assert cli("ingest", str(ITEMS))[0] == 0
    return cli


def test_a_misspelt_company_or_topic_is_refused_with_a_suggestion(run: Cli, tmp_path: Path) -> None:
    code, _, err = run("subscribers", "add", "x@example.com", "--companies", "nvidia;opnai")
    assert code == 2
    assert 'companies[1]: unknown company "opnai"; did you mean "openai"?' in err
    listed = tmp_path / "list.csv"
    listed.write_text(
        "id,email,companies,topics\n"
        "a1,a@example.com,openai,Geopolitics\n"
        "a2,b@example.com,,Chipz\n"
        "a3,c@example.com,,Saftey & Policy\n",
        encoding="utf-8",
    )
    code, _, err = run("subscribers", "import", str(listed))
    assert code == 2
    assert err.splitlines() == [
        f'{listed}:row 3: topics[0]: unknown topic "Chipz"; check the spelling, or declare it '
        "under digests.topics in settings.yaml",
        f'{listed}:row 4: topics[0]: unknown topic "Saftey & Policy"; '
        'did you mean "Safety & Policy"?',
    ]
    with run.store() as store:
        assert store.subscribers() == []


def test_a_topic_declared_in_the_settings_may_be_followed(run: Cli, tmp_path: Path) -> None:
    settings = Path(run.settings)
    settings.write_text(
        settings.read_text().replace("    declared:\n", "    declared:\n      - Chipz\n", 1)
    )
    code, _, err = run("subscribers", "add", "x@example.com", "--topics", "Chipz")
    assert code == 0, err


def test_before_any_ingest_nothing_can_be_followed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = Cli(tmp_path, capsys)(
        "subscribers", "add", "x@example.com", "--companies", "openai"
    )
    assert code == 2
    assert 'unknown company "openai"; no company is stored yet: run digest ingest' in err


def test_import_list_and_export(run: Cli, tmp_path: Path) -> None:
    code, out, _ = run("subscribers", "import", str(SAMPLE))
    assert code == 0 and out == "subscribers: 30 new, 0 updated\n"
    code, out, _ = run("subscribers", "list", "--status", "unsubscribed", "--status", "bounced")
    assert code == 0
    assert sorted(line.split("\t")[2] for line in out.splitlines()) == [
        "bounced",
        "unsubscribed",
        "unsubscribed",
    ]
    code, out, _ = run("subscribers", "export", str(tmp_path / "all.yaml"))
    assert code == 0
    code, out, _ = run("subscribers", "export", "-")
    assert out.splitlines()[0] == SAMPLE.read_text().splitlines()[0]
    # Importing the export again changes nobody.
    code, out, _ = run("subscribers", "import", str(tmp_path / "all.yaml"))
    assert code == 0 and out == "subscribers: 0 new, 30 updated\n"


def test_a_bad_list_names_each_bad_row_and_imports_nothing(run: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "id,email,send_hour,format\n"
        "a1,good@example.com,8,html\n"
        "a2,bad@@example.com,8,html\n"
        "a3,GOOD@example.com,25,pdf\n",
        encoding="utf-8",
    )
    code, _, err = run("subscribers", "import", str(bad))
    assert code == 2
    lines = err.splitlines()
    assert f'{bad}:row 3: email: "bad@@example.com" must have exactly one "@"' in lines[0]
    assert any(line.startswith(f"{bad}:row 4: send_hour:") for line in lines)
    assert any(line.startswith(f"{bad}:row 4: format:") for line in lines)
    with run.store() as store:
        assert store.subscribers() == []


def test_add_remove_and_forget(run: Cli) -> None:
    code, out, _ = run(
        "subscribers", "add", "Kim@Example.COM", "--name", "Kim", "--id", "k1",
        "--companies", "openai;mistral-ai", "--format", "text", "--timezone", "Asia/Seoul",
    )  # fmt: skip
    assert code == 0 and out == "added k1 <Kim@example.com> (active)\n"
    code, _, err = run("subscribers", "add", "kim@example.com")
    assert code == 2 and "already the address of subscriber k1" in err
    code, _, err = run("subscribers", "add", "x@example.com", "--timezone", "Mars/Base")
    assert code == 2 and '"Mars/Base" is not an IANA time zone' in err

    code, out, _ = run("subscribers", "remove", "KIM@example.com")
    assert code == 0 and out == "unsubscribed k1 <Kim@example.com>\n"
    with run.store() as store:
        kim = store.subscriber("k1")
        assert kim is not None and kim.status is SubscriberStatus.UNSUBSCRIBED
        assert kim.preferences.companies == ("openai", "mistral-ai")
    code, _, err = run("subscribers", "remove", "nobody@example.com")
    assert code == 2 and "no subscriber has this address or id" in err

    code, out, _ = run("subscribers", "forget", "kim@example.com")
    assert code == 0 and "deleted its subscriber" in out
    with run.store() as store:
        assert store.subscribers() == []
        assert store.suppression_reasons(["kim@example.com"]) == {"kim@example.com": "forgotten"}
    # The operator's own lists cannot bring the address back.
    code, _, err = run("subscribers", "add", "kim@example.com")
    assert code == 2 and "was forgotten at its owner's request" in err


def test_add_with_confirm_plans_the_confirmation(run: Cli) -> None:
    code, out, _ = run("subscribers", "add", "new@example.com", "--id", "n1", "--confirm")
    assert code == 0
    assert out == (
        "added n1 <new@example.com> (pending)\n"
        "confirmation email planned: `digest worker` delivers it\n"
    )
    with run.store() as store:
        assert store.subscriber_data("n1")["messages"][0]["kind"] == "confirmation"  # type: ignore[index]
    # An address that got one a moment ago (a sign-up on the web) gets no second.
    with run.store() as store:
        counter = DatabaseStorage(store.engine, utc_now)  # the clock the command runs on
        counter.incr(f"confirmation/{email_hash('again@example.com')}", 600)
    code, out, _ = run("subscribers", "add", "again@example.com", "--id", "n2", "--confirm")
    assert (code, out.splitlines()[-1]) == (
        0,
        "no confirmation email this time: one was planned for this address less than "
        "10 minutes ago",
    )


def test_a_reimport_keeps_what_subscribers_chose_unless_overwrite(run: Cli, tmp_path: Path) -> None:
    listed = tmp_path / "list.csv"
    listed.write_text(
        "id,email,companies\na1,ada@example.com,openai\nb1,bob@example.com,openai\n",
        encoding="utf-8",
    )
    assert run("subscribers", "import", str(listed))[:2] == (0, "subscribers: 2 new, 0 updated\n")
    theirs = Preferences(weekly=False, companies=("nvidia",))
    with run.store() as store:
        # After the import, as the preference form would: the subscriber's own choice.
        store.update_preferences("a1", theirs, "", utc_now(), by_subscriber=True)
    code, out, _ = run("subscribers", "import", str(listed))
    assert code == 0
    assert out == (
        "subscribers: 0 new, 2 updated\n"
        "kept 1 subscriber's own changes; --overwrite to replace them\n"
    )
    with run.store() as store:
        ada = store.subscriber("a1")
        assert ada is not None and ada.preferences == theirs
    code, out, _ = run("subscribers", "import", "--overwrite", str(listed))
    assert code == 0
    assert out == "subscribers: 0 new, 2 updated\noverwrote 1 subscriber's own changes\n"
    with run.store() as store:
        ada = store.subscriber("a1")
        assert ada is not None and ada.preferences.companies == ("openai",)


@pytest.fixture
def batched(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Cli:
    """An empty store on each backend, and imports written 3 subscribers a batch."""
    monkeypatch.setattr(subscriber_spool, "BATCH", 3)
    return Cli(tmp_path, capsys, database_url)


def a_list(path: Path, *emails: str) -> str:
    rows = "".join(f"a{n},{email}\n" for n, email in enumerate(emails))
    path.write_text("id,email\n" + rows, encoding="utf-8")
    return str(path)


def test_a_bad_last_row_refuses_the_file_and_writes_nothing(batched: Cli, tmp_path: Path) -> None:
    emails = [f"r{n}@example.com" for n in range(10)]
    listed = a_list(tmp_path / "list.csv", *emails, "last@@example.com")
    code, out, err = batched("subscribers", "import", listed)
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f'{listed}:row 12: email: "last@@example.com" must have exactly one "@"; '
        "write it as name@example.com"
    ]
    with batched.store() as store:
        assert store.subscribers() == []


def test_a_refused_address_in_the_last_batch_writes_nothing(batched: Cli, tmp_path: Path) -> None:
    assert batched("subscribers", "forget", "gone@example.com")[0] == 0
    emails = [f"r{n}@example.com" for n in range(10)]
    code, _, err = batched(
        "subscribers", "import", a_list(tmp_path / "list.csv", *emails, "gone@example.com")
    )
    assert code == 2
    assert "gone@example.com was forgotten at its owner's request; remove the row" in err
    with batched.store() as store:
        assert store.subscribers() == []


def test_an_import_of_many_batches_writes_every_one(batched: Cli, tmp_path: Path) -> None:
    first = a_list(tmp_path / "first.csv", "old@example.com")
    assert batched("subscribers", "import", first)[:2] == (0, "subscribers: 1 new, 0 updated\n")
    # a0 leaves old@ in the first batch, for a6 who takes it in the last (the check before
    # writing sees the whole import, not one batch).
    listed = tmp_path / "list.csv"
    rows = "".join(f"a{n},r{n}@example.com\n" for n in range(1, 6))
    listed.write_text(f"id,email\na0,new@example.com\n{rows}a6,old@example.com\n", encoding="utf-8")
    code, out, err = batched("subscribers", "import", str(listed))
    assert (code, out, err) == (0, "subscribers: 6 new, 1 updated\n", "")
    with batched.store() as store:
        by_id = {subscriber.id: subscriber.email for subscriber in store.subscribers()}
    assert by_id["a0"] == "new@example.com" and by_id["a6"] == "old@example.com"
    assert len(by_id) == 7
