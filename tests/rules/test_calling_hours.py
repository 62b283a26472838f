"""Local calling hours on every call path, read in the callee's zone, across DST changes.

Time is always injected: the rule functions take the moment, and the path tests move a frozen
clock (time-machine) to it. America/New_York springs forward on 2026-03-08 and falls back on
2026-11-01.
"""

from datetime import UTC, datetime, time, timedelta

import pytest
from django.urls import reverse

from callops.accounts.models import AuditEntry
from callops.batches import dispatch
from callops.batches.models import Batch, BatchRecipient, RecipientState
from callops.calls import redial, services
from callops.calls.jobs import enqueue_placements
from callops.calls.models import Call, CallEvent, CallStatus
from callops.rules import hours, policy
from callops.rules.models import CallingPolicy

NY = "+12125550100"  # America/New_York
IDAHO = "+12085550100"  # America/Boise and America/Los_Angeles
TOLL_FREE = "+18005550100"  # 42 zones: not tied to a place


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def nine_to_eight(**extra) -> CallingPolicy:
    return CallingPolicy(hours_start=time(9), hours_end=time(20), **extra)


# --- the rule itself ------------------------------------------------------------------------------

@pytest.mark.parametrize("at,is_open", [
    (utc(2026, 3, 7, 13, 59), False),  # 08:59 EST, the day before the change
    (utc(2026, 3, 7, 14, 0), True),  # 09:00 EST
    (utc(2026, 3, 9, 12, 59), False),  # 08:59 EDT: the same UTC hour was open before the change
    (utc(2026, 3, 9, 13, 0), True),  # 09:00 EDT
    (utc(2026, 3, 9, 23, 59), True),  # 19:59 EDT
    (utc(2026, 3, 10, 0, 0), False),  # 20:00 EDT
    (utc(2026, 11, 2, 13, 30), False),  # 08:30 EST, after the fall back
    (utc(2026, 11, 2, 14, 0), True),  # 09:00 EST
    (utc(2026, 11, 3, 0, 59), True),  # 19:59 EST
    (utc(2026, 11, 3, 1, 0), False),  # 20:00 EST
])
def test_the_window_follows_new_york_across_dst(at, is_open):
    assert (hours.closed(nine_to_eight(), NY, at) is None) is is_open


def test_evening_before_spring_forward_opens_at_nine_daylight_time():
    shut = hours.closed(nine_to_eight(), NY, utc(2026, 3, 8, 1, 30))  # Sat 20:30 EST
    assert shut is not None
    assert shut.opens_at == utc(2026, 3, 8, 13, 0)  # Sun 09:00 EDT, an hour earlier in UTC than Saturday's
    assert shut.message == ("it is 20:30 in America/New_York for +12125550100, outside the calling hours "
                            "09:00\u201320:00; the window opens at 2026-03-08T09:00:00-04:00")


def test_evening_before_fall_back_opens_at_nine_standard_time():
    shut = hours.closed(nine_to_eight(), NY, utc(2026, 11, 1, 0, 30))  # Sat 20:30 EDT
    assert shut is not None
    assert shut.opens_at == utc(2026, 11, 1, 14, 0)  # Sun 09:00 EST


def test_an_opening_inside_the_skipped_hour_is_the_first_minute_that_exists():
    rules = CallingPolicy(hours_start=time(2, 30), hours_end=time(4))
    shut = hours.closed(rules, NY, utc(2026, 3, 8, 6, 0))  # 01:00 EST; 02:00-03:00 never happens
    assert shut is not None
    assert shut.opens_at == utc(2026, 3, 8, 7, 30)  # 03:30 EDT


def test_a_number_on_a_zone_border_waits_for_both_zones():
    at = utc(2026, 3, 10, 15, 59)  # 09:59 in Boise, 08:59 in Los Angeles
    shut = hours.closed(nine_to_eight(), IDAHO, at)
    assert shut is not None and shut.opens_at == utc(2026, 3, 10, 16, 0)
    assert hours.closed(nine_to_eight(), IDAHO, utc(2026, 3, 10, 16, 0)) is None
    # 20:00 in Boise while Los Angeles is still at 19:00: closed.
    assert hours.closed(nine_to_eight(), IDAHO, utc(2026, 3, 11, 2, 0)) is not None


