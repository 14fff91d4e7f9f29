"""`digest api-token create|list|revoke`: a token shown once, stored hashed, revoked at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_subscribers_cli import Cli

from digest.store import api_tokens
from digest.store.audit import entries_for


@pytest.fixture
def run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(tmp_path, capsys)


def test_a_token_is_shown_once_listed_without_it_and_revoked(run: Cli) -> None:
    code, out, err = run("api-token", "create", "cms", "--scope", "items:write,subscribers:read")
    assert code == 0, err
    token = out.strip()
    assert token.startswith("dgst_") and len(token) > 40
    assert "not shown again" in err
    with run.store() as store:
        found = api_tokens.authenticate(
            store.engine, token, api_tokens.tokens(store.engine)[0].created_at
        )
        assert found is not None and found.scopes == ("items:write", "subscribers:read")
    code, out, _ = run("api-token", "list")
    assert code == 0 and out.startswith("cms\tdgst_") and token not in out and "live" in out
    code, out, _ = run("api-token", "revoke", "cms")
    assert code == 0 and "revoked cms" in out
    code, out, _ = run("api-token", "list")
    assert "revoked" in out
    with run.store() as store:
        found = api_tokens.authenticate(
            store.engine, token, api_tokens.tokens(store.engine)[0].created_at
        )
        assert found is not None and found.revoked
        actions = [entry.action for entry in entries_for(store.engine, "token:cms")]
    assert actions == ["api-token.revoke", "api-token.create"]
    # A revoked name may be used again, for a new token.
    code, out, _ = run("api-token", "create", "cms", "--scope", "items:read")
    assert code == 0 and out.strip() != token


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("create", "cms", "--scope", "items:wrte"), "did you mean items:write?"),
        (("create", "cms", "--scope", ","), "give at least one scope"),
        (("create", "Bad Name", "--scope", "items:read"), "lower-case letters"),
        (("revoke", "nobody"), "no live token has this name"),
    ],
)
def test_a_mistake_is_exit_2_with_what_to_do(run: Cli, args: tuple[str, ...], words: str) -> None:
    code, _, err = run("api-token", *args)
    assert code == 2 and words in err


def test_a_live_name_cannot_be_taken_twice(run: Cli) -> None:
    assert run("api-token", "create", "cms", "--scope", "items:read")[0] == 0
    code, _, err = run("api-token", "create", "cms", "--scope", "items:read")
    assert code == 2 and "revoke it first" in err
