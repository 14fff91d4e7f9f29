"""Databases that cannot be used: clear errors, passwords masked."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.errors import ConfigError, ServiceError
from digest.store import Store


def test_unreachable_postgresql_is_a_service_error_with_the_password_masked() -> None:
    url = "postgresql+psycopg://digest:s3cret-pw@127.0.0.1:1/news"
    with pytest.raises(ServiceError) as caught:
        Store.open(url)
    message = str(caught.value)
    assert "postgresql+psycopg://digest:***@127.0.0.1:1/news" in message
    assert "s3cret" not in message
    assert "check that the PostgreSQL server is running" in message
    assert caught.value.exit_code == 3


def test_sqlite_in_a_missing_folder_is_a_service_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing' / 'digest.db'}"
    with pytest.raises(ServiceError, match="folder exists"):
        Store.open(url)


def test_a_file_that_is_not_a_database_is_a_service_error(tmp_path: Path) -> None:
    path = tmp_path / "digest.db"
    path.write_text("not a database " * 100)
    with pytest.raises(ServiceError, match="SQLite database"):
        Store.open(f"sqlite:///{path}")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a url", "not a database URL"),
        ("mysql://user:hunter2@localhost/db", "user:***@localhost"),
        ("postgresql+nosuchdriver://user:hunter2@localhost/db", "no driver"),
    ],
)
def test_a_url_that_is_not_usable_is_a_config_error(url: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Store.open(url)
    message = str(caught.value)
    assert expected in message
    assert "hunter2" not in message
    assert "database.url" in message
