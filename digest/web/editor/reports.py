"""What readers did, on the desk: the trends of the last weeks and each digest's report.

The figures are engagement/report.py's, the very tables `digest report` prints; each table here
downloads as CSV, and the charts are inline SVG drawn from them (charts.py). Reports show only
counts, never who clicked, so every role of the desk may read them.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from digest.engagement.report import (
    DigestReport,
    Overview,
    Table,
    read_digest_report,
    read_overview,
    tables_csv,
)
from digest.web.editor import auth
from digest.web.editor.charts import bar_chart, line_chart
from digest.web.editor.pages import render
from digest.web.editor.roles import Permission
from digest.web.pages import context_of


@auth.requires(Permission.REPORTS)
async def reports_page(request: Request) -> Response:
    ctx = context_of(request)
    overview = _overview(request)
    return render(
        request,
        "reports.html.j2",
        company_chart=line_chart(overview.companies),
        channel_chart=line_chart(overview.channels),
        tables=overview.tables(),
        tracking=ctx.settings.tracking,
    )


@auth.requires(Permission.REPORTS)
async def reports_csv(request: Request) -> Response:
    return _csv(request, _overview(request).tables(), "reports")


@auth.requires(Permission.REPORTS)
async def report_page(request: Request) -> Response:
    ctx = context_of(request)
    report = _report(request)
    rows = [
        (
            link.label if link.channel == "email" else f"{link.channel}: {link.label}",
            link.clicks,
            link.scanner_clicks,
        )
        for link in report.links
    ]
    kind = report.digest_key.partition(":")[0]
    return render(
        request,
        "report.html.j2",
        report=report,
        chart=bar_chart(rows),
        tables=report.tables(),
        tracked=ctx.settings.tracking.tracks(kind),
        kind=kind,
    )


@auth.requires(Permission.REPORTS)
async def report_csv(request: Request) -> Response:
    report = _report(request)
    return _csv(request, report.tables(), report.digest_key.replace(":", "-"))


def _overview(request: Request) -> Overview:
    ctx = context_of(request)
    return read_overview(ctx.store, ctx.clock(), ctx.settings.site.zone)


def _report(request: Request) -> DigestReport:
    ctx = context_of(request)
    key = request.path_params["key"]
    report = read_digest_report(ctx.store, ctx.settings.tracking, key)
    if report is None:
        raise HTTPException(404, f"No digest {key!r} and nothing counted for it.")
    return report


def _csv(request: Request, tables: tuple[Table, ...], name: str) -> Response:
    only = request.query_params.get("table")
    if only is not None and only not in {table.name for table in tables}:
        known = ", ".join(table.name for table in tables)
        raise HTTPException(404, f"No table {only!r} here: ask for one of {known}.")
    filename = f"{name}-{only}.csv" if only else f"{name}.csv"
    return Response(
        tables_csv(tables, only),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
