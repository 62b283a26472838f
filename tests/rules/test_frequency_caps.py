"""Frequency caps on every call path: the API and the dashboard refuse (409 / form error), batches
defer the recipient, scheduled and retried calls are deferred at dial time."""

import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from callops.accounts.models import AuditEntry
from callops.batches import dispatch
from callops.batches.models import BatchRecipient, RecipientState
from callops.calls import redial, services
from callops.calls.jobs import enqueue_placements
from callops.calls.models import Call, CallEvent, CallStatus, EventSource
from callops.rules import caps, gate, policy
from callops.rules.gate import CallRefused
from callops.rules.models import DialRecord

NUMBER = "+12025550100"
DAY_CAP = "+12025550100 has had 3 calls in the last 24 hours (cap 3 per 24 h)"


@pytest.fixture
def capped(personas):
    """Acme allows 3 calls per number per 24 h and 5 per 7 days."""
    return policy.update(personas.org, {"max_calls_per_day": 3, "max_calls_per_week": 5})


def _past_calls(org, number, *ages):
    """DialRecords for calls dialed `ages` ago (timedelta each)."""
    now = timezone.now()
    for age in ages:
        caps.record(org, number, uuid.uuid4(), now - age)


def test_over_cap_names_the_cap_and_when_it_lifts(personas, capped, clock):
    now = timezone.now()
    _past_calls(personas.org, NUMBER, timedelta(hours=20), timedelta(hours=5), timedelta(hours=1))
    hit = caps.over_cap(policy.get(personas.org), NUMBER, now)
    assert hit is not None
    assert hit.message == DAY_CAP
    assert hit.retry_at == now - timedelta(hours=20) + timedelta(hours=24)


def test_the_week_cap_keeps_the_number_longer_than_the_day_cap(personas, capped, clock):
    now = timezone.now()
    _past_calls(personas.org, NUMBER, timedelta(days=6), timedelta(days=5), timedelta(days=3),
                timedelta(days=2), timedelta(hours=2))
    hit = caps.over_cap(policy.get(personas.org), NUMBER, now)
    assert hit is not None
    assert hit.message == "+12025550100 has had 5 calls in the last 7 days (cap 5 per 7 days)"
    assert hit.retry_at == now - timedelta(days=6) + timedelta(days=7)


def test_calls_older_than_the_span_do_not_count(personas, capped, clock):
    _past_calls(personas.org, NUMBER, timedelta(hours=25), timedelta(hours=24, minutes=1), timedelta(hours=2))
    assert caps.over_cap(policy.get(personas.org), NUMBER, timezone.now()) is None


def test_answered_calls_have_their_own_cap(personas, sandbox_agent, clock):
    policy.update(personas.org, {"max_answered_per_week": 1})
    call = services.create_call(org=personas.org, agent=sandbox_agent, to_number=NUMBER)
    with_record = gate.admit(personas.org, NUMBER, call_public_id=call.public_id)
    assert with_record is None
    # An unanswered call does not count toward the answered cap.
    assert caps.over_cap(policy.get(personas.org), NUMBER, timezone.now()) is None
    for status in (CallStatus.INITIATED, CallStatus.RINGING, CallStatus.IN_PROGRESS):
        services.apply_status(call, status, source=EventSource.POLL)
    assert DialRecord.objects.get(call_public_id=call.public_id).answered is True
    hit = caps.over_cap(policy.get(personas.org), NUMBER, timezone.now())
    assert hit is not None
    assert hit.message == "+12025550100 has answered 1 call in the last 7 days (cap 1 answered per 7 days)"
    assert hit.retry_at == timezone.now() + timedelta(days=7)


def test_admitting_the_same_call_twice_counts_it_once(personas, capped, clock):
    pid = uuid.uuid4()
    for _ in range(3):
        gate.admit(personas.org, NUMBER, call_public_id=pid)
    assert DialRecord.objects.filter(number=NUMBER).count() == 1


def test_caps_are_per_organization(personas, capped, clock):
    _past_calls(personas.other_org, NUMBER, timedelta(hours=1), timedelta(hours=2), timedelta(hours=3))
    assert caps.over_cap(policy.get(personas.org), NUMBER, timezone.now()) is None


def test_api_refuses_the_call_over_the_cap_with_409(api, sandbox_agent, capped, clock):
    for _ in range(3):
        response = api.post("/v1/calls", {"agent_id": str(sandbox_agent.public_id), "to": NUMBER})
        assert response.status_code == 201, response.content
        clock.advance(60)
    response = api.post("/v1/calls", {"agent_id": str(sandbox_agent.public_id), "to": "+1 (202) 555-0100"})
    assert response.status_code == 409
    assert response.json() == {"error": DAY_CAP}
    assert Call.objects.count() == 3 and DialRecord.objects.count() == 3
    entry = AuditEntry.objects.get(action="call.refused")
    assert entry.target == NUMBER and entry.detail["code"] == "frequency_cap"
    assert entry.detail["message"] == DAY_CAP


def test_api_places_again_once_the_oldest_call_ages_out(api, sandbox_agent, capped, clock):
    first = timezone.now()
    for _ in range(3):
        assert api.post("/v1/calls", {"agent_id": str(sandbox_agent.public_id), "to": NUMBER}).status_code == 201
        clock.advance(60)
    clock.advance_to(first + timedelta(hours=24, seconds=1))
    response = api.post("/v1/calls", {"agent_id": str(sandbox_agent.public_id), "to": NUMBER})
    assert response.status_code == 201, response.content


