"""Overview figures from one aggregate query over a bounded window (the last 14 days).

The figures come from the call rollups, not from the calls: the window's counters, read from the
daily rollups for its whole UTC days and from the hourly ones for the rest (calls.rollup_windows),
whose number depends on the days and the tuples in them, not on how many calls there were;
folded in Python.

Days are the reader's: each hour is counted under the local date of its start, at read time, so a
day across a DST change has 23 or 25 hours and every call is counted on the day it was created
there. (In a zone whose offset is not whole hours, such as Asia/Kolkata, the hour that straddles
local midnight counts on the day it starts in.)
"""

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from callops.accounts.tenancy import scoped
from callops.calls import rollup_windows
from callops.calls.models import ACTIVE, TERMINAL, Agent, Call, CallStatus

from .tz import start_of_day, today

STATUS_ORDER = [CallStatus.QUEUED, CallStatus.INITIATED, CallStatus.RINGING, CallStatus.IN_PROGRESS,
                CallStatus.COMPLETED, CallStatus.NO_ANSWER, CallStatus.BUSY, CallStatus.CANCELED,
                CallStatus.FAILED]
# Outcomes the chart stacks, bottom to top; everything not yet terminal is "live".
CHART_SERIES: list[tuple[str, str, set[str]]] = [
    ("completed", "Completed", {CallStatus.COMPLETED}),
    ("no_answer", "No answer / busy", {CallStatus.NO_ANSWER, CallStatus.BUSY}),
    ("failed", "Failed", {CallStatus.FAILED}),
    ("canceled", "Canceled", {CallStatus.CANCELED}),
    ("live", "In flight", set(ACTIVE)),
]
# Statuses that count as a dial attempt that ran its course (canceled calls never rang anybody).
FINISHED = TERMINAL - {CallStatus.CANCELED}


@dataclass
class Rate:
    current: float | None
    previous: float | None

    @property
    def change(self):
        if self.current is None or self.previous is None:
            return None
        return self.current - self.previous


@dataclass
class Overview:
    today_by_status: dict = field(default_factory=dict)
    week_by_status: dict = field(default_factory=dict)
    today_total: int = 0
    week_total: int = 0
    prev_week_total: int = 0
    answer_rate: Rate | None = None
    completion_rate: Rate | None = None
    days: list = field(default_factory=list)  # [(date, {series: n})]
    by_provider: list = field(default_factory=list)
    by_agent: list = field(default_factory=list)


def _ratio(num, den):
    return num / den if den else None


def build_overview(org, tz, days: int = 7) -> Overview:
    """Every figure from one read of the rollups of the last 2×`days` days, folded in Python.

    Grouping by (local day, status, provider, agent) yields at most days×2 × 9 × agents small rows,
    so the database reads the window's counters once instead of once per figure.
    """
    day0 = today(tz)
    week_first = day0 - timedelta(days=days - 1)
    prev_start = start_of_day(tz, day0 - timedelta(days=2 * days - 1))
    rows = rollup_windows.counters(org.pk, prev_start, None, ("status", "provider", "agent_pk"), ("n", "answered"),
                                   local_days=tz)

    ov = Overview()
    grid = {day0 - timedelta(days=i): {key: 0 for key, _, _ in CHART_SERIES} for i in range(days)}
    series_of = {status: key for key, _, statuses in CHART_SERIES for status in statuses}
    finished = {"week": 0, "prev": 0}
    answered = {"week": 0, "prev": 0}
    completed = {"week": 0, "prev": 0}
    by_provider: dict[Any, dict] = {}
    by_agent: dict[Any, dict] = {}
    for r in rows:
        status, n, day = r["status"], r["n"], r["day"]
        period = "week" if day >= week_first else "prev"
        if period == "prev":
            ov.prev_week_total += n
        else:
            ov.week_total += n
            ov.week_by_status[status] = ov.week_by_status.get(status, 0) + n
            if day in grid:
                grid[day][series_of[status]] += n
            for table, key, extra in ((by_provider, r["provider"], {"provider": r["provider"]}),
                                      (by_agent, r["agent_pk"], {"agent_id": r["agent_pk"]})):
                entry = table.setdefault(key, {**extra, "total": 0, "completed": 0, "failed": 0, "unanswered": 0})
                entry["total"] += n
                if status == CallStatus.COMPLETED:
                    entry["completed"] += n
                elif status == CallStatus.FAILED:
                    entry["failed"] += n
                elif status in (CallStatus.NO_ANSWER, CallStatus.BUSY):
                    entry["unanswered"] += n
        if day == day0:
            ov.today_total += n
            ov.today_by_status[status] = ov.today_by_status.get(status, 0) + n
        if status in FINISHED:
            finished[period] += n
            answered[period] += r["answered"]
        if status == CallStatus.COMPLETED:
            completed[period] += n
    ov.answer_rate = Rate(_ratio(answered["week"], finished["week"]), _ratio(answered["prev"], finished["prev"]))
    ov.completion_rate = Rate(_ratio(completed["week"], finished["week"]),
                              _ratio(completed["prev"], finished["prev"]))
    ov.days = sorted(grid.items())
    ov.by_provider = sorted(by_provider.values(), key=lambda e: -e["total"])[:10]
    top_agents = sorted(by_agent.values(), key=lambda e: -e["total"])[:10]
    agents = {pk: (pid, name) for pk, pid, name in Agent.objects.filter(
        pk__in=[e["agent_id"] for e in top_agents]).values_list("pk", "public_id", "name")} if top_agents else {}
    for e in top_agents:
        e["agent__public_id"], e["agent__name"] = agents.get(e["agent_id"], ("", "?"))
    ov.by_agent = top_agents
    return ov


def live_calls(org, limit: int = 10):
    """Calls not yet terminal, newest first.

    One small query per live status, each a range on `call_org_status_recent` stopping after
    `limit` rows. A single `status IN (...)` would walk the org's whole history backwards when
    nothing is live, which with a million calls is the slowest possible answer to "none".
    """
    found = []
    for status in sorted(ACTIVE):
        found += scoped(Call, org).filter(status=status).select_related("agent").order_by("-created_at", "-id")[:limit]
    found.sort(key=lambda c: (c.created_at, c.pk), reverse=True)
    return found[:limit]
