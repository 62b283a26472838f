"""The single status function: forward-only, terminal final, stale/duplicate reports recorded."""

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from callops.calls import services
from callops.calls.models import Call, CallEvent, CallStatus, EventSource


@pytest.fixture
def call(personas, sandbox_agent):
    return services.create_call(org=personas.org, agent=sandbox_agent, to_number="+14155550100")


def statuses(call):
    return list(CallEvent.objects.filter(call=call, kind="status").values_list("status", "ignored"))


def test_created_call_is_queued_with_a_timeline_entry(call):
    assert call.status == CallStatus.QUEUED
    assert statuses(call) == [("queued", False)]


def test_forward_moves_set_timestamps_on_the_right_transitions(call):
    t0 = timezone.now()
    services.apply_status(call, "initiated", source=EventSource.POLL, raw_status="initiated", at=t0)
    call.refresh_from_db()
    assert call.started_at is None  # dialing is not ringing
    services.apply_status(call, "ringing", source=EventSource.CALLBACK, raw_status="ringing",
                          at=t0 + timedelta(seconds=2))
    services.apply_status(call, "in_progress", source=EventSource.POLL, raw_status="in-progress",
                          at=t0 + timedelta(seconds=5))
    tr = services.apply_status(call, "completed", source=EventSource.POLL, raw_status="completed",
                               at=t0 + timedelta(seconds=65), fields={"hangup_cause": "Callee"})
    call.refresh_from_db()
    assert tr.accepted
    assert call.status == "completed"
    assert call.started_at == t0 + timedelta(seconds=2)
    assert call.answered_at == t0 + timedelta(seconds=5)
    assert call.ended_at == t0 + timedelta(seconds=65)
    assert call.duration_seconds == 60
    assert call.hangup_cause == "Callee"
    assert call.provider_status == "completed"
    assert call.next_sync_at is None
    events = list(call.events.filter(kind="status"))
    assert [(e.from_status, e.status, e.source) for e in events] == [
        ("", "queued", "api"), ("queued", "initiated", "poll"), ("initiated", "ringing", "callback"),
        ("ringing", "in_progress", "poll"), ("in_progress", "completed", "poll")]
    assert events[3].raw_status == "in-progress"


def test_skipping_ranks_is_allowed(call):
    assert services.apply_status(call, "completed", source=EventSource.POLL).accepted
    call.refresh_from_db()
    assert call.status == "completed" and call.answered_at is None and call.duration_seconds == 0


def test_out_of_order_report_is_recorded_but_ignored(call):
    services.apply_status(call, "in_progress", source=EventSource.CALLBACK, raw_status="in-progress")
    late = services.apply_status(call, "ringing", source=EventSource.CALLBACK, raw_status="ringing",
                                 reason="late webhook")
    call.refresh_from_db()
    assert not late.accepted
    assert call.status == "in_progress"
    assert late.event.ignored and "stale" in late.event.note
    assert late.event.raw_status == "ringing" and late.event.reason == "late webhook"


def test_duplicate_report_is_ignored(call):
    services.apply_status(call, "ringing", source=EventSource.POLL)
    dup = services.apply_status(call, "ringing", source=EventSource.CALLBACK)
    assert not dup.accepted and "duplicate" in dup.event.note
    assert statuses(call) == [("queued", False), ("ringing", False), ("ringing", True)]


@pytest.mark.parametrize("first,second", [("completed", "failed"), ("failed", "completed"), ("busy", "no_answer"),
                                          ("canceled", "in_progress"), ("no_answer", "no_answer")])
def test_terminal_is_final(call, first, second):
    services.apply_status(call, first, source=EventSource.POLL)
    tr = services.apply_status(call, second, source=EventSource.CALLBACK, fields={"error_code": "late"})
    call.refresh_from_db()
    assert not tr.accepted
    assert call.status == first
    assert f"already {first}" in tr.event.note


