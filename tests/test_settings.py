"""settings.yaml: every way it can be wrong is named by its key path, and secrets never print."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from digest.delivery.email import email_adapter
from digest.delivery.social import social_adapters
from digest.errors import ConfigError
from digest.settings import Secret, load_settings, parse_settings

REPO = Path(__file__).resolve().parent.parent


def base() -> dict[str, Any]:
    return yaml.safe_load((REPO / "settings.yaml").read_text())


def problems_of(raw: Any, monkeypatch: pytest.MonkeyPatch | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_settings(raw, where="settings.yaml", root=REPO)
    return [str(problem) for problem in caught.value.problems]


def test_the_shipped_settings_are_valid() -> None:
    settings = load_settings(REPO / "settings.yaml")
    assert settings.site.timezone == "Europe/Paris"
    assert [channel.platform for channel in settings.social] == [
        "x",
        "mastodon",
        "bluesky",
        "linkedin",
        "threads",
    ]
    assert settings.root == REPO


def edit(path: str, value: Any) -> dict[str, Any]:
    raw = base()
    *parents, last = path.split(".")
    node = raw
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return raw


DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("email.tpye", "smtp", "settings.yaml: email.tpye: unknown key, did you mean type?"),
        (
            "email.prot",
            25,
            "settings.yaml: email.prot: unknown key; known keys: type, options, rate, "
            "max_consecutive_failures, batch, lease_seconds, unknown_outcome, dkim",
        ),
        (
            "email.unknown_outcome",
            {"retries": 9},
            "settings.yaml: email.unknown_outcome.retries: must be from 0 to 5",
        ),
        ("site.timezon", "UTC", "settings.yaml: site.timezon: unknown key, did you mean timezone?"),
        (
            "web.editor.password_hash",
            "scrypt:…",
            "settings.yaml: web.editor.password_hash: no longer a setting: editors log in with "
            "their own accounts; make one with `digest editor add NAME EMAIL --role admin`; "
            "delete the key",
        ),
        ("site.name", DELETE, "settings.yaml: site.name: required; add it"),
        ("version", 2, "settings.yaml: version: must be 1; add 'version: 1'"),
        ("site.name", 42, "settings.yaml: site.name: must be str, got int 42"),
        (
            "digests.weekly.top",
            "ten",
            "settings.yaml: digests.weekly.top: must be int, got str 'ten'",
        ),
        (
            "digests.weekly.top",
            True,
            "settings.yaml: digests.weekly.top: must be int, got bool True",
        ),
        ("digests.weekly.top", 0, "settings.yaml: digests.weekly.top: must be from 1 to 100"),
        (
            "digests.weekly.require_approval",
            "yes please",
            "settings.yaml: digests.weekly.require_approval: must be bool, got str 'yes please'",
        ),
        ("digests", [1], "settings.yaml: digests: must be a mapping, got list"),
        ("social", {"name": "x"}, "settings.yaml: social: must be a list, got dict"),
        (
            "site.timezone",
            "Mars/Olympus",
            "settings.yaml: site.timezone: unknown time zone 'Mars/Olympus'; use an IANA name",
        ),
        (
            "site.base_url",
            "ftp://example.org",
            "settings.yaml: site.base_url: 'ftp://example.org' is not an http(s) URL",
        ),
        (
            "site.list_id",
            "weekly list",
            "settings.yaml: site.list_id: use letters, digits, dots and hyphens only",
        ),
        (
            "site.from_address",
            "nobody",
            "settings.yaml: site.from_address: write it as 'Name <address@domain>'",
        ),
        (
            "schedules.weekly",
            {"cron": "every monday"},
            "settings.yaml: schedules.weekly.cron: Wrong number of fields; got 2, expected 5; "
            "write five fields like '0 7 * * mon'",
        ),
        (
            "social.1.name",
            "x",
            "settings.yaml: social: channel names must be unique: ['x']",
        ),
        ("social.0.nmae", "x", "settings.yaml: social[0].nmae: unknown key, did you mean name?"),
    ],
)
def test_each_problem_names_its_key_path(path: str, value: Any, expected: str) -> None:
    assert expected in problems_of(edit(path, value))


def test_every_problem_is_reported_at_once() -> None:
    raw = edit("email.prot", 25)
    raw["site"]["timezone"] = "Nowhere/Town"
    assert len(problems_of(raw)) == 2


def test_environment_variables_are_interpolated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_TEST_SECRET", "a-long-enough-secret-from-env")
    raw = edit("site.secret_key", "${DIGEST_TEST_SECRET}")
    settings = parse_settings(raw, where="settings.yaml", root=REPO)
    assert settings.site.secret_key == Secret("a-long-enough-secret-from-env")


def test_a_missing_environment_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DIGEST_TEST_MISSING", raising=False)
    problems = problems_of(edit("site.secret_key", "${DIGEST_TEST_MISSING}"))
    assert (
        "settings.yaml: site.secret_key: environment variable DIGEST_TEST_MISSING is not set; "
        "export it"
    ) in problems


def test_a_secret_never_appears_in_errors_or_reprs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_TEST_SECRET", "shortpw")
    problems = problems_of(edit("site.secret_key", "${DIGEST_TEST_SECRET}"))
    assert (
        "settings.yaml: site.secret_key: too short: use at least 16 random characters" in problems
    )
    assert not any("shortpw" in problem for problem in problems)
    monkeypatch.setenv("DIGEST_TEST_SECRET", "postgresql://u:hunter2-hunter2@db/x")
    settings = parse_settings(
        edit("database.url", "${DIGEST_TEST_SECRET}"), where="settings.yaml", root=REPO
    )
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.database.url)


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text("version: 1\nsite:\n  name: [unclosed\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert str(caught.value).startswith(f"{path}:line ")
    assert "not valid YAML" in str(caught.value)


def test_a_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file; pass --settings PATH or create it"):
        load_settings(tmp_path / "nope.yaml")


def test_relative_paths_start_from_the_settings_folder(tmp_path: Path) -> None:
    settings = parse_settings(edit("database.url", "sqlite:///digest.db"), where="x", root=tmp_path)
    assert settings.resolve("outbox/email") == tmp_path / "outbox" / "email"
    assert settings.database_url() == f"sqlite:///{tmp_path}/digest.db"


def test_an_unknown_adapter_type_lists_the_known_ones() -> None:
    settings = parse_settings(
        edit("email.type", "carrier-pigeon"), where="settings.yaml", root=REPO
    )
    with pytest.raises(ConfigError, match=r"email\.type: unknown adapter 'carrier-pigeon'; choose"):
        email_adapter(settings)


def test_adapter_options_are_validated_with_their_path() -> None:
    settings = parse_settings(
        edit("email.options", {"directroy": "x"}), where="settings.yaml", root=REPO
    )
    with pytest.raises(ConfigError) as caught:
        email_adapter(settings)
    assert str(caught.value) == (
        "settings.yaml: email.options.directroy: unknown key, did you mean directory?"
    )
    settings = parse_settings(
        edit("social.2.platform", "myspace"), where="settings.yaml", root=REPO
    )
    with pytest.raises(ConfigError, match=r"social\[2\].platform: choose one of bluesky"):
        social_adapters(settings)


def test_settings_remember_which_secrets_fell_back_to_their_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DIGEST_SECRET_KEY", raising=False)
    assert "site.secret_key" in parse_settings(base(), where="s", root=REPO).defaulted
    monkeypatch.setenv("DIGEST_SECRET_KEY", "a-real-secret-from-the-environment")
    assert "site.secret_key" not in parse_settings(base(), where="s", root=REPO).defaulted
