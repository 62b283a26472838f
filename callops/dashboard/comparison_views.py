"""The Comparison page: provider accounts, agents, batches or routing profiles side by side over a
period (callops.analytics.comparison, from the rollups), a chart of calls over time, and the same
table as CSV."""

import csv
from datetime import timedelta

from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from callops.accounts.decorators import org_required
from callops.analytics import comparison, periods

from . import comparison_chart
from .tz import start_of_day, today, user_tz

# The period picker: the last 24 hours in hourly bars, or the last N local days (today included) in
# daily bars.
PERIODS = {"24h": "Last 24 hours", "7d": "Last 7 days", "30d": "Last 30 days", "90d": "Last 90 days"}
PERIOD_DAYS = {"7d": 7, "30d": 30, "90d": 90}
DEFAULT_PERIOD = "7d"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _choices(request):
    period = request.GET.get("period")
    group_by = request.GET.get("group_by")
    return (period if period in PERIODS else DEFAULT_PERIOD,
            group_by if group_by in comparison.GROUP_BY else comparison.GROUP_BY[0])


def _period(name: str, tz) -> periods.Period:
    now = timezone.now()
    if name == "24h":
        return periods.period(now - timedelta(hours=24), now, interval="hour", tz=tz, now=now)
    since = start_of_day(tz, today(tz) - timedelta(days=PERIOD_DAYS[name] - 1))
    return periods.period(since, now, interval="day", tz=tz, now=now)


def _build(request):
    period_name, group_by = _choices(request)
    tz = user_tz(request)
    return period_name, group_by, comparison.compare(request.org, group_by, _period(period_name, tz))


@org_required()
def comparison_page(request):
    period_name, group_by, result = _build(request)
    data = result.as_dict()
    # Each table row with the chart series it is drawn in (the busiest groups have their own colour).
    rows = [(g, f"g{i}" if i < comparison.CHART_GROUPS else "other") for i, g in enumerate(data["data"])]
    ctx = {
        "nav": "comparison", "result": result, "data": data, "rows": rows, "period": period_name, "periods": PERIODS.items(),
        "group_by": group_by, "group_choices": comparison.GROUP_LABELS.items(),
        "group_label": comparison.GROUP_LABELS[group_by], "chart": comparison_chart.stacked(result),
        "tz_name": str(result.period.tz),
        "chart_title": f"Calls per {result.period.interval} by {comparison.GROUP_LABELS[group_by].lower()}",
    }
    template = "dashboard/comparison.html"
    if request.htmx and not request.htmx.history_restore_request:
        template += "#results"
    return render(request, template, ctx)


class _Echo:
    """A file-like object whose write returns the line, so csv.writer can feed a generator."""

    def write(self, value):
        return value


def _text(value) -> str:
    # A name a spreadsheet would run as a formula gets a leading quote.
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _rate(value) -> str:
    return "" if value is None else f"{value:.4f}"


def _csv_lines(result: comparison.Comparison):
    writer = csv.writer(_Echo())
    currencies = sorted({c.currency for g in result.groups for c in g.costs.values()})
    yield writer.writerow(
        ["group_by", "key", "name", "provider", "since", "until", "calls", "finished", "answered", "completed",
         "answer_rate", "completion_rate", "extraction_attempted", "extraction_succeeded",
         "extraction_success_rate", "talk_time_calls", "talk_time_average_seconds", "talk_time_p90_seconds",
         "time_to_answer_calls", "time_to_answer_average_seconds", "failovers"]
        + [f"cost_{c}_{part}" for c in currencies for part in
           ("total_milli_cents", "per_call_milli_cents", "per_completed_call_milli_cents", "estimated")])
    d = result.as_dict()
    for g in d["data"]:
        costs = {c["currency"]: c for c in g["cost"]}
        cost_cells: list = []
        for c in currencies:
            cost = costs.get(c)
            cost_cells += ["", "", "", ""] if cost is None else [
                cost["total_milli_cents"], _blank(cost["per_call_milli_cents"]),
                _blank(cost["per_completed_call_milli_cents"]), "true" if cost["estimated"] else "false"]
        yield writer.writerow(
            [result.group_by, g["key"] or "", _text(g["name"]), g["provider"] or "", d["since"], d["until"],
             g["calls"], g["finished"], g["answered"], g["completed"], _rate(g["answer_rate"]),
             _rate(g["completion_rate"]), g["extraction_attempted"], g["extraction_succeeded"],
             _rate(g["extraction_success_rate"]), g["talk_time"]["calls"], _blank(g["talk_time"]["average_seconds"]),
             _blank(g["talk_time"]["p90_seconds"]), g["time_to_answer"]["calls"],
             _blank(g["time_to_answer"]["average_seconds"]), g["failovers"]] + cost_cells)


def _blank(value) -> str:
    return "" if value is None else str(value)


@org_required()
def comparison_export(request):
    period_name, group_by, result = _build(request)
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(_csv_lines(result), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="comparison-{group_by}-{period_name}-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response