def test_ignored_report_fills_blank_details_but_never_overwrites(call):
    services.apply_status(call, "completed", source=EventSource.POLL, fields={"hangup_cause": "Callee"})
    services.apply_status(call, "completed", source=EventSource.CALLBACK,
                          fields={"hangup_cause": "Other", "recording_url": "https://rec.example/1.mp3"})
    call.refresh_from_db()
    assert call.hangup_cause == "Callee"
    assert call.recording_url == "https://rec.example/1.mp3"


def test_unknown_status_is_refused(call):
    with pytest.raises(ValueError):
        services.apply_status(call, "exploded", source=EventSource.POLL)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_writers_only_one_wins(personas, sandbox_agent):
    """Two workers report different terminal outcomes at once: exactly one is accepted."""
    for round_ in range(10):
        call = services.create_call(org=personas.org, agent=sandbox_agent, to_number="+14155550100")
        barrier = threading.Barrier(2)
        results = {}

        def report(status, call_pk=call.pk, barrier=barrier, results=results):
            try:
                barrier.wait()
                results[status] = services.apply_status(call_pk, status, source=EventSource.POLL).accepted
            finally:
                connections.close_all()

        threads = [threading.Thread(target=report, args=(s,)) for s in ("completed", "failed")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        final = Call.objects.get(pk=call.pk)
        assert sorted(results.values()) == [False, True], round_
        winner = next(s for s, ok in results.items() if ok)
        assert final.status == winner
        accepted = CallEvent.objects.filter(call=final, kind="status", ignored=False).exclude(status="queued")
        assert list(accepted.values_list("status", flat=True)) == [winner]


def test_a_call_that_never_rang_has_no_started_at(personas, sandbox_agent):
    refused = services.create_call(org=personas.org, agent=sandbox_agent, to_number="+14155550100")
    services.apply_status(refused, "failed", source=EventSource.POLL, fields={"error_code": "invalid_number"})
    refused.refresh_from_db()
    assert refused.status == "failed" and refused.started_at is None and refused.ended_at is not None
    busy = services.create_call(org=personas.org, agent=sandbox_agent, to_number="+14155550101")
    services.apply_status(busy, "busy", source=EventSource.POLL)
    busy.refresh_from_db()
    assert busy.started_at == busy.ended_at  # a busy line was dialed: ringing began when it ended


def test_an_end_reported_before_the_answer_gives_zero_duration_not_a_crash(call):
    t0 = timezone.now()
    services.apply_status(call, "in_progress", source=EventSource.CALLBACK, at=t0)
    tr = services.apply_status(call, "completed", source=EventSource.POLL, at=t0 - timedelta(seconds=3))
    call.refresh_from_db()
    assert tr.accepted and call.status == "completed" and call.duration_seconds == 0


def test_allowed_from_refuses_a_change_from_any_other_status(call):
    services.apply_status(call, "in_progress", source=EventSource.CALLBACK)
    with pytest.raises(services.CallActionError):
        services.apply_status(call, "canceled", source=EventSource.API, allowed_from=services.NOT_ANSWERED)
    call.refresh_from_db()
    assert call.status == "in_progress"
    assert not call.events.filter(status="canceled").exists()


def test_cancel_loses_to_an_answer_that_lands_while_the_provider_is_asked(personas, sandbox_agent, monkeypatch,
                                                                        clock):
    # The race window (between the can-cancel check and the provider's reply) cannot be hit on
    # demand, so the provider's reply is where the answer lands.
    from callops.providers.sandbox import Adapter as SandboxAdapter

    placed = services.submit_call(personas.org, _input(sandbox_agent, "+12025550106"), source=EventSource.API)
    original = SandboxAdapter.cancel_call

    def cancel_after_answer(self, c):
        services.apply_status(c.pk, "in_progress", source=EventSource.CALLBACK)
        return original(self, c)

    monkeypatch.setattr(SandboxAdapter, "cancel_call", cancel_after_answer)
    with pytest.raises(services.CallActionError, match="answered"):
        services.cancel_call(placed, source=EventSource.API)
    placed.refresh_from_db()
    assert placed.status == "in_progress"


def _input(agent, to):
    from callops.calls.validation import CallInput

    return CallInput(agent=agent, to_number=to)
