"""The dashboard's Comparison page and its CSV export: the table, the chart, the period and
grouping switches, HTMX swaps, escaping, and the tenant boundary."""

import csv
import io
import re
from datetime import UTC, datetime

import pytest

from callops.calls.models import Agent
from tests.analytics import seed

pytestmark = pytest.mark.django_db

BASE = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def known(personas, clock):
    clock.advance_to(datetime(2026, 11, 10, 12, 30, tzinfo=UTC))
    return seed.build(personas.org, BASE)


def table_rows(html):
    """The text of each cell of each comparison row."""
    rows = re.findall(r'<tr data-testid="comparison-row">(.*?)</tr>', html, re.S)
    return [[" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in rows]


def csv_rows(response):
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_page_shows_each_provider_account_and_the_chart(personas, known):
    r = personas.viewer.client().get("/comparison/")
    assert r.status_code == 200
    html = r.content.decode()
    assert r.context["period"] == "7d" and r.context["group_by"] == "provider"
    assert [(g["name"], g["calls"]) for g, _ in r.context["rows"]] == [("CB main", 5), ("Bolna EU", 3)]
    # Seven local days of bars (UTC here: no tz cookie), the calls of 2026-11-10 stacked in one.
    chart = r.context["chart"]
    assert chart["total"] == 8
    assert [b.label for b in chart["bars"]] == ["Tue Nov 10: 5 calls on CB main", "Tue Nov 10: 3 calls on Bolna EU"]
    assert [lab["text"] for lab in chart["labels"]] == [f"Nov {d:02d}" for d in range(4, 11)]
    assert 'data-testid="comparison-chart"' in html and "Calls per day by provider account" in html
    assert table_rows(html) == [
        ["CB main Callingbox", "5", "75.0%", "75.0%", "66.7%", "1m 33s", "5m 00s", "6s", "0.0084 USD est.",
         "0.0140 USD est.", "1"],
        ["Bolna EU Bolna", "3", "50.0%", "50.0%", "100.0%", "11m 40s", "20m 00s", "5s", "0.0300 USD",
         "0.0900 USD", "2"],
    ]
    assert 'href="/comparison/export.csv?period=7d&amp;group_by=provider"' in html
    assert 'aria-current="page">Comparison<' in html


def test_switching_to_24_hours_by_batch_over_htmx_swaps_only_the_results(personas, known):
    r = personas.viewer.client().get("/comparison/", {"period": "24h", "group_by": "batch"}, HTTP_HX_REQUEST="true")
    html = r.content.decode()
    assert html.lstrip().startswith('<div id="comparison-results"')
    assert "<nav" not in html
    assert [(g["name"], g["calls"]) for g, _ in r.context["rows"]] == [("No batch", 6), ("November list", 2)]
    assert r.context["result"].period.interval == "hour" and len(r.context["result"].buckets) == 25
    assert "Calls per hour by batch" in html


def test_unknown_choices_fall_back_to_the_defaults(personas, known):
    r = personas.viewer.client().get("/comparison/", {"period": "5y", "group_by": "<script>"})
    assert (r.context["period"], r.context["group_by"]) == ("7d", "provider")


def test_days_follow_the_viewers_zone(personas, known):
    client = personas.viewer.client()
    # UTC+14: the 10th there ends at 10:00 UTC, so 08:30-09:40 UTC count on it and the rest on the 11th.
    client.cookies["tz"] = "Pacific/Kiritimati"
    r = client.get("/comparison/")
    assert r.context["tz_name"] == "Pacific/Kiritimati"
    assert [(b.start.isoformat(), b.calls) for b in r.context["result"].buckets if b.calls] == [
        ("2026-11-09T10:00:00+00:00", 4), ("2026-11-10T10:00:00+00:00", 4)]


def test_names_are_escaped(personas, known):
    Agent.objects.filter(pk=known.a1.pk).update(name="<img src=x onerror=alert(1)>")
    html = personas.viewer.client().get("/comparison/", {"group_by": "agent"}).content.decode()
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_the_csv_has_the_table_with_the_same_filters(personas, known):
    r = personas.viewer.client().get("/comparison/export.csv", {"period": "24h", "group_by": "profile"})
    assert r.status_code == 200
    assert r["Content-Type"] == "text/csv; charset=utf-8"
    assert r["Content-Disposition"] == 'attachment; filename="comparison-profile-24h-20261110-123000.csv"'
    assert r["Cache-Control"] == "no-store"
    common = {"group_by": "profile", "provider": "", "since": "2026-11-09T12:00:00Z", "until": "2026-11-10T13:00:00Z"}
    assert csv_rows(r) == [
        # The 24 hours reach back to 12:00 the day before: the early call (08:30) counts here.
        {**common, "key": "", "name": "No routing profile", "calls": "6", "finished": "4", "answered": "2",
         "completed": "2", "answer_rate": "0.5000", "completion_rate": "0.5000", "extraction_attempted": "2",
         "extraction_succeeded": "1", "extraction_success_rate": "0.5000", "talk_time_calls": "2",
         "talk_time_average_seconds": "115.0", "talk_time_p90_seconds": "300", "time_to_answer_calls": "3",
         "time_to_answer_average_seconds": "6.3", "failovers": "2", "cost_USD_total_milli_cents": "2700",
         "cost_USD_per_call_milli_cents": "450", "cost_USD_per_completed_call_milli_cents": "1350",
         "cost_USD_estimated": "true"},
        {**common, "key": str(known.profile.public_id), "name": "Split 50/50", "calls": "2", "finished": "2",
         "answered": "2", "completed": "2", "answer_rate": "1.0000", "completion_rate": "1.0000",
         "extraction_attempted": "2", "extraction_succeeded": "2", "extraction_success_rate": "1.0000",
         "talk_time_calls": "2", "talk_time_average_seconds": "375.0", "talk_time_p90_seconds": "1200",
         "time_to_answer_calls": "2", "time_to_answer_average_seconds": "6.5", "failovers": "1",
         "cost_USD_total_milli_cents": "10500", "cost_USD_per_call_milli_cents": "5250",
         "cost_USD_per_completed_call_milli_cents": "5250", "cost_USD_estimated": "false"},
    ]


def test_a_name_that_reads_as_a_formula_is_quoted_in_the_csv(personas, known):
    Agent.objects.filter(pk=known.a2.pk).update(name="=HYPERLINK(\"http://x\")")
    rows = csv_rows(personas.viewer.client().get("/comparison/export.csv", {"group_by": "agent"}))
    assert [row["name"] for row in rows] == ["Sales CB", "'=HYPERLINK(\"http://x\")"]


def test_an_outsider_sees_and_exports_only_its_own_organization(personas, known):
    client = personas.outsider.client()
    page = client.get("/comparison/")
    assert page.status_code == 200
    assert page.context["rows"] == []
    assert "CB main" not in page.content.decode() and 'data-testid="comparison-empty"' in page.content.decode()
    assert csv_rows(client.get("/comparison/export.csv")) == []


def test_signed_out_is_sent_to_log_in(client, known):
    for path in ("/comparison/", "/comparison/export.csv"):
        r = client.get(path)
        assert r.status_code == 302 and "/login" in r["Location"]
