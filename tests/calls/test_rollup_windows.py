"""Daily rollups: kept with the hourly ones by every write, and read for a window's whole days
(calls.rollup_windows) with exactly the figures the hours alone give, in any zone, across DST."""

import random
import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import Sum
from django.db.models.functions import TruncDate

from callops.calls import rollup_reconcile, rollup_windows
from callops.calls.models import Call, CallDayRollup, CallRollup, CallStatus

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 10, 15, 20, tzinfo=UTC)
STATUSES = [CallStatus.COMPLETED, CallStatus.NO_ANSWER, CallStatus.FAILED, CallStatus.QUEUED, CallStatus.BUSY]
# UTC; a zone changing to winter time on 1 November; half-hour offsets; +14 and -11 (the home day
# of a UTC day is then the next or the previous date); a 30-minute DST change (Lord Howe, 5 April
# 2026 is outside the data, so its offset is +11 throughout); a zone changing on 25 October.
ZONES = ["UTC", "America/New_York", "Asia/Kolkata", "Pacific/Kiritimati", "Pacific/Pago_Pago",
         "Australia/Lord_Howe", "Europe/Berlin", "Asia/Kathmandu"]


@pytest.fixture
def calls(personas, sandbox_agent):
    """600 calls over the 24 days before NOW, in three statuses moves and a few deletions."""
    rnd = random.Random(7)
    account = sandbox_agent.provider_account
    made = Call.objects.bulk_create([
        Call(organization=personas.org, agent=sandbox_agent, provider_account=account, provider=account.kind,
             to_number=f"+1415555{i:04d}", status=rnd.choice(STATUSES),
             created_at=NOW - timedelta(minutes=rnd.randrange(24 * 24 * 60)),
             answered_at=NOW if i % 3 == 0 else None, duration_seconds=i % 90 if i % 3 == 0 else None)
        for i in range(600)])
    pks = [c.pk for c in made]
    Call.objects.filter(pk__in=pks[:80], status=CallStatus.QUEUED).update(status=CallStatus.CANCELED)
    Call.objects.filter(pk__in=pks[100:140]).update(error_code="balance_low", status=CallStatus.FAILED)
    Call.objects.filter(pk__in=pks[200:210]).delete()
    return personas.org


def hourly(org, since, until, dims, sums, tz=None):
    """What the hours alone give: the reading every page made before the daily rollups."""
    rows = CallRollup.objects.filter(organization=org, hour__gte=since, n__gt=0)
    if until is not None:
        rows = rows.filter(hour__lt=until)
    by = list(dims)
    if tz is not None:
        rows = rows.annotate(day=TruncDate("hour", tzinfo=tz))
        by.append("day")
    return sorted_rows(rows.values(*by).annotate(**{s: Sum(s) for s in sums}).order_by())


def sorted_rows(rows):
    return sorted(tuple(sorted(r.items())) for r in rows)


def test_writes_keep_the_days_equal_to_the_hours_and_the_calls(calls):
    assert rollup_reconcile.check() == []
    day_total = CallDayRollup.objects.filter(organization=calls).aggregate(n=Sum("n"))["n"]
    assert day_total == Call.objects.filter(organization=calls).count() == 590
    # Every day row is its day's hours added up.
    days = {(r["day"], r["status"], r["error_code"]): r["n"]
            for r in CallDayRollup.objects.filter(n__gt=0).values("day", "status", "error_code", "n")}
    hours: dict = {}
    for r in CallRollup.objects.filter(n__gt=0).values("hour", "status", "error_code", "n"):
        key = (r["hour"].replace(hour=0), r["status"], r["error_code"])
        hours[key] = hours.get(key, 0) + r["n"]
    assert days == hours
    assert len(days) < CallRollup.objects.filter(n__gt=0).count()


