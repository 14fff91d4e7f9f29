"""The `digest` command: thin; every command is a call into the stages.

Exit codes: 0 success, 1 a run that finished with failures, 2 bad input or configuration,
3 a service could not be reached.
"""

from __future__ import annotations

import argparse
import difflib
import logging
import os
import secrets
import signal
import sys
import tempfile
import threading
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from email.utils import parseaddr
from importlib.resources import files
from pathlib import Path
from zoneinfo import ZoneInfo

from digest import __version__, outbox
from digest.cli_editor import add_editor_commands
from digest.cli_report import add_report_command
from digest.cli_subscribers import add_subscriber_commands
from digest.cli_tokens import add_api_token_commands
from digest.compose import IsoWeek
from digest.context import Context
from digest.delivery.email import check_email_settings
from digest.errors import DigestError, InputError, Problem, ProblemsError
from digest.ingest import read_subscribers
from digest.links import preferences_url
from digest.models import DeliveryState, Digest, SubscriberStatus
from digest.progress import Progress
from digest.render.dkim import new_key, zone_strings
from digest.render.social import PLATFORMS
from digest.render.templates import date_range
from digest.schedule import jobs, leader, scheduler
from digest.schedule.deliverer import deliver_due, pending, social_rules
from digest.schedule.ingest import IngestReport, describe, followable, ingest_sources
from digest.schedule.status import digest_statuses
from digest.settings import Secret, Settings, load_settings

log = logging.getLogger("digest")

DATA = files("digest") / "data"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("alembic").setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    try:
        return int(args.handler(args))
    except ProblemsError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return error.exit_code
    except DigestError as error:
        print(f"digest: {error}", file=sys.stderr)
        return error.exit_code
    except Exception as error:  # a bug: one line here, the traceback in a file
        print(crash_report(args, error), file=sys.stderr)
        return 1


