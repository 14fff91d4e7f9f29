"""`digest api-token create NAME --scope … | list | revoke NAME`: tokens for the JSON API.

A token is printed once, when made; the store keeps only its SHA-256. Revoking is at once:
the next request with it answers 401. Each change is in the audit log, by "cli".
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from digest.cli_support import Command, OpenContext, with_context
from digest.context import Context
from digest.errors import InputError, Problem
from digest.store import api_tokens, audit


def add_api_token_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], open_context: OpenContext
) -> None:
    tokens = commands.add_parser("api-token", help="tokens for the JSON API (/api/v1)")
    actions = tokens.add_subparsers(dest="action", required=True)

    def handler(run: Command) -> Callable[[argparse.Namespace], int]:
        return with_context(open_context, run)

    create = actions.add_parser("create", help="make a token; it is shown only once")
    create.add_argument("name", help="who uses it, like cms or crm-sync")
    create.add_argument(
        "--scope",
        required=True,
        help=f"what it may do, comma-separated: {','.join(api_tokens.SCOPES)}",
    )
    create.set_defaults(handler=handler(run_create))
    listing = actions.add_parser("list", help="the tokens, their scopes and last use")
    listing.set_defaults(handler=handler(run_list))
    revoke = actions.add_parser("revoke", help="revoke a token at once")
    revoke.add_argument("name", help="the token's name, from `digest api-token list`")
    revoke.set_defaults(handler=handler(run_revoke))


def run_create(ctx: Context, args: argparse.Namespace) -> int:
    scopes = tuple(part.strip() for part in args.scope.split(",") if part.strip())
    problems = []
    if problem := api_tokens.name_problem(args.name):
        problems.append(Problem("command line", args.name, "name", problem))
    if problem := api_tokens.scopes_problem(scopes):
        problems.append(Problem("command line", args.name, "--scope", problem))
    if problems:
        raise InputError(problems)
    now = ctx.clock()
    try:
        token = api_tokens.create(ctx.store.engine, args.name, scopes, now)
    except ValueError as error:
        raise InputError([Problem("command line", args.name, "name", str(error))]) from None
    audit.record(
        ctx.store.engine,
        at=now,
        actor="cli",
        action="api-token.create",
        subject=f"token:{args.name}",
        after={"scopes": list(scopes)},
    )
    print(token)
    print(
        f"token {args.name} ({', '.join(scopes)}): copy it now, it is not shown again. "
        "Send it as `Authorization: Bearer <token>`.",
        file=sys.stderr,
    )
    return 0


def run_list(ctx: Context, args: argparse.Namespace) -> int:
    found = api_tokens.tokens(ctx.store.engine)
    for token in found:
        used = f"last used {token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "unused"
        state = f"revoked {token.revoked_at:%Y-%m-%d %H:%M}" if token.revoked_at else "live"
        print(f"{token.name}\t{token.prefix}…\t{','.join(token.scopes)}\t{state}\t{used}")
    if not found:
        print("no API tokens; make one with `digest api-token create NAME --scope …`")
    return 0


def run_revoke(ctx: Context, args: argparse.Namespace) -> int:
    now = ctx.clock()
    if not api_tokens.revoke(ctx.store.engine, args.name, now):
        message = "no live token has this name; `digest api-token list` shows them"
        raise InputError([Problem("command line", args.name, "name", message)])
    subject = f"token:{args.name}"
    audit.record(ctx.store.engine, at=now, actor="cli", action="api-token.revoke", subject=subject)
    print(f"revoked {args.name}: requests with it now answer 401")
    return 0
