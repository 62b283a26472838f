"""Dashboard overview: today's and this week's calls, rates, chart, breakdowns, live calls."""

from django.shortcuts import render
from django_htmx.http import HttpResponseStopPolling

from callops.accounts.decorators import org_required

from . import charts, stats
from .tz import user_tz

# The open-problem counts are the triage page's own counts over this window, so each number
# matches the page its link opens.
PROBLEM_WINDOW = "7d"


@org_required()
def overview(request):
    from . import triage

    tz = user_tz(request)
    ov = stats.build_overview(request.org, tz)
    status_rows = [(s, ov.today_by_status.get(s, 0), ov.week_by_status.get(s, 0)) for s in stats.STATUS_ORDER]
    problems = triage.problem_totals(request.org, PROBLEM_WINDOW)
    return render(request, "dashboard/overview.html", {
        "ov": ov,
        "status_rows": status_rows,
        "chart": charts.stacked_days(ov.days),
        "live": stats.live_calls(request.org),
        "nav": "overview",
        "problems": problems,
        "problem_total": sum(problems.values()),
        "problem_window": PROBLEM_WINDOW,
    })


@org_required()
def overview_live(request):
    """The "in progress now" panel, polled by the overview page."""
    live = stats.live_calls(request.org)
    return render(request, "dashboard/overview.html#live_calls", {"live": live})


def stop_polling_if(done: bool, response):
    """Swap in the final fragment and tell htmx to stop polling (HTTP 286) once nothing will change."""
    if not done:
        return response
    stopped = HttpResponseStopPolling(response.content)
    for key, value in response.items():
        stopped[key] = value
    return stopped
