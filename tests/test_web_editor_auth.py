"""The editor's credentials: scrypt hashes in a self-describing string, the command that makes
one, the settings that read them, and where a login may send the browser afterwards."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml

from digest.cli import main
from digest.errors import ConfigError
from digest.passwords import BadHash, hash_password, verify_password
from digest.render.social import SocialPost
from digest.settings import Settings, parse_settings
from digest.web.editor.auth import check_credentials, clean_name, safe_next
from digest.web.editor.previews import post_warnings

REPO = Path(__file__).resolve().parent.parent


def test_a_password_hash_names_its_cost_and_verifies_only_its_password() -> None:
    stored = hash_password("a long editor password", log2_n=14)
    assert stored.startswith("$scrypt$ln=14,r=8,p=1$")
    assert verify_password("a long editor password", stored)
    assert not verify_password("a long editor passworD", stored)
    # The same password hashes differently each time (a fresh salt).
    assert hash_password("a long editor password", log2_n=14) != stored
    with pytest.raises(BadHash):
        verify_password("x", "plain-text-password")
    with pytest.raises(BadHash):
        verify_password("x", stored.replace("ln=14", "ln=30"))  # a cost meant to stall us


def test_hash_password_command_prints_a_hash_that_verifies(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("typed by a script\n"))
    assert main(["editor", "hash-password"]) == 0
    printed = capsys.readouterr().out.strip()
    assert verify_password("typed by a script", printed)
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["editor", "hash-password"]) == 2
    assert "too short" in capsys.readouterr().err


def settings_with_editor(tmp_path: Path, editor: dict[str, object]) -> Settings:
    raw = yaml.safe_load((REPO / "settings.yaml").read_text())
    raw["web"]["editor"] = editor
    return parse_settings(raw, where="settings.yaml", root=tmp_path)


def test_settings_take_a_hash_or_a_token_and_refuse_a_plain_password(tmp_path: Path) -> None:
    stored = hash_password("editor password", log2_n=12)
    settings = settings_with_editor(tmp_path, {"password_hash": stored})
    assert settings.web.editor.enabled
    assert "scrypt" not in repr(settings.web.editor)  # a Secret never prints
    assert check_credentials(settings.web.editor, "editor password")
    assert not check_credentials(settings.web.editor, "")
    with pytest.raises(ConfigError) as error:
        settings_with_editor(tmp_path, {"password_hash": "hunter2", "token": "short"})
    message = str(error.value)
    assert "web.editor.password_hash: not a hash" in message
    assert "web.editor.token: too short" in message
    assert "hunter2" not in message
    token = settings_with_editor(tmp_path, {"token": "x" * 32}).web.editor
    assert check_credentials(token, "x" * 32) and not check_credentials(token, "x" * 31)


def test_after_login_only_a_path_inside_the_editor_is_followed() -> None:
    assert safe_next("/editor/digest/weekly:2026-W48?width=375") == (
        "/editor/digest/weekly:2026-W48?width=375"
    )
    for hostile in ("https://evil.example/", "//evil.example/editor/", "/editor\\..", None, ""):
        assert safe_next(hostile) == "/editor/"
    assert safe_next("/editor/\r\nSet-Cookie: x") == "/editor/"


def test_an_editors_name_is_one_printable_line() -> None:
    assert clean_name("  Ada\r\nBcc: x  ") == "Ada Bcc: x"
    assert clean_name("a" * 500) == "a" * 80


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
    assert post_warnings(post(length=290)) == ("10 over the limit: the platform will refuse it",)
    assert post_warnings(post(hashtags=())) == ("no hashtags: none fitted",)
    assert post_warnings(post(hashtags=(), reply_to="top")) == ()  # a thread's later part
    links = " ".join(f"https://example.com/{n}" for n in range(6))
    assert post_warnings(post(platform="threads", text=links, limit=500)) == (
        "more than 5 links: Threads refuses it",
    )