def test_a_number_tied_to_no_place_uses_the_organizations_zone_or_the_batch_zone():
    rules = nine_to_eight(time_zone="America/Chicago")
    assert hours.closed(rules, TOLL_FREE, utc(2026, 3, 10, 13, 30)) is not None  # 08:30 CDT
    assert hours.closed(rules, TOLL_FREE, utc(2026, 3, 10, 14, 0)) is None  # 09:00 CDT
    # A batch call reads it in the batch's zone instead: 07:00 in Los Angeles.
    assert hours.closed(rules, TOLL_FREE, utc(2026, 3, 10, 14, 0), fallback_zone="America/Los_Angeles") is not None


def test_no_hours_set_means_any_hour():
    assert hours.closed(CallingPolicy(), NY, utc(2026, 3, 10, 5, 0)) is None
    assert hours.closed(None, NY, utc(2026, 3, 10, 5, 0)) is None


# --- every call path ---------------------------------------------------------------------------------

SAT_EVENING = utc(2026, 3, 8, 1, 30)  # 20:30 EST, the evening before spring forward
SUN_OPENING = utc(2026, 3, 8, 13, 0)  # 09:00 EDT
CLOSED_MESSAGE = ("it is 20:30 in America/New_York for +12125550100, outside the calling hours 09:00\u201320:00; "
                  "the window opens at 2026-03-08T09:00:00-04:00")


@pytest.fixture
def hours_set(personas):
    return policy.update(personas.org, {"hours_start": time(9), "hours_end": time(20)})


@pytest.fixture
def saturday_evening(time_machine):
    time_machine.move_to(SAT_EVENING, tick=False)
    return time_machine


def test_api_call_outside_hours_is_scheduled_for_the_opening(api, sandbox_agent, hours_set, saturday_evening, dials):
    r = api.post("/v1/calls", {"agent_id": str(sandbox_agent.public_id), "to": NY})
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["status"] == "queued" and body["scheduled_at"] == "2026-03-08T13:00:00Z"
    assert dials == []
    call = Call.objects.get()
    assert call.dial_claimed_at is None
    assert call.events.filter(kind=CallEvent.Kind.NOTE, note="outside the calling hours: scheduled for the "
                              "window's opening, 2026-03-08T13:00:00+00:00").exists()


def test_api_call_outside_hours_is_refused_when_asked(api, sandbox_agent, hours_set, saturday_evening, dials):
    r = api.post("/v1/calls", {"agent_id": str(sandbox_agent.public_id), "to": NY, "outside_hours": "reject"})
    assert r.status_code == 409
    assert r.json() == {"error": CLOSED_MESSAGE}
    assert not Call.objects.exists() and dials == []
    entry = AuditEntry.objects.get(action="call.refused")
    assert entry.detail == {"code": "outside_hours", "to_number": NY, "message": CLOSED_MESSAGE}


def test_api_reject_inside_hours_places_the_call(api, sandbox_agent, hours_set, time_machine, dials):
    time_machine.move_to(SUN_OPENING, tick=False)
    r = api.post("/v1/calls", {"agent_id": str(sandbox_agent.public_id), "to": NY, "outside_hours": "reject"})
    assert r.status_code == 201, r.content
    assert dials == [NY]


@pytest.mark.parametrize("value", ["later", "", 1, ["reject"]])
def test_api_refuses_a_bad_outside_hours_value(api, sandbox_agent, hours_set, value):
    r = api.post("/v1/calls", {"agent_id": str(sandbox_agent.public_id), "to": NY, "outside_hours": value})
    assert r.status_code == 400
    assert r.json() == {"error": f"outside_hours must be schedule or reject, not {value!r}",
                        "fields": {"outside_hours": "must be schedule or reject"}}
    assert not Call.objects.exists()


def test_api_scheduled_call_at_a_closed_time_moves_to_the_opening(api, sandbox_agent, hours_set, time_machine):
    time_machine.move_to(utc(2026, 11, 1, 12, 0), tick=False)
    # Asked for 08:30 EST on the morning after the fall back: moved to 09:00 EST.
    r = api.post("/v1/calls", {"agent_id": str(sandbox_agent.public_id), "to": NY,
                               "scheduled_at": "2026-11-01T08:30:00-05:00"})
    assert r.status_code == 201, r.content
    assert r.json()["scheduled_at"] == "2026-11-01T14:00:00Z"


