"""The Comparison page in Chromium: the table and chart load, the grouping and the period switch
in place (HTMX), and the CSV downloads with the same filters."""

import csv
import io
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from callops.calls.rollups import hour_of
from tests.analytics import seed

from .conftest import login, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def row_texts(page):
    rows = page.get_by_test_id("comparison-row")
    return [(rows.nth(i).get_by_test_id("group-name").inner_text(), rows.nth(i).locator("td").nth(1).inner_text())
            for i in range(rows.count())]


def test_comparison_switches_grouping_and_period_and_exports_the_csv(page, personas):
    # Four hours back: every call of the seed is in the last 24 hours and in the last 7 days.
    known = seed.build(personas.org, hour_of(timezone.now()) - timedelta(hours=4))

    login(page, personas.viewer.user.username)
    page.get_by_role("link", name="Comparison").click()
    page.wait_for_url("**/comparison/")
    table = page.get_by_test_id("comparison-table")
    expect(table).to_be_visible()
    expect(page.get_by_test_id("comparison-row")).to_have_count(2)
    assert row_texts(page) == [("CB main", "5"), ("Bolna EU", "3")]
    chart = page.get_by_test_id("comparison-chart")
    expect(chart).to_be_visible()
    expect(chart.locator("title").first).to_have_text("Calls per day by provider account")
    assert chart.locator("rect.series-g0").count() >= 1 and chart.locator("rect.series-g1").count() >= 1

    page.get_by_test_id("group-by").select_option("batch")
    expect(page.get_by_test_id("comparison-results")).to_have_attribute("data-group-by", "batch")
    page.wait_for_url(re.compile(r".*group_by=batch.*"))
    assert row_texts(page) == [("No batch", "6"), ("November list", "2")]
    expect(table.locator("thead th").first).to_have_text("Batch")

    page.get_by_test_id("period").select_option("24h")
    expect(page.get_by_test_id("comparison-results")).to_have_attribute("data-period", "24h")
    expect(chart.locator("title").first).to_have_text("Calls per hour by batch")
    # 24 or 25 hourly slots; the seed's calls fall in five of them, two groups in the first two.
    assert chart.locator("rect").count() >= 5
    assert row_texts(page) == [("No batch", "6"), ("November list", "2")]
    shot(page, "comparison")

    export = page.get_by_test_id("comparison-export")
    expect(export).to_have_attribute("href", "/comparison/export.csv?period=24h&group_by=batch")
    with page.expect_download() as info:
        export.click()
    download = info.value
    assert re.fullmatch(r"comparison-batch-24h-\d{8}-\d{6}\.csv", download.suggested_filename)
    with open(download.path(), encoding="utf-8") as f:
        rows = list(csv.DictReader(io.StringIO(f.read())))
    assert [(r["key"], r["name"], r["calls"], r["completed"], r["failovers"], r["cost_USD_total_milli_cents"])
            for r in rows] == [("", "No batch", "6", "2", "2", "9100"),
                               (str(known.batch.public_id), "November list", "2", "2", "1", "4100")]