def crash_report(args: argparse.Namespace, error: Exception) -> str:
    """Write the traceback to a private file (a temporary one: nothing else is sure to be
    writable); the one line that says what failed and where the report is."""
    command = " ".join(part for part in (args.command, getattr(args, "action", None)) if part)
    reason = (str(error).strip().splitlines() or [""])[0][:200]
    what = f"digest {command} failed unexpectedly ({type(error).__name__}: {reason})"
    try:
        descriptor, path = tempfile.mkstemp(prefix="digest-crash-", suffix=".log")
        with os.fdopen(descriptor, "w", encoding="utf-8") as report:
            report.write(f"digest {__version__}: digest {command}\n\n")
            report.write("".join(traceback.format_exception(error)))
    except OSError as failure:
        return f"digest: {what}; the report could not be written ({failure})"
    return f"digest: {what}; the full report is in {path}, please send it to the maintainers"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="digest", description="Weekly and per-company digests: email and social."
    )
    parser.add_argument("--version", action="version", version=f"digest {__version__}")
    add_global_options(parser)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="the main job on the bundled sample data")
    demo.add_argument("--out", default="out/demo", help="folder for the store and outputs")
    demo.set_defaults(handler=run_demo)

    ingest = commands.add_parser("ingest", help="import companies, items and AMW Reads")
    ingest.add_argument(
        "sources",
        nargs="+",
        metavar="PATH_OR_URL",
        help="YAML, JSON, JSON Lines, RSS or Atom files or URLs (docs/input-format.md)",
    )
    ingest.set_defaults(handler=run_ingest)

    add_subscriber_commands(commands, open_context)
    add_api_token_commands(commands, open_context)
    add_editor_commands(commands, open_context)

    for name, handler, help_text in (
        ("build", run_build, "render digests to files without delivering"),
        ("send", run_send, "plan a digest's emails in the outbox and deliver them"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument(
            "kind",
            choices=["weekly", "company"],
            help="the weekly digest, or the per-company digests",
        )
        add_week_options(command)
        command.add_argument("--company", metavar="SLUG", help="only this company's digest")
        if name == "build":
            command.add_argument("--out", default="out/build", help="folder for the files")
        else:
            command.add_argument("--dry-run", action="store_true", help="plan and report only")
            command.add_argument(
                "--now",
                action="store_true",
                help="every email due at once, not at each subscriber's local hour",
            )
        command.set_defaults(handler=handler)

    social = commands.add_parser(
        "social", help="compose and post a digest's posts (weekly, or --company)"
    )
    add_week_options(social)
    social.add_argument(
        "--platform", choices=sorted(PLATFORMS), help="only channels of this platform"
    )
    social.add_argument(
        "--company", metavar="SLUG", help="the per-company digests' posts ('all' for every one)"
    )
    social.add_argument(
        "--dry-run", action="store_true", help="print each post with its count, post nothing"
    )
    social.set_defaults(handler=run_social)

    held = commands.add_parser(
        "held",
        help="posts and emails whose outcome was unknown, set aside for an editor to decide",
    )
    held_commands = held.add_subparsers(dest="action", required=True)
    held_commands.add_parser("list", help="list held rows").set_defaults(handler=run_held_list)
    release = held_commands.add_parser(
        "release",
        help="decide a held row: it arrived after all (--posted-as ID, --sent) or not (it is "
        "sent again)",
    )
    release.add_argument("id", type=int, help="the row's id, from `digest held list`")
    arrived = release.add_mutually_exclusive_group()
    arrived.add_argument(
        "--posted-as",
        metavar="POST_ID",
        help="the post is on the platform with this id: record it as sent (else it posts again)",
    )
    arrived.add_argument(
        "--sent",
        action="store_true",
        help="the email arrived (the relay's log names its Message-ID): record it as sent",
    )
    release.set_defaults(handler=run_held_release)

    worker = commands.add_parser("worker", help="deliver due outbox rows")
    worker.add_argument("--once", action="store_true", help="exit when nothing is due")
    worker.add_argument("--poll", type=float, default=5.0, help="seconds between looks")
    worker.add_argument(
        "--pause",
        type=float,
        default=300.0,
        help="seconds to wait after a run paused for failures in a row (default 300)",
    )
    worker.set_defaults(handler=run_worker)

    serve = commands.add_parser("serve", help="the web app: public pages and the editor's")
    serve.add_argument("--host", help="address to bind (default: web.host, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: web.port)")
    serve.add_argument(
        "--demo",
        nargs="?",
        const="out/demo",
        metavar="DIR",
        help="serve the store `digest demo` made in DIR (default out/demo), with an editor "
        "login made for it and printed",
    )
    serve.set_defaults(handler=run_serve)

    add_report_command(commands, open_context)

    schedule = commands.add_parser("schedule", help="the scheduler daemon")
    schedule.add_argument("--once", action="store_true", help="run what is due now, then exit")
    schedule.set_defaults(handler=run_schedule)

    keygen = commands.add_parser(
        "dkim-keygen", help="a DKIM key pair: the private key to a file, the DNS record to print"
    )
    keygen.add_argument(
        "--type",
        choices=["rsa", "ed25519"],
        default="rsa",
        dest="key_type",
        help="rsa (2048 bits, verified everywhere; the default) or ed25519 (RFC 8463)",
    )
    keygen.add_argument("--selector", help="the key's DNS name (default digest-TYPE)")
    keygen.add_argument(
        "--domain", help="the signing domain (default: email.dkim.domain, or the From domain)"
    )
    keygen.add_argument(
        "--key-file", help="where the private key goes, mode 0600 (default dkim-SELECTOR.key)"
    )
    keygen.set_defaults(handler=run_dkim_keygen)

    status = commands.add_parser(
        "status", help="where each digest of a week stands: draft, approved, planned, sent…"
    )
    add_week_options(status, default="the week the next run sends, and the latest stored")
    status.set_defaults(handler=run_status)
    accept_global_options_everywhere(parser)
    return parser


def add_global_options(parser: argparse.ArgumentParser, *, defaults: bool = True) -> None:
    """--settings, --database and -v; on the subcommands without defaults, so that one given
    before the command is not reset by the subcommand's parser."""

    def default(value: object) -> object:
        return value if defaults else argparse.SUPPRESS

    parser.add_argument(
        "--settings",
        default=default("settings.yaml"),
        help="settings file (default ./settings.yaml)",
    )
    parser.add_argument(
        "--database",
        default=default(os.environ.get("DIGEST_DATABASE_URL")),
        help="database URL (or DIGEST_DATABASE_URL); overrides settings.yaml",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default(False),
        help="also log debug messages (what each step does, and the database migrations)",
    )


def accept_global_options_everywhere(parser: argparse.ArgumentParser) -> None:
    """`digest serve --database URL` as well as `digest --database URL serve`."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in dict.fromkeys(action.choices.values()):
                add_global_options(command, defaults=False)
                accept_global_options_everywhere(command)


def add_week_options(command: argparse.ArgumentParser, default: str = "the latest stored") -> None:
    command.add_argument(
        "--week", type=parse_week, help=f"ISO week like 2026-W48 (default: {default})"
    )


def parse_week(text: str) -> IsoWeek:
    try:
        return IsoWeek.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def settings_from(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.settings)
    if args.database:
        settings = replace(settings, database=replace(settings.database, url=Secret(args.database)))
    return settings


def open_context(args: argparse.Namespace, *, delivering: bool = False) -> Context:
    """The context; for commands that deliver, the email settings are checked first, so a typo
    stops the run before anything is planned."""
    settings = settings_from(args)
    if delivering:
        check_email_settings(settings)
        warn_of_demo_secret(settings)
    return Context.open(settings)


def warn_of_demo_secret(settings: Settings) -> None:
    """Links in emails are signed with site.secret_key: with the shipped default, anyone could
    forge any reader's unsubscribe, preferences and delete links."""
    if "site.secret_key" in settings.defaulted:
        log.warning(
            "site.secret_key is the default from %s: anyone can forge the links in your emails; "
            "set DIGEST_SECRET_KEY to a long random value before mailing real people",
            settings.source,
        )


def chosen_week(ctx: Context, args: argparse.Namespace, *, sending: bool = False) -> IsoWeek:
    """--week, or the latest stored week; for sending, never a week still in progress, since
    the first digest planned for a week is the one delivered (a Thursday run would freeze it)."""
    if args.week:
        return args.week
    week = jobs.latest_week(ctx)
    if week is None:
        raise InputError([Problem("", "", "", "the store has no items: run `digest ingest` first")])
    if sending and week > (complete := jobs.last_complete_week(ctx)):
        log.info("week %s is still in progress: using %s (pass --week to choose)", week, complete)
        return complete
    return week


def chosen_digests(
    ctx: Context, args: argparse.Namespace, *, sending: bool = False
) -> list[Digest]:
    week = chosen_week(ctx, args, sending=sending)
    if args.kind == "weekly":
        return [jobs.compose_weekly(ctx, week)]
    if args.company:
        known_company(ctx, args.company)
    digests = jobs.compose_companies(ctx, week, args.company)
    if not digests:
        about = f"company {args.company!r}" if args.company else "any company"
        log.warning("no news about %s in %s", about, week)
    return digests


def known_company(ctx: Context, slug: str) -> None:
    """A --company that names no stored company is a typo to point out, not an empty run."""
    slugs = ctx.store.company_slugs()
    if slug not in slugs:
        close = difflib.get_close_matches(slug, sorted(slugs), n=1)
        hint = f'; did you mean "{close[0]}"?' if close else "; `digest ingest` it first"
        raise InputError([Problem("", "", "--company", f'no company "{slug}"{hint}')])


# Commands ------------------------------------------------------------------------------------


def run_ingest(args: argparse.Namespace) -> int:
    ctx = open_context(args)
    try:
        report = ingest_into(ctx, args.sources)
    finally:
        ctx.close()
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for line in describe(report.counts):
        print(line)
    return 0


def ingest_into(ctx: Context, sources: Sequence[str]) -> IngestReport:
    return ingest_sources(ctx, sources)


def run_build(args: argparse.Namespace) -> int:
    ctx = open_context(args)
    try:
        digests = chosen_digests(ctx, args)
        for empty in (digest for digest in digests if not digest.entries):
            days = date_range(empty.window_start, empty.window_end, ctx.settings.site.zone)
            print(f"{empty.key}: no news in its week ({days}): nothing written")
        with_news = [digest for digest in digests if digest.entries]
        previews = jobs.write_previews(ctx, with_news, Path(args.out))
    finally:
        ctx.close()
    for preview in previews:
        size = f"{preview.html_size / 1024:.1f} KB"
        print(f"{preview.digest_key}: {preview.html} ({size}), {preview.text}")
    return 0


def run_send(args: argparse.Namespace) -> int:
    ctx = open_context(args, delivering=True)
    site_zone = ctx.settings.site.zone
    try:
        for digest in chosen_digests(ctx, args, sending=True):
            report = jobs.plan_email(ctx, digest, dry_run=args.dry_run, at_once=args.now)
            if report.waiting:
                print(f"{digest.key}: not planned: {report.waiting}")
                continue
            verb = "would plan" if args.dry_run else "planned"
            emails = "email" if report.recipients == 1 else "emails"
            print(f"{digest.key}: {verb} {report.recipients} {emails} ({report.new} new)")
            for reason, number in report.left_out:
                people = "subscriber" if number == 1 else "subscribers"
                print(f"  no email for {number} {people}: {reason}")
            if report.at_once and report.recipients:
                print("  all due at once (--now), not at each subscriber's local hour")
            for line in [] if report.at_once else due_lines(report.due_by_hour, site_zone):
                print(f"  {line}")
        if args.dry_run:
            return 0
        return deliver_with_progress(ctx)
    finally:
        ctx.close()


def due_lines(due_by_hour: Iterable[tuple[datetime, int]], zone: ZoneInfo) -> list[str]:
    """When emails fall due at their subscribers' hours, an hour of the site's clock a line."""
    lines = []
    for hour, number in due_by_hour:
        emails = "email" if number == 1 else "emails"
        lines.append(f"{hour.astimezone(zone):%a %Y-%m-%d %H:00 %Z}: {number} {emails} due")
    return lines


def run_social(args: argparse.Namespace) -> int:
    ctx = open_context(args)
    try:
        week = chosen_week(ctx, args, sending=True)
        if args.company:
            slug = None if args.company == "all" else args.company
            if slug is not None:
                known_company(ctx, slug)
            digests = jobs.compose_companies(ctx, week, slug)
        else:
            digests = [jobs.compose_weekly(ctx, week)]
        rules = social_rules(ctx)  # each channel's limits as its service states them
        if args.dry_run:
            for digest in digests:
                composed = jobs.compose_posts(ctx, digest, args.platform, rules=rules)
                for each in jobs.post_times(ctx, digest, composed):
                    post = each.post
                    over = "" if post.length <= post.limit else "  OVER THE LIMIT"
                    print(
                        f"── {each.channel} ({post.platform}) {post.key}: "
                        f"{post.length}/{post.limit}{over} · {slot_words(each)}"
                    )
                    print(post.text)
            return 0
        for digest in digests:
            report = jobs.plan_social(ctx, digest, platform=args.platform, rules=rules)
            print(f"{digest.key}: planned {report.recipients} posts ({report.new} new)")
        return deliver_with_progress(ctx)
    finally:
        ctx.close()


def slot_words(timed: jobs.TimedPost) -> str:
    """ "Mon 30 Nov 09:00 CET", or "at once" for a channel without slots."""
    return timed.at.strftime("%a %d %b %H:%M %Z") if timed.at else "at once"


FAILED_STATES = (DeliveryState.FAILED, DeliveryState.UNKNOWN)


def deliver_reporting(
    ctx: Context, progress: Progress | None = None, *, due_by: datetime | None = None
) -> outbox.DeliveryReport:
    progress = progress or Progress("delivering", pending(ctx))
    on_row = lambda state: progress.advance(failed=state in FAILED_STATES)  # noqa: E731
    return deliver_due(ctx, on_row, due_by=due_by)


def deliver_with_progress(ctx: Context) -> int:
    """Deliver what is due with a progress bar; a summary; exit 1 if any row failed or is held
    for an editor, or the run or a channel paused."""
    progress = Progress("delivering", pending(ctx))
    report = deliver_reporting(ctx, progress)
    print(progress.summary())
    print(f"delivered: {report.words()}")
    for why in [report.paused, *report.paused_channels.values()]:
        if why:
            print(f"digest: {why}", file=sys.stderr)
    if report.held:
        print("digest: see `digest held list` for the posts waiting for an editor", file=sys.stderr)
    return 1 if report.finished_badly else 0


def run_held_list(args: argparse.Namespace) -> int:
    ctx = open_context(args)
    try:
        rows = outbox.held_rows(ctx.store.engine)
    finally:
        ctx.close()
    for row in rows:
        print(
            f"{row.id}\t{row.channel.value}\t{row.target}\t{row.idempotency_key}\t"
            f"{row.last_error or ''}"
        )
    if not rows:
        print("no held rows")
    return 0


def run_held_release(args: argparse.Namespace) -> int:
    ctx = open_context(args)
    try:
        state = outbox.release_held(
            ctx.store.engine, args.id, now=ctx.clock(), provider_id=args.posted_as, sent=args.sent
        )
    finally:
        ctx.close()
    if state is None:
        raise InputError([Problem("", f"row {args.id}", "", "no held row has that id")])
    print(f"row {args.id}: {state.value}")
    return 0


def run_worker(args: argparse.Namespace) -> int:
    ctx = open_context(args, delivering=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    failed = 0
    try:
        while not stop.is_set():
            report = deliver_due(ctx, stop=stop)
            failed += report.failed
            if report.total:
                log.info("worker: %s", report.words())
            elif args.once:
                log.info("worker: nothing was due")
            for channel_paused in report.paused_channels.values():
                log.error("worker: %s", channel_paused)
            failed += report.held + len(report.paused_channels)
            if report.paused:
                log.error("worker: %s", report.paused)
                failed += 1
                if not args.once:
                    log.info("worker: trying again in %.0f s", args.pause)
                    stop.wait(args.pause)
                    continue
            if args.once:
                break
            stop.wait(args.poll)
    except KeyboardInterrupt:
        pass
    finally:
        ctx.close()
    return 1 if failed else 0


def run_schedule(args: argparse.Namespace) -> int:
    ctx = open_context(args, delivering=True)
    try:
        if args.once:
            runs = scheduler.run_due(ctx, ctx.clock())
            missed = scheduler.missed_runs(ctx)
            for run in runs:
                if run.ran:
                    print(f"{run.name}: ran the run due {run.due_at:%a %Y-%m-%d %H:%M %Z}")
                elif run.name not in {m.name for m in missed}:
                    print(
                        f"{run.name}: skipped the run due {run.due_at:%a %Y-%m-%d %H:%M %Z}: "
                        "its grace (schedules.misfire_grace_seconds) had passed"
                    )
            for run in missed:
                print(run.words())
            if not runs and not missed:
                print("nothing was due")
            return 0
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            leader.lead(ctx.store.engine, stop, lambda leading: scheduler.run_forever(ctx, leading))
        except KeyboardInterrupt:
            stop.set()
        return 0
    finally:
        ctx.close()


def run_status(args: argparse.Namespace) -> int:
    """Each digest of the chosen weeks with its status in words."""
    ctx = open_context(args)
    try:
        weeks = (
            [args.week]
            if args.week
            else sorted(
                {jobs.next_run_week(ctx), *filter(None, [jobs.latest_week(ctx)])}, reverse=True
            )
        )
        for week in weeks:
            digests = [jobs.compose_weekly(ctx, week), *jobs.compose_companies(ctx, week)]
            shown = [ctx.store.load_digest(d.key) or d for d in digests if d.entries]
            count = f"{len(shown)} digest{'' if len(shown) == 1 else 's'}"
            print(f"{week}: {count if shown else 'no news'}")
            statuses = digest_statuses(ctx, shown)
            for digest in shown:
                print(f"  {digest.key:44} {statuses[digest.key].words}")
    finally:
        ctx.close()
    return 0


def run_dkim_keygen(args: argparse.Namespace) -> int:
    """The private key goes to a new file only (never to the terminal or a log); the public
    half is printed as the DNS TXT record to publish."""
    selector = args.selector or f"digest-{args.key_type}"
    domain = args.domain or signing_domain(settings_from(args))
    path = Path(args.key_file or f"dkim-{selector}.key")
    key = new_key(args.key_type)
    try:
        write_secret_file(path, key.private_pem)
    except FileExistsError:
        message = "exists; remove it or choose another --key-file (a key is never overwritten)"
        raise InputError([Problem(str(path), "", "", message)]) from None
    name = f"{selector}._domainkey.{domain}"
    print(f"Private key ({args.key_type}) written to {path}, readable by you only. Give it to")
    print(f'digest through the environment: export DIGEST_DKIM_KEY="$(cat {path})"')
    print()
    print("Publish this DNS TXT record:")
    print(f"  name:  {name}")
    print(f"  value: {key.dns_value}")
    print(f"  zone file: {name}. IN TXT ( {zone_strings(key.dns_value)} )")
    print()
    print("Then, in settings.yaml (a second key goes under `second:`, with its own selector):")
    print("  email:")
    print(
        f'    dkim: {{domain: {domain}, selector: {selector}, private_key: "${{DIGEST_DKIM_KEY}}"}}'
    )
    return 0


def signing_domain(settings: Settings) -> str:
    if settings.email.dkim is not None:
        return settings.email.dkim.domain
    return parseaddr(settings.site.from_address)[1].rpartition("@")[2]


def write_secret_file(path: Path, data: bytes) -> None:
    """A new file only its owner can read (created so, never widened afterwards)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        os.fchmod(file.fileno(), 0o600)  # whatever the umask
        file.write(data)


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn  # only this command needs the server

    from digest.web.app import create_app, server_config

    if args.demo:
        ctx = open_demo_for_serving(args, Path(args.demo).resolve())
    else:
        ctx = open_context(args)
        warn_of_demo_secret(ctx.settings)
    web = ctx.settings.web
    host, port = args.host or web.host, args.port or web.port
    if args.demo:
        print_demo_guide(ctx, f"http://{host}:{port}")
    try:
        uvicorn.Server(server_config(create_app(ctx), host=host, port=port)).run()
    finally:
        ctx.close()
    return 0


def open_demo_for_serving(args: argparse.Namespace, out: Path) -> Context:
    """The demo's store, with an editor login made for this run (a random token, in memory
    only: it ends with the server)."""
    if not (out / "digest.db").exists():
        raise InputError([Problem(str(out), "", "", "no demo store here: run `make demo` first")])
    settings = demo_settings(args, out)
    token = Secret(secrets.token_urlsafe(24))
    editor = replace(settings.web.editor, token=token)
    settings = replace(settings, web=replace(settings.web, editor=editor))
    return Context.open(settings)


def print_demo_guide(ctx: Context, local: str) -> None:
    editor = ctx.settings.web.editor.token
    assert editor is not None
    site = ctx.settings.site.base_url.rstrip("/")
    subscriber = next(iter(ctx.store.subscribers([SubscriberStatus.ACTIVE])), None)
    print(f"The demo in the web app: {local}/editor/")
    print(f"  editor login: any name, and this token as the password: {editor.reveal()}")
    print(f"  the archive, as readers see it: {local}/archive")
    print(f"The demo emails link to {site}/…; open the same path on {local} instead:")
    if subscriber is not None:
        path = preferences_url(ctx.settings.site, subscriber.id).removeprefix(site)
        print(f"  e.g. {subscriber.name}'s preferences: {local}{path}")
    print("Stop the server with Ctrl+C.")


def demo_settings(args: argparse.Namespace, out: Path) -> Settings:
    """The embedded default settings (or --settings), rooted in the demo's folder, on the
    demo's own SQLite file whatever the environment says."""
    settings_path = Path(args.settings) if args.settings != "settings.yaml" else None
    settings = load_settings(settings_path or Path(str(DATA / "settings.yaml")), root=out)
    database = f"sqlite:///{out / 'digest.db'}"
    return replace(settings, database=replace(settings.database, url=Secret(database)))


def run_demo(args: argparse.Namespace) -> int:
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    settings = demo_settings(args, out)
    check_email_settings(settings)
    ctx = Context.open(settings)
    try:
        return demo(ctx, out)
    finally:
        ctx.close()


def demo(ctx: Context, out: Path) -> int:
    ingest_into(ctx, [str(DATA / "sample.yaml")])
    if not ctx.store.subscribers():
        # Only into a fresh store: on a later run, people may have unsubscribed or changed
        # their preferences through the web app, and the sample list must not undo that.
        sample = read_subscribers(str(DATA / "sample-subscribers.csv"), followable(ctx))
        ctx.store.save_subscribers(sample, ctx.clock())
    week = jobs.latest_week(ctx)
    assert week is not None  # the sample has items
    digests = [jobs.compose_weekly(ctx, week), *jobs.compose_companies(ctx, week)]
    rules = social_rules(ctx)
    rows = []
    for digest in digests:
        # Every email at once, so the demo's outbox is complete when it ends; the summary says
        # when each would have been due at its subscriber's hour.
        email = jobs.plan_email(ctx, digest, at_once=True)
        rows.append((digest, email, jobs.plan_social(ctx, digest, rules=rules)))
    previews = jobs.write_previews(ctx, digests, out / "preview")
    # Every post is written now, each line saying its slot (`scheduled_for`): the demo does not
    # wait for the week's slots to come.
    slotted = [each.at for _, _, posts in rows for each in posts.posts if each.at]
    report = deliver_reporting(ctx, due_by=max(slotted, default=None))

    days = date_range(*week.window(ctx.settings.site.zone))
    print(f"\nDemo of week {week} ({days}): {len(digests)} digests\n")
    print(f"{'digest':44} {'emails':>7} {'new':>5} {'posts':>6} {'new':>5} {'HTML KB':>8}")
    sizes = {preview.digest_key: preview.html_size for preview in previews}
    for digest, email, posts in rows:
        print(
            f"{digest.key:44} {email.recipients:>7} {email.new:>5} "
            f"{posts.recipients:>6} {posts.new:>5} "
            f"{sizes[digest.key] / 1024:>8.1f}"
        )
    print("\nposting schedule (each post's slot, by channel):")
    by_channel: dict[str, list[jobs.TimedPost]] = {}
    for _, _, posts in rows:
        for each in posts.posts:
            by_channel.setdefault(each.channel, []).append(each)
    for channel, timed in by_channel.items():
        print(f"  {channel}:")
        for each in sorted(timed, key=lambda each: each.at.timestamp() if each.at else 0.0):
            print(f"    {slot_words(each):22} {each.post.digest_key} {each.post.key}")
    zone = ctx.settings.site.zone
    due = outbox.by_hour(
        ((hour, number) for _, email, _ in rows for hour, number in email.due_by_hour), zone
    )
    if due:
        print("\nsent at once; at each subscriber's local hour they would have been due:")
        for line in due_lines(due, zone):
            print(f"  {line}")
    print(f"\ndelivered this run: {report.words('nothing (all delivered before)')}")
    print(f"emails:   {out / 'outbox' / 'email'}/*.eml")
    print(f"posts:    {out / 'outbox' / 'social'}/*.jsonl")
    print(f"previews: {out / 'preview'}/*.html")
    print(f"store:    {out / 'digest.db'}")
    return 1 if report.finished_badly else 0


if __name__ == "__main__":
    raise SystemExit(main())
