"""`digest report [DIGEST_KEY] [--csv [--table NAME]]`: what readers did with a digest, or
without one, with every digest of the last 12 weeks (and the trends per company and channel).

The same figures as the editor's report pages (engagement/report.py), printed in words, or as
CSV: every table, each after a `# name` line (`--table` writes one table alone, plain CSV).
"""

from __future__ import annotations

import argparse
import difflib

from digest.cli_support import OpenContext
from digest.context import Context
from digest.engagement.report import (
    READERS,
    DigestReport,
    Table,
    read_digest_report,
    read_overview,
    tables_csv,
)
from digest.errors import InputError, Problem

TABLES = ("summary", "links", "channels")  # a digest's
OVERVIEW_TABLES = ("digests", "company_weeks", "channel_weeks")  # of the last weeks


def add_report_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], open_context: OpenContext
) -> None:
    report = commands.add_parser("report", help="what readers did with a digest")
    report.add_argument(
        "digest_key",
        metavar="DIGEST_KEY",
        nargs="?",
        help="like weekly:2026-W48; without it, every digest of the last 12 weeks",
    )
    report.add_argument("--csv", action="store_true", help="the tables as CSV")
    report.add_argument(
        "--table", choices=(*TABLES, *OVERVIEW_TABLES), help="with --csv: only this table"
    )

    def run(args: argparse.Namespace) -> int:
        if args.table and not args.csv:
            raise InputError([Problem("", "", "--table", "goes with --csv; add --csv")])
        names = TABLES if args.digest_key else OVERVIEW_TABLES
        if args.table and args.table not in names:
            what = "a digest's report" if args.digest_key else "the report of the last weeks"
            fix = f"choose one of {', '.join(names)}"
            raise InputError([Problem("", "", "--table", f"{what} has no such table; {fix}")])
        ctx = open_context(args)
        try:
            if args.digest_key is None:
                overview = read_overview(ctx.store, ctx.clock(), ctx.settings.site.zone)
                tables = overview.tables()
                text = "\n".join("\n".join(aligned(table)) for table in tables) + "\n"
            else:
                found = read_digest_report(ctx.store, ctx.settings.tracking, args.digest_key)
                if found is None:
                    raise unknown_digest(ctx, args.digest_key)
                tables, text = found.tables(), in_words(found)
        finally:
            ctx.close()
        print(tables_csv(tables, args.table) if args.csv else text, end="")
        return 0

    report.set_defaults(handler=run)


def unknown_digest(ctx: Context, key: str) -> InputError:
    keys = ctx.store.digest_keys()
    close = difflib.get_close_matches(key, keys, n=1)
    hint = f'; did you mean "{close[0]}"?' if close else "; the archive lists the digests"
    return InputError([Problem("", "", "DIGEST_KEY", f'no digest "{key}"{hint}')])


def in_words(report: DigestReport) -> str:
    lines = [f"{report.digest_key}: {report.title}", ""]
    emails = "email" if report.delivered == 1 else "emails"
    lines.append(
        f"{report.delivered:,} {emails} delivered; {report.readers:,} {READERS} "
        f"(one reader: {report.readers_basis})"
    )
    lines.append(
        f"clicks: {report.clicks:,} by readers, {report.scanner_clicks:,} by scanners and bots "
        "(not counted as readers)"
    )
    if report.opens or report.prefetches or report.scanner_opens:
        lines.append(
            f"opens (estimated): {report.opens:,}; Apple Mail prefetches: {report.prefetches:,} "
            f"(not reads); by scanners: {report.scanner_opens:,}"
        )
    for table in (report.links_table(), report.channels_table()):
        lines += ["", *aligned(table)]
    return "\n".join(lines) + "\n"


def aligned(table: Table) -> list[str]:
    """A table as text: numbers right-aligned, the rest left; "nothing yet" when empty."""
    if not table.rows:
        return [f"{table.title}: nothing yet"]
    cells = [table.columns, *(tuple(_text(cell) for cell in row) for row in table.rows)]
    widths = [max(len(row[index]) for row in cells) for index in range(len(table.columns))]
    numeric = [isinstance(cell, int) for cell in table.rows[0]]
    lines = [table.title]
    for row in cells:
        lines.append(
            "  ".join(
                cell.rjust(width) if is_number else cell.ljust(width)
                for cell, width, is_number in zip(row, widths, numeric, strict=True)
            ).rstrip()
        )
    return lines


def _text(cell: str | int) -> str:
    return f"{cell:,}" if isinstance(cell, int) else cell
