"""`digest editor add|list|password|role|disable|enable|logout`: the desk's accounts, from the
command line (an admin can do the same on the desk's Accounts page).

A password is asked twice on a terminal, or read as one line from standard input (for scripts);
it is never printed, nor taken as an argument, where it would stay in the shell's history.
Every change is written to the audit log as done by "cli".
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from typing import Any

from digest.cli_support import Command, OpenContext, with_context
from digest.context import Context
from digest.errors import InputError, Problem
from digest.store import accounts, audit
from digest.store.accounts import AccountError, Role

ACTOR = "cli"


def add_editor_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], open_context: OpenContext
) -> None:
    editor = commands.add_parser("editor", help="accounts of the editor's desk (/editor/)")
    actions = editor.add_subparsers(dest="action", required=True)

    def handler(run: Command) -> Callable[[argparse.Namespace], int]:
        def account_command(ctx: Context, args: argparse.Namespace) -> int:
            try:
                return run(ctx, args)
            except AccountError as problem:
                raise InputError([Problem("", "", "account", str(problem))]) from None

        return with_context(open_context, account_command)

    roles = [role.value for role in Role]
    add = actions.add_parser("add", help="add an account (asks for its password)")
    add.add_argument("name", help="what they log in with, e.g. 'Ada Lovelace'")
    add.add_argument("email", help="their email address")
    add.add_argument(
        "--role", choices=roles, default=Role.EDITOR.value, help="what they may do (docs/editor.md)"
    )
    add.set_defaults(handler=handler(run_add))

    actions.add_parser("list", help="the accounts, their roles and last logins").set_defaults(
        handler=handler(run_list)
    )

    password = actions.add_parser("password", help="set a new password (ends their sessions)")
    password.add_argument("name", help="the account's name")
    password.set_defaults(handler=handler(run_password))

    role = actions.add_parser("role", help="change an account's role")
    role.add_argument("name", help="the account's name")
    role.add_argument("role", choices=roles, help="the new role")
    role.set_defaults(handler=handler(run_role))

    for verb, text in (
        ("disable", "disable an account (it cannot log in; its sessions end)"),
        ("enable", "enable a disabled account again"),
        ("logout", "end every session of an account, on every device"),
    ):
        command = actions.add_parser(verb, help=text)
        command.add_argument("name", help="the account's name")
        command.set_defaults(handler=handler(run_account_switch))


def ask_password() -> str:
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise AccountError("the two passwords differ; try again")
        return password
    return sys.stdin.readline().rstrip("\r\n")


def noted(ctx: Context, action: str, name: str, after: dict[str, Any]) -> None:
    audit.record(
        ctx.store.engine,
        at=ctx.clock(),
        actor=ACTOR,
        action=f"account.{action}",
        subject=f"account:{name}",
        after=after,
    )


def run_add(ctx: Context, args: argparse.Namespace) -> int:
    account = accounts.create_account(
        ctx.store.engine,
        name=args.name,
        email=args.email,
        role=Role(args.role),
        password=ask_password(),
        now=ctx.clock(),
    )
    noted(ctx, "add", account.name, {"role": account.role.value, "email": account.email})
    print(
        f"Added {account.name} <{account.email}> as {account.role.value}: they log in at /editor/."
    )
    return 0


def run_list(ctx: Context, args: argparse.Namespace) -> int:
    people = accounts.accounts(ctx.store.engine)
    if not people:
        print("No accounts yet: add one with `digest editor add NAME EMAIL --role admin`.")
        return 0
    zone = ctx.settings.site.zone
    for person in people:
        last = (
            person.last_login_at.astimezone(zone).strftime("last login %Y-%m-%d %H:%M")
            if person.last_login_at
            else "never logged in"
        )
        state = ", disabled" if person.disabled else ""
        print(f"{person.name} <{person.email}>: {person.role.value}{state}, {last}")
    return 0


def run_password(ctx: Context, args: argparse.Namespace) -> int:
    account = accounts.set_password(ctx.store.engine, args.name, ask_password(), ctx.clock())
    noted(ctx, "password", account.name, {"sessions": "all ended"})
    print(f"New password set for {account.name}; their sessions have ended.")
    return 0


def run_role(ctx: Context, args: argparse.Namespace) -> int:
    account = accounts.set_role(ctx.store.engine, args.name, Role(args.role))
    noted(ctx, "role", account.name, {"role": account.role.value})
    print(f"{account.name} is now {account.role.value}.")
    return 0


def run_account_switch(ctx: Context, args: argparse.Namespace) -> int:
    engine = ctx.store.engine
    if args.action == "logout":
        ended = accounts.end_sessions(engine, args.name)
        noted(ctx, "end-sessions", args.name, {"sessions_ended": ended})
        print(f"Ended {ended} session{'s' if ended != 1 else ''} of {args.name}.")
        return 0
    account = accounts.set_disabled(engine, args.name, args.action == "disable")
    noted(ctx, args.action, account.name, {"disabled": account.disabled})
    ended = "; their sessions have ended" if account.disabled else ""
    print(f"{account.name} is {args.action}d{ended}.")
    return 0