def test_dashboard_form_shows_the_cap(personas, sandbox_agent, capped, clock):
    _past_calls(personas.org, NUMBER, timedelta(hours=3), timedelta(hours=2), timedelta(hours=1))
    client = personas.member.client()
    token = client.get(reverse("dashboard:call_new")).context["form_token"]
    response = client.post(reverse("dashboard:call_new"), {
        "agent_id": str(sandbox_agent.public_id), "to": NUMBER, "form_token": token})
    assert response.status_code == 400
    assert response.context["errors"]["to"] == DAY_CAP
    assert DAY_CAP in response.content.decode()
    assert not Call.objects.exists()


def test_dashboard_refusal_under_the_lock_keeps_the_form_usable(personas, sandbox_agent, capped, clock, monkeypatch):
    """The preview passed but another call took the last place before this one was admitted."""
    client = personas.member.client()
    token = client.get(reverse("dashboard:call_new")).context["form_token"]
    monkeypatch.setattr(gate, "check_caps", lambda *a, **k: None)  # the preview saw room
    _past_calls(personas.org, NUMBER, timedelta(hours=3), timedelta(hours=2), timedelta(hours=1))
    form = {"agent_id": str(sandbox_agent.public_id), "to": NUMBER, "form_token": token}
    response = client.post(reverse("dashboard:call_new"), form)
    assert response.status_code == 400
    assert response.context["errors"]["to"] == DAY_CAP
    assert not Call.objects.exists()
    # The refused form's token was given back: once the cap lifts, the same form places the call.
    DialRecord.objects.all().delete()
    response = client.post(reverse("dashboard:call_new"), form)
    assert response.status_code == 302
    assert Call.objects.get().to_number == NUMBER


def test_batch_defers_a_capped_recipient_to_when_the_cap_lifts(personas, sandbox_agent, capped, make_batch, clock):
    now = timezone.now()
    _past_calls(personas.org, NUMBER, timedelta(hours=20), timedelta(hours=5), timedelta(hours=1))
    batch = make_batch(sandbox_agent, [NUMBER, "+12025550111"], now=now)
    done = dispatch.tick(batch.pk, now=now)
    assert done.result["dispatched"] == 1
    capped_row = BatchRecipient.objects.get(batch=batch, phone=NUMBER)
    assert capped_row.state == RecipientState.PENDING and capped_row.attempts == 0
    assert capped_row.next_attempt_at == now + timedelta(hours=4)
    assert BatchRecipient.objects.get(batch=batch, phone="+12025550111").state == RecipientState.DIALING
    assert not Call.objects.filter(to_number=NUMBER).exists()
    entry = AuditEntry.objects.get(action="batch.recipient_deferred")
    assert (entry.target, entry.detail["code"], entry.detail["message"]) == (NUMBER, "frequency_cap", DAY_CAP)
    assert entry.detail["retry_at"] == (now + timedelta(hours=4)).isoformat()
    # When the oldest call ages out, the next tick dials the recipient.
    later = now + timedelta(hours=4, seconds=1)
    done = dispatch.tick(batch.pk, now=later)
    assert done.result["dispatched"] == 1
    assert BatchRecipient.objects.get(batch=batch, phone=NUMBER).state == RecipientState.DIALING


def _assert_deferred(call, retry_at, dials):
    call.refresh_from_db()
    assert call.status == CallStatus.QUEUED
    assert call.dial_claimed_at is None and call.scheduled_at == retry_at
    assert call.events.filter(kind=CallEvent.Kind.NOTE, note=f"deferred to {retry_at.isoformat()}: {DAY_CAP}").exists()
    entry = AuditEntry.objects.get(action="call.deferred", target=str(call.public_id))
    assert entry.detail["code"] == "frequency_cap" and entry.detail["retry_at"] == retry_at.isoformat()
    assert dials == []


def test_a_scheduled_call_over_the_cap_is_deferred_at_dial_time(
        personas, sandbox_agent, capped, dials, run_jobs, clock, django_capture_on_commit_callbacks):
    call = services.create_call(org=personas.org, agent=sandbox_agent, to_number=NUMBER, scheduled_at=timezone.now())
    _past_calls(personas.org, NUMBER, timedelta(hours=20), timedelta(hours=5), timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_placements([call.pk])
    run_jobs()
    _assert_deferred(call, timezone.now() + timedelta(hours=4), dials)
    # Due again when the cap lifts: then it is dialed.
    clock.advance(timedelta(hours=4, seconds=1))
    services.place_call(call)
    assert dials == [NUMBER]


def test_a_retry_over_the_cap_is_deferred_at_dial_time(personas, make_call, capped, dials, run_jobs, clock):
    original = make_call(CallStatus.NO_ANSWER, to=NUMBER)
    _past_calls(personas.org, NUMBER, timedelta(hours=20), timedelta(hours=5), timedelta(hours=1))
    retry = redial.retry_call(original)
    run_jobs()
    _assert_deferred(retry, timezone.now() + timedelta(hours=4), dials)


def test_cap_refusal_has_a_retry_time_and_suppression_none(personas, capped, clock):
    _past_calls(personas.org, NUMBER, timedelta(hours=3), timedelta(hours=2), timedelta(hours=1))
    with pytest.raises(CallRefused) as refused:
        gate.admit(personas.org, NUMBER, call_public_id=uuid.uuid4())
    assert refused.value.code == "frequency_cap"
    assert refused.value.retry_at == timezone.now() + timedelta(hours=21)


def test_records_no_cap_can_count_are_purged(personas, clock):
    _past_calls(personas.org, NUMBER, timedelta(days=8, seconds=1), timedelta(days=7, hours=23))
    assert caps.purge_old_records() == 1
    assert DialRecord.objects.count() == 1