def test_dashboard_form_refuses_outside_hours_when_asked(personas, sandbox_agent, hours_set, saturday_evening):
    client = personas.member.client()
    token = client.get(reverse("dashboard:call_new")).context["form_token"]
    r = client.post(reverse("dashboard:call_new"), {"agent_id": str(sandbox_agent.public_id), "to": NY,
                                                    "outside_hours": "reject", "form_token": token})
    assert r.status_code == 400
    assert r.context["errors"]["to"] == CLOSED_MESSAGE
    assert not Call.objects.exists()


def test_dashboard_form_schedules_outside_hours_by_default(personas, sandbox_agent, hours_set, saturday_evening,
                                                           dials):
    client = personas.member.client()
    token = client.get(reverse("dashboard:call_new")).context["form_token"]
    r = client.post(reverse("dashboard:call_new"), {"agent_id": str(sandbox_agent.public_id), "to": NY,
                                                    "form_token": token})
    assert r.status_code == 302
    call = Call.objects.get()
    assert call.scheduled_at == SUN_OPENING and call.status == CallStatus.QUEUED
    assert dials == []


def test_dashboard_form_refuses_a_bad_outside_hours_value(personas, sandbox_agent, hours_set, saturday_evening):
    client = personas.member.client()
    token = client.get(reverse("dashboard:call_new")).context["form_token"]
    r = client.post(reverse("dashboard:call_new"), {"agent_id": str(sandbox_agent.public_id), "to": NY,
                                                    "outside_hours": "whenever", "form_token": token})
    assert r.status_code == 400
    assert r.context["errors"]["outside_hours"] == \
        "choose whether to schedule or refuse a call outside the calling hours"


def test_a_batch_without_a_window_defers_recipients_to_their_opening(personas, sandbox_agent, hours_set,
                                                                     make_batch, saturday_evening):
    # 20:30 in New York, 17:30 in Los Angeles: only the Californian is called now.
    batch = make_batch(sandbox_agent, [NY, "+14155550100"], now=SAT_EVENING)
    done = dispatch.tick(batch.pk, now=SAT_EVENING)
    assert done.result["dispatched"] == 1
    ny = BatchRecipient.objects.get(batch=batch, phone=NY)
    assert ny.state == RecipientState.PENDING and ny.next_attempt_at == SUN_OPENING
    assert BatchRecipient.objects.get(batch=batch, phone="+14155550100").state == RecipientState.DIALING


def test_a_batch_window_must_lie_within_the_organizations_hours(api, sandbox_agent, hours_set):
    r = api.post("/v1/batches", {"agent_id": str(sandbox_agent.public_id), "recipients": [NY],
                                 "window": {"start_hour": 8, "end_hour": 18}})
    assert r.status_code == 400
    assert r.json()["fields"]["window"] == ("the calling window 08:00\u201318:00 must lie within the "
                                            "organization's calling hours 09:00\u201320:00")
    assert not Batch.objects.exists()
    r = api.post("/v1/batches", {"agent_id": str(sandbox_agent.public_id), "recipients": [NY],
                                 "window": {"start_hour": 9, "end_hour": 20}})
    assert r.status_code == 201, r.content


def _assert_deferred_to_sunday(call, dials):
    call.refresh_from_db()
    assert call.status == CallStatus.QUEUED and call.dial_claimed_at is None
    assert call.scheduled_at == SUN_OPENING
    assert call.events.filter(kind=CallEvent.Kind.NOTE,
                              note=f"deferred to {SUN_OPENING.isoformat()}: {CLOSED_MESSAGE}").exists()
    assert AuditEntry.objects.get(action="call.deferred", target=str(call.public_id)).detail["code"] == \
        "outside_hours"
    assert dials == []


def test_a_scheduled_call_due_outside_hours_is_deferred_at_dial_time(
        personas, sandbox_agent, hours_set, saturday_evening, dials, run_jobs, django_capture_on_commit_callbacks):
    # Scheduled before the hours were set, for a moment that is now outside them.
    call = services.create_call(org=personas.org, agent=sandbox_agent, to_number=NY, scheduled_at=SAT_EVENING)
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_placements([call.pk])
    run_jobs()
    _assert_deferred_to_sunday(call, dials)
    saturday_evening.move_to(SUN_OPENING + timedelta(seconds=1), tick=False)
    services.place_call(call)
    assert dials == [NY]


def test_a_retry_outside_hours_is_deferred_at_dial_time(personas, make_call, hours_set, saturday_evening, dials,
                                                       run_jobs):
    original = make_call(CallStatus.NO_ANSWER, to=NY)
    retry = redial.retry_call(original)
    run_jobs()
    _assert_deferred_to_sunday(retry, dials)