@pytest.mark.parametrize("zone", ZONES)
def test_local_days_from_the_days_equal_the_hours_alone(calls, zone):
    tz = zoneinfo.ZoneInfo(zone)
    dims, sums = ("status", "provider", "agent_pk"), ("n", "answered", "talk_seconds")
    # The overview's window: local midnight 14 days back, open-ended.
    since = datetime.combine((NOW.astimezone(tz) - timedelta(days=13)).date(), datetime.min.time(), tzinfo=tz)
    got = rollup_windows.counters(calls.pk, since, None, dims, sums, local_days=tz, now=NOW)
    assert sorted_rows(got) == hourly(calls, since, None, dims, sums, tz)
    assert sum(r["n"] for r in got) == Call.objects.filter(organization=calls, created_at__gte=since).count()
    # A closed period with ragged ends on both sides, across the DST changes.
    since, until = datetime(2026, 10, 20, 7, tzinfo=UTC), datetime(2026, 11, 6, 17, tzinfo=UTC)
    got = rollup_windows.counters(calls.pk, since, until, ("status",), ("n",), local_days=tz, now=NOW)
    assert sorted_rows(got) == hourly(calls, since, until, ("status",), ("n",), tz)


def test_totals_over_a_period_without_days_equal_the_hours_alone(calls):
    cases = [
        (datetime(2026, 10, 20, 7, tzinfo=UTC), datetime(2026, 11, 6, 17, tzinfo=UTC)),  # ragged both ends
        (datetime(2026, 10, 20, tzinfo=UTC), datetime(2026, 11, 6, tzinfo=UTC)),  # whole days only
        (datetime(2026, 11, 3, 5, tzinfo=UTC), datetime(2026, 11, 3, 9, tzinfo=UTC)),  # inside one day
        (datetime(2026, 10, 25, 13, tzinfo=UTC), datetime(2026, 11, 11, tzinfo=UTC)),  # past now: up to now
    ]
    for since, until in cases:
        got = rollup_windows.counters(calls.pk, since, until, ("status", "error_code"), ("n", "answered"), now=NOW)
        assert sorted_rows(got) == hourly(calls, since, until, ("status", "error_code"), ("n", "answered"))
        assert sum(r["n"] for r in got) == Call.objects.filter(
            organization=calls, created_at__gte=since, created_at__lt=until).count()


def test_a_window_reads_whole_days_from_the_daily_rows(calls, django_assert_num_queries):
    # UTC: the whole days come from the daily rollups and only the ragged start from the hours.
    since = datetime(2026, 10, 27, 10, tzinfo=UTC)
    days, homes, ranges = rollup_windows._plan(since, None, UTC, NOW)
    assert days[0] == datetime(2026, 10, 28, tzinfo=UTC) and days[-1] == datetime(2026, 11, 10, tzinfo=UTC)
    assert ranges == [(since, datetime(2026, 10, 28, tzinfo=UTC))]
    assert set(homes.values()) == {d.date() for d in days}
    # New York: the 4 or 5 hours after UTC midnight belong to the local day before.
    # (UTC-4 until 06:00 UTC on 1 November, UTC-5 after; the ragged start joins the first day's.)
    days, homes, ranges = rollup_windows._plan(since, None, zoneinfo.ZoneInfo("America/New_York"), NOW)
    at = lambda day, hour: datetime(2026, 10 if day > 15 else 11, day, hour, tzinfo=UTC)  # noqa: E731
    assert ranges == [(since, at(28, 4)), *((at(d, 0), at(d, 4)) for d in (29, 30, 31, 1)),
                      *((at(d, 0), at(d, 5)) for d in range(2, 11))]
    assert homes[at(1, 0)] == datetime(2026, 11, 1).date()
    with django_assert_num_queries(2):
        rollup_windows.counters(calls.pk, since, None, ("status",), ("n",), local_days=UTC, now=NOW)


def test_rebuild_writes_both_grains_and_check_reports_drift_in_the_days(calls):
    CallDayRollup.objects.filter(organization=calls, status=CallStatus.COMPLETED).update(n=0)
    drift = rollup_reconcile.check(org_id=calls.pk)
    assert drift and all("day" in d.key and d.key["status"] == CallStatus.COMPLETED for d in drift)
    assert all(": stored vs calls: n 0 -> " in d.describe() for d in drift)
    written = rollup_reconcile.rebuild(org_id=calls.pk)
    assert written == CallRollup.objects.count() + CallDayRollup.objects.count()
    assert CallDayRollup.objects.filter(n=0).count() == 0
    assert rollup_reconcile.check(org_id=calls.pk) == []
