"""A newcomer's first hour: the demo opens in the web app with one command, global options go
anywhere, every argument explains itself, and every summary is in words."""

from __future__ import annotations

import argparse
import email
import email.policy
import re
from pathlib import Path

import anyio
import httpx
import pytest
from starlette.applications import Starlette

from digest.cli import build_parser, main, open_demo_for_serving, print_demo_guide
from digest.web.app import create_app

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "digest" / "data" / "sample.yaml"


def every_parser(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in dict.fromkeys(action.choices.values()):
                found.extend(every_parser(command))
    return found


def test_every_argument_and_option_has_help_text() -> None:
    missing = [
        f"{parser.prog}: {action.dest}"
        for parser in every_parser(build_parser())
        for action in parser._actions
        if not isinstance(action, argparse._SubParsersAction) and not action.help
    ]
    assert missing == []


def test_global_options_work_after_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = f"sqlite:///{tmp_path / 'after.db'}"
    settings = str(REPO / "settings.yaml")
    assert main(["ingest", str(SAMPLE), "--settings", settings, "--database", database]) == 0
    assert (tmp_path / "after.db").exists()
    assert main(["--database", database, "status", "--week", "2026-W48", "-v"]) == 0
    out = capsys.readouterr().out
    assert "2026-W48: 15 digests" in out and "weekly:2026-W48" in out


def test_the_worker_says_when_nothing_was_due_and_summaries_are_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 0
    summary = capsys.readouterr().out
    assert re.search(r"delivered this run: \d+ sent\n", summary)
    assert "{" not in summary  # no Python dict anywhere in the summary
    database = f"sqlite:///{out / 'digest.db'}"
    caplog.set_level("INFO")
    assert main(["worker", "--once", "--database", database]) == 0
    assert "worker: nothing was due" in caplog.text


def test_the_served_demo_has_an_editor_login_and_opens_a_demo_emails_links(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 0
    capsys.readouterr()
    args = build_parser().parse_args(["serve", "--demo", str(out)])
    ctx = open_demo_for_serving(args, out)
    try:
        print_demo_guide(ctx, "http://127.0.0.1:8000")
        guide = capsys.readouterr().out
        token = re.search(r"this token as the password: (\S+)", guide)
        assert token is not None and "http://127.0.0.1:8000/editor/" in guide
        message = next((out / "outbox" / "email").glob("*.eml")).read_bytes()
        parsed = email.message_from_bytes(message, policy=email.policy.default)
        link = re.search(
            r"<(https://news\.example\.org/unsubscribe/[^>]+)>", parsed["List-Unsubscribe"]
        )
        assert link is not None  # the emails keep their https links
        path = link.group(1).removeprefix("https://news.example.org")
        unsubscribe, login = anyio.run(visit, create_app(ctx), path, token.group(1))
    finally:
        ctx.close()
    assert unsubscribe.status_code == 200 and "Unsubscribe" in unsubscribe.text
    assert login.status_code == 303 and login.headers["location"] == "/editor/"


async def visit(app: Starlette, path: str, token: str) -> tuple[httpx.Response, httpx.Response]:
    """The unsubscribe page of a demo email's link, and a login with the printed token."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        page = await client.get(path)
        form = await client.get("/editor/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert csrf is not None
        data = {"name": "Newcomer", "password": token, "csrf_token": csrf.group(1)}
        return page, await client.post("/editor/login", data=data)


def test_serving_a_demo_that_was_never_made_says_what_to_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--demo", str(tmp_path / "nothing")]) == 2
    assert "no demo store here: run `make demo` first" in capsys.readouterr().err
