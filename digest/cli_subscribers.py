"""`digest subscribers import|export|list|add|remove|forget`: thin calls into ingest and store.

- import: CSV and YAML lists, and Mailchimp, Substack and Buttondown exports as they come
  (`digest.ingest.exports`), all validated first (every bad row named), then written in one
  transaction, or nothing is; the files are read as streams and the valid subscribers wait on
  disk, so a million rows fit in a few hundred MB; an address on the suppression list is
  refused (see `digest.store.subscriptions`), and one that left, bounced or complained goes on
  it.
  Preferences a subscriber changed on the web since the last import stay theirs unless
  `--overwrite` is given; the summary says how many were kept or overwritten.
- export: the same formats, so an export imports back as it was.
- add: one subscriber from the command line, validated like a row of a list; `--confirm` makes
  them pending and plans the double opt-in message for `digest worker` to deliver.
- remove: unsubscribes (the record stays, the address is suppressed), as their own one-click
  unsubscribe would.
- forget: deletes the subscriber and every record of messages to them; only the hash of the
  address stays, on the suppression list.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from collections.abc import Callable, Sequence

from digest.cli_support import Command, OpenContext, with_context
from digest.context import Context
from digest.errors import InputError, Problem
from digest.ingest.exports import SERVICES
from digest.ingest.fields import Loc
from digest.ingest.subscribers import (
    FORMATS,
    STATUSES,
    check_import,
    subscriber_from,
    subscribers_csv,
    write_subscribers,
)
from digest.models import Subscriber, SubscriberStatus
from digest.schedule.confirmations import CONFIRMATION_GAP, plan_confirmation
from digest.schedule.ingest import followable


def add_subscriber_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], open_context: OpenContext
) -> None:
    subscribers = commands.add_parser("subscribers", help="manage subscribers")
    actions = subscribers.add_subparsers(dest="action", required=True)

    def handler(run: Command) -> Callable[[argparse.Namespace], int]:
        return with_context(open_context, run)

    importing = actions.add_parser("import", help="import CSV or YAML lists (all or nothing)")
    importing.add_argument(
        "paths", nargs="+", metavar="FILE", help="CSV or YAML lists, or other services' exports"
    )
    importing.add_argument(
        "--from",
        dest="source",
        choices=sorted(SERVICES),
        help="read every FILE as this service's CSV export (default: told by each header)",
    )
    importing.add_argument(
        "--overwrite",
        action="store_true",
        help="replace preferences that subscribers changed themselves since the last import",
    )
    importing.set_defaults(handler=handler(run_import))

    export = actions.add_parser("export", help="write subscribers to a CSV or YAML file")
    export.add_argument(
        "path", metavar="FILE", help="a .csv, .yaml or .yml file; - for CSV on stdout"
    )
    export.add_argument("--status", choices=STATUSES, action="append", help="only these (repeat)")
    export.set_defaults(handler=handler(run_export))

    listing = actions.add_parser("list", help="list subscribers")
    listing.add_argument("--status", choices=STATUSES, action="append", help="only these (repeat)")
    listing.set_defaults(handler=handler(run_list))

    add = actions.add_parser("add", help="add one subscriber")
    add.add_argument("email", help="their address")
    add.add_argument(
        "--name", default="", help="their whole name (split only where that is unambiguous)"
    )
    add.add_argument("--given-name", default="", help="the name greetings use")
    add.add_argument("--family-name", default="", help="their family name")
    add.add_argument("--id", help="their id (default: a new random one)")
    add.add_argument("--timezone", help="IANA time zone (default: the site's)")
    add.add_argument("--companies", default="", help="company slugs to follow, ;-separated")
    add.add_argument("--topics", default="", help="weekly topics, ;-separated (default: all)")
    add.add_argument("--no-weekly", action="store_true", help="no weekly digest")
    add.add_argument(
        "--send-hour", type=int, help="local hour, 0-23 (default: the site's, site.send_hour)"
    )
    add.add_argument(
        "--format", choices=FORMATS, default="html", help="html (with a text part) or text only"
    )
    add.add_argument(
        "--confirm",
        action="store_true",
        help="add as pending and plan the confirmation email (double opt-in)",
    )
    add.set_defaults(handler=handler(run_add))

    remove = actions.add_parser("remove", help="unsubscribe subscribers (by address or id)")
    remove.add_argument("who", nargs="+", metavar="EMAIL_OR_ID", help="addresses or subscriber ids")
    remove.set_defaults(handler=handler(run_remove))

    forget = actions.add_parser(
        "forget", help="delete everything about an address; keep only its hash, suppressed"
    )
    forget.add_argument("emails", nargs="+", metavar="EMAIL", help="addresses to forget")
    forget.set_defaults(handler=handler(run_forget))


def run_import(ctx: Context, args: argparse.Namespace) -> int:
    with check_import(args.paths, followable(ctx), args.source) as checked:
        counts = ctx.store.import_subscribers(
            lambda: (
                (batch.subscribers, batch.consents)
                for batch in checked.batches(ctx.store.subscriber_ids)
            ),
            ctx.clock(),
            overwrite=args.overwrite,
        )
    print(f"subscribers: {counts.inserted} new, {counts.updated} updated")
    if counts.kept:
        print(f"kept {_whose(counts.kept)} own changes; --overwrite to replace them")
    if counts.overwritten:
        print(f"overwrote {_whose(counts.overwritten)} own changes")
    return 0


def _whose(count: int) -> str:
    return f"{count} subscriber's" if count == 1 else f"{count} subscribers'"


def _chosen(ctx: Context, args: argparse.Namespace) -> list[Subscriber]:
    statuses = [SubscriberStatus(status) for status in args.status] if args.status else None
    return ctx.store.subscribers(statuses)


def run_export(ctx: Context, args: argparse.Namespace) -> int:
    chosen = _chosen(ctx, args)
    if args.path == "-":
        sys.stdout.write(subscribers_csv(chosen))
        return 0
    count = write_subscribers(args.path, chosen)
    print(f"{count} subscribers written to {args.path}", file=sys.stderr)
    return 0


def run_list(ctx: Context, args: argparse.Namespace) -> int:
    for subscriber in _chosen(ctx, args):
        preferences = subscriber.preferences
        print(
            f"{subscriber.id}\t{subscriber.email}\t{subscriber.status.value}\t"
            f"weekly={'on' if preferences.weekly else 'off'}\t{preferences.format}\t"
            f"{','.join(preferences.companies) or '-'}"
        )
    return 0


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(";") if part.strip()]


def run_add(ctx: Context, args: argparse.Namespace) -> int:
    record = {
        "id": args.id or f"sub-{secrets.token_hex(6)}",
        "email": args.email,
        "name": args.name,
        "first_name": args.given_name,
        "last_name": args.family_name,
        "status": "pending" if args.confirm else "active",
        "timezone": args.timezone or ctx.settings.site.timezone,
        "weekly": not args.no_weekly,
        "companies": _split(args.companies),
        "topics": _split(args.topics),
        "send_hour": args.send_hour,
        "format": args.format,
    }
    problems: list[Problem] = []
    subscriber = subscriber_from(record, Loc("command line", args.email), problems, followable(ctx))
    if subscriber is None or problems:
        raise InputError(problems)
    if ctx.store.subscriber(subscriber.id) is not None:
        message = f"{subscriber.id} is taken; choose another --id (or leave it out)"
        raise InputError([Problem("command line", args.email, "id", message)])
    ctx.store.save_subscribers([subscriber], ctx.clock())
    print(f"added {subscriber.id} <{subscriber.email}> ({subscriber.status.value})")
    if args.confirm and plan_confirmation(ctx, subscriber):
        print("confirmation email planned: `digest worker` delivers it")
    elif args.confirm:
        print(
            "no confirmation email this time: one was planned for this address less than "
            f"{CONFIRMATION_GAP.total_seconds() / 60:.0f} minutes ago"
        )
    return 0


def _find(ctx: Context, who: Sequence[str]) -> list[Subscriber]:
    found, problems = [], []
    for key in who:
        subscriber = ctx.store.subscriber_by_email(key) if "@" in key else ctx.store.subscriber(key)
        if subscriber is None:
            problems.append(
                Problem("command line", key, "", "no subscriber has this address or id")
            )
        else:
            found.append(subscriber)
    if problems:
        raise InputError(problems)
    return found


def run_remove(ctx: Context, args: argparse.Namespace) -> int:
    for subscriber in _find(ctx, args.who):
        ctx.store.unsubscribe(subscriber.id, ctx.clock())
        print(f"unsubscribed {subscriber.id} <{subscriber.email}>")
    return 0


def run_forget(ctx: Context, args: argparse.Namespace) -> int:
    for email in args.emails:
        if "@" not in email:
            problem = Problem("command line", email, "", "give the address to forget")
            raise InputError([problem])
    for email in args.emails:
        deleted = ctx.store.forget_subscriber(ctx.clock(), email=email)
        what = "deleted its subscriber and their messages" if deleted else "no subscriber had it"
        print(f"forgot {email}: {what}; only its hash stays, on the suppression list")
    return 0
