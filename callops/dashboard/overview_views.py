"""Dashboard overview: today's and this week's calls, rates, chart, breakdowns, live calls, open problems."""

from django.shortcuts import render

from callops.accounts.decorators import org_required
from callops.accounts.models import ApiKey
from callops.accounts.tenancy import scoped
from callops.calls.models import Agent, Call
from callops.triage.groups import problem_totals
from callops.webhooks.models import WebhookEndpoint

from . import charts, overview_stats
from .tz import user_tz

# The open-problem counts are the triage page's own counts over this window, so each number
# matches the page its link opens.
PROBLEM_WINDOW = "7d"


@org_required()
def overview(request):
    tz = user_tz(request)
    ov = overview_stats.build_overview(request.org, tz)
    status_rows = [(s, ov.today_by_status.get(s, 0), ov.week_by_status.get(s, 0))
                   for s in overview_stats.STATUS_ORDER]
    problems = problem_totals(request.org, PROBLEM_WINDOW)
    first_run = None
    if not ov.week_total and not ov.prev_week_total and not scoped(Call, request.org).exists():
        # An organization that never placed a call: what to do first, with what is already done.
        first_run = {"agent": scoped(Agent, request.org).filter(is_active=True).exists(),
                     "key": scoped(ApiKey, request.org).exists(),
                     "endpoint": scoped(WebhookEndpoint, request.org).exists()}
    return render(request, "dashboard/overview.html", {
        "ov": ov,
        "status_rows": status_rows,
        "chart": charts.stacked_days(ov.days),
        "live": overview_stats.live_calls(request.org),
        "nav": "overview",
        "problems": problems,
        "problem_total": sum(problems.values()),
        "problem_window": PROBLEM_WINDOW,
        "first_run": first_run,
    })


@org_required()
def overview_live(request):
    """The "in progress now" panel, polled by the overview page."""
    live = overview_stats.live_calls(request.org)
    return render(request, "dashboard/overview.html#live_calls", {"live": live})
