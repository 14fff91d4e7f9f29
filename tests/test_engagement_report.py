"""The report's figures: from counts to tables, readers apart from scanners, weeks in order."""

from __future__ import annotations

from datetime import UTC, datetime

from digests_for_tests import DEEPSEEK_PRICE, MISTRAL_SWEDEN, PARIS, company_digest

from digest.compose import IsoWeek
from digest.engagement.report import channel_trend, company_trend, digest_report, last_weeks
from digest.store.engagement import HourCount, LinkCount

KEY = "company:mistral-ai:2026-W48"


def test_a_digest_report_keeps_readers_scanners_and_prefetches_apart() -> None:
    counts = [
        LinkCount("email", f"item:{MISTRAL_SWEDEN.id}", "click", "reader", 12),
        LinkCount("email", f"item:{MISTRAL_SWEDEN.id}", "click", "scanner", 30),
        LinkCount("email", f"connection:{DEEPSEEK_PRICE.id}", "click", "reader", 20),
        LinkCount("email", "profile:mistral-ai", "click", "scanner", 4),
        LinkCount("email", "open", "open", "reader", 50),
        LinkCount("email", "open", "open", "prefetch", 70),
        LinkCount("email", "open", "open", "scanner", 3),
        LinkCount("mastodon", f"item:{MISTRAL_SWEDEN.id}", "click", "reader", 5),
    ]
    report = digest_report(
        KEY,
        digest=company_digest(),
        delivered={"email": 400, "mastodon": 1},
        counts=counts,
        readers={"email": 60, "mastodon": 5, "": 63},
        per_subscriber=False,
    )
    assert (report.delivered, report.readers, report.clicks, report.scanner_clicks) == (
        400,
        63,
        37,
        34,
    )
    assert (report.opens, report.prefetches, report.scanner_opens) == (50, 70, 3)
    assert [(row.link, row.clicks) for row in report.links][:2] == [
        (f"connection:{DEEPSEEK_PRICE.id}", 20),
        (f"item:{MISTRAL_SWEDEN.id}", 12),
    ]
    labels = {row.link: row.label for row in report.links}
    assert labels[f"item:{MISTRAL_SWEDEN.id}"] == MISTRAL_SWEDEN.title
    assert labels[f"connection:{DEEPSEEK_PRICE.id}"] == f"Connection: {DEEPSEEK_PRICE.title}"
    assert labels["profile:mistral-ai"] == "Mistral AI profile"
    assert [(row.channel, row.delivered, row.readers, row.clicks) for row in report.channels] == [
        ("email", 400, 60, 32),
        ("mastodon", 1, 5, 5),
    ]
    summary = dict(report.summary().rows)
    assert summary["unique readers (estimated)"] == 63
    assert summary["Apple Mail prefetches (not reads)"] == 70
    assert report.links_table().csv().splitlines()[0] == (
        "channel,link,label,clicks by readers,clicks by scanners"
    )


def test_the_last_twelve_weeks_end_with_this_one() -> None:
    weeks = last_weeks(datetime(2026, 11, 30, 9, 0, tzinfo=UTC), PARIS)
    assert len(weeks) == 12
    assert (weeks[0], weeks[-1]) == (IsoWeek(2026, 38), IsoWeek(2026, 49))


def test_trends_sum_each_week_per_channel_and_per_company_digest() -> None:
    weeks = (IsoWeek(2026, 47), IsoWeek(2026, 48))
    hours = [
        HourCount("weekly:2026-W47", "email", datetime(2026, 11, 17, 8, tzinfo=UTC), 3),
        HourCount("weekly:2026-W47", "email", datetime(2026, 11, 18, 8, tzinfo=UTC), 4),
        # Sunday 23:30 in UTC is already Monday in Paris: the site's week decides.
        HourCount("weekly:2026-W47", "x", datetime(2026, 11, 22, 23, 30, tzinfo=UTC), 2),
        HourCount("weekly:2026-W40", "x", datetime(2026, 10, 1, 8, tzinfo=UTC), 99),
    ]
    channels = channel_trend(hours, weeks, PARIS)
    assert channels.lines == (("email", (7, 0)), ("x", (0, 2)))
    companies = company_trend(
        {"company:mistral-ai:2026-W48": 9, "company:mistral-ai:2026-W47": 4, "weekly:2026-W48": 1},
        {"mistral-ai": "Mistral AI"},
        weeks,
    )
    assert companies.lines == (("Mistral AI", (4, 9)),)
    assert companies.table().rows == (("2026-W47", 4), ("2026-W48", 9))
