"""The overview, triage and batch summaries read the call rollups: the reader's days across a DST
change, triage windows on whole UTC hours, and a batch's counts from its counters."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from callops.batches.models import Batch
from callops.batches.progress import progress
from callops.calls import services
from callops.calls.models import CallDayRollup, CallRollup, CallStatus, EventSource
from callops.dashboard.overview_stats import build_overview
from callops.triage import sources, windows
from callops.triage.groups import build

pytestmark = pytest.mark.django_db
NEW_YORK = ZoneInfo("America/New_York")


def at(iso: str) -> datetime:
    return datetime.fromisoformat(iso).replace(tzinfo=UTC)


def test_overview_days_are_the_readers_across_the_spring_dst_change(clock, personas, make_call):
    # Clock: 2026-03-10 15:00 UTC. New York moved from EST (UTC-5) to EDT (UTC-4) at 2026-03-08 07:00 UTC.
    now = clock.now()
    created = [at("2026-03-08T04:30"),  # Mar 7, 23:30 EST
               at("2026-03-08T05:30"),  # Mar 8, 00:30 EST
               at("2026-03-09T03:30"),  # Mar 8, 23:30 EDT (the 23-hour day's last hour)
               at("2026-03-09T04:30")]  # Mar 9, 00:30 EDT
    for when in created:
        make_call(CallStatus.COMPLETED, age=now - when)

    days = dict(build_overview(personas.org, NEW_YORK).days)
    assert {d: sum(v.values()) for d, v in days.items() if sum(v.values())} == {
        date(2026, 3, 7): 1, date(2026, 3, 8): 2, date(2026, 3, 9): 1}
    assert days[date(2026, 3, 8)]["completed"] == 2
    # The same buckets grouped in UTC give other days: the zone is applied when reading.
    utc_days = dict(build_overview(personas.org, UTC).days)
    assert {d: sum(v.values()) for d, v in utc_days.items() if sum(v.values())} == {
        date(2026, 3, 8): 2, date(2026, 3, 9): 2}
    # Through the page, with the zone from the reader's cookie.
    client = personas.viewer.client()
    client.cookies["tz"] = "America%2FNew_York"
    page = client.get(reverse("dashboard:overview"))
    assert page.status_code == 200
    assert {d: sum(v.values()) for d, v in page.context["ov"].days if sum(v.values())} == {
        date(2026, 3, 7): 1, date(2026, 3, 8): 2, date(2026, 3, 9): 1}


def test_overview_days_across_the_autumn_dst_change(clock, personas, make_call):
    clock.advance((at("2026-11-03T15:00") - clock.now()).total_seconds())
    now = clock.now()
    # New York left EDT for EST at 2026-11-01 06:00 UTC: Nov 1 has 25 hours.
    for when in (at("2026-11-01T03:30"),  # Oct 31, 23:30 EDT
                 at("2026-11-01T04:30"),  # Nov 1, 00:30 EDT
                 at("2026-11-02T04:30"),  # Nov 1, 23:30 EST
                 at("2026-11-02T05:30")):  # Nov 2, 00:30 EST
        make_call(CallStatus.COMPLETED, age=now - when)
    days = dict(build_overview(personas.org, NEW_YORK).days)
    assert {d: sum(v.values()) for d, v in days.items() if sum(v.values())} == {
        date(2026, 10, 31): 1, date(2026, 11, 1): 2, date(2026, 11, 2): 1}
    ov = build_overview(personas.org, NEW_YORK)
    assert (ov.week_total, ov.today_total) == (4, 0)


def test_triage_windows_start_on_a_utc_hour_and_actions_select_the_same_calls(clock, personas, failed_call):
    clock.advance(20 * 60)  # 2026-03-10 15:20 UTC
    now = clock.now()
    assert windows.bounds("24h") == (at("2026-03-08T15:00"), at("2026-03-09T15:00"), now)
    inside = failed_call("balance_low", ago=timedelta(hours=24, minutes=10))  # created 15:09:30 the day before
    before = failed_call("balance_low", ago=timedelta(hours=24, minutes=30))  # created 14:49:30: previous window
    groups, _ = build(personas.org, "24h")
    (group,) = groups
    assert (group.count, group.previous) == (1, 1)
    assert (group.first_seen, group.last_seen) == (inside.ended_at, inside.ended_at)
    prev_start, start, end = windows.bounds("24h")
    selected = sources.calls_for_key(personas.org, group.key, start, end)
    assert list(selected.values_list("pk", flat=True)) == [inside.pk]
    assert before.created_at < start <= inside.created_at


def test_triage_counts_come_from_the_rollups(personas, failed_call):
    failed_call("balance_low")
    failed_call("balance_low")
    CallRollup.objects.filter(organization=personas.org, status="failed", n=2).update(n=5)
    (group,) = build(personas.org, "24h")[0]
    assert group.count == 5
    assert len(group.samples) == 2  # samples are the calls themselves


def test_batch_progress_counts_from_the_rollups(personas, sandbox_agent):
    batch = Batch.objects.create(organization=personas.org, agent=sandbox_agent, name="spring")
    calls = [services.create_call(org=personas.org, agent=sandbox_agent, to_number=f"+1415555010{i}", batch=batch)
             for i in range(3)]
    for call, seconds in zip(calls[:2], (30, 61), strict=True):
        for step in (CallStatus.RINGING, CallStatus.IN_PROGRESS):
            services.apply_status(call, step, source=EventSource.POLL)
        services.apply_status(call, CallStatus.COMPLETED, source=EventSource.POLL, fields={"duration_seconds": seconds})
    services.create_call(org=personas.org, agent=sandbox_agent, to_number="+14155550109")  # no batch
    got = progress(batch)
    assert got["calls"] == {**{s: 0 for s in CallStatus.values}, "completed": 2, "queued": 1}
    assert (got["attempts"], got["average_duration_seconds"]) == (3, 45.5)
    # Read from the daily rollups (a batch's summary covers all its days).
    CallDayRollup.objects.filter(batch_pk=batch.pk, status="queued").update(n=4)
    assert progress(batch)["calls"]["queued"] == 4
