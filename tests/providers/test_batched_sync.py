"""Catch-up: a sync job applies its calls' reports in one transaction (callops.calls.bulk_reports).

A backlog of calls behind their provider (queued here, anywhere at the PolyAI emulator) is swept
and run by a real RQ worker on real Redis: every call reaches its true state with one accepted
timeline row and the webhook events it owes, exactly once; the rollups equal the calls; the rollup
deltas of a job are one UPDATE per tuple; a provider error or a failing apply on one call costs
the others nothing; a stale in-memory call cannot move a call backwards.
"""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from callops.calls import bulk_reports, rollup_reconcile, rollups
from callops.calls import services as call_services
from callops.calls.models import Call, CallEvent, CallRollup, CallStatus, EventSource
from callops.calls.status_sync import SYNC_CHUNK, apply_provider_report, sweep_due_syncs, sync_calls
from callops.providers.base import StatusReport
from callops.providers.emulators.core import Outcome
from callops.webhooks.models import WebhookEvent
from tests.helpers import wait_for

from .conftest import new_call

pytestmark = pytest.mark.django_db(transaction=True)

# Raw PolyAI word -> (canonical status, the webhook events the move from queued owes).
TRUTHS = {
    "calling": (CallStatus.INITIATED, []),
    "ringing": (CallStatus.RINGING, ["call.ringing"]),
    "in-progress": (CallStatus.IN_PROGRESS, ["call.answered"]),
    "success": (CallStatus.COMPLETED, ["call.completed"]),
    "failure": (CallStatus.FAILED, ["call.failed"]),
    "busy": (CallStatus.BUSY, ["call.busy"]),
    "no-answer": (CallStatus.NO_ANSWER, ["call.no_answer"]),
}
WORDS = sorted(TRUTHS)


@pytest.fixture
def backlog(emulators, make_agent, sink):
    """Factory: `backlog(n)` makes n calls that the emulator already has in the state of WORDS[i % 7]
    while callops still has them queued and due, with a per-call webhook URL (so events fan out)."""
    emu = emulators("polyai")
    agent = make_agent("polyai", emu)
    agent.webhook_url = sink.url
    agent.save()

    def _make(n: int) -> dict[int, str]:
        words = {}
        for i in range(n):
            number = f"+1415555{i:04d}"
            word = WORDS[i % len(WORDS)]
            emu.scripts[number] = Outcome([(0, word)], None if word in ("calling", "ringing", "in-progress") else word)
            sid = f"OUT-{uuid.uuid4()}"
            emu.new_call(sid, number)
            call = new_call(agent, number)
            Call.objects.filter(pk=call.pk).update(provider_call_id=sid, provider_status="queued",
                                                   dial_claimed_at=timezone.now(), next_sync_at=timezone.now())
            words[call.pk] = word
        return words

    _make.emu = emu
    return _make


def poll_events(pk: int) -> list[tuple[str, str, bool]]:
    return list(CallEvent.objects.filter(call_id=pk, source=EventSource.POLL).order_by("id")
                .values_list("from_status", "status", "ignored"))


def webhook_types(pk: int) -> list[str]:
    return sorted(WebhookEvent.objects.filter(call_id=pk).values_list("type", flat=True))


def assert_caught_up(words: dict[int, str]) -> None:
    statuses = dict(Call.objects.filter(pk__in=words).values_list("pk", "status"))
    for pk, word in words.items():
        status, owed = TRUTHS[word]
        assert statuses[pk] == status, (pk, word)
        # One accepted report, straight from queued: on the timeline once, nothing ignored.
        assert poll_events(pk) == [(CallStatus.QUEUED, status, False)], (pk, word)
        assert webhook_types(pk) == sorted(["call.queued", *owed]), (pk, word)
    assert rollup_reconcile.check() == []


def settle(words: dict[int, str], run_jobs) -> None:
    """Sweep and work until no call is left queued. On a loaded host a read may time out (1 s in
    tests): that call backs off, is due again at once (provider time runs 50x), and the next sweep
    takes it, as in production. A timed-out read writes nothing, so the counts stay exact."""

    def done() -> bool:
        if not Call.objects.filter(pk__in=words, status=CallStatus.QUEUED).exists():
            return True
        sweep_due_syncs()
        run_jobs()
        return False

    wait_for(done, "every call to leave queued", timeout=120)


def test_a_backlog_is_brought_up_to_date_by_the_worker_exactly_once(backlog, run_jobs):
    words = backlog(2 * SYNC_CHUNK + 5)  # three jobs, every state seen in each
    assert sweep_due_syncs() == len(words)
    run_jobs()
    settle(words, run_jobs)
    assert_caught_up(words)
    live = [pk for pk, word in words.items() if word in ("calling", "ringing", "in-progress")]
    done = Call.objects.filter(pk__in=words).exclude(pk__in=live)
    # Live calls are polled again on PolyAI's cadence; terminal ones are not.
    assert not done.exclude(next_sync_at=None).exists()
    assert Call.objects.filter(pk__in=live, next_sync_at__isnull=False, last_synced_at__isnull=False,
                               sync_failures=0).count() == len(live)
    # The same polls again (a job run twice, a lease that ran out): nothing new anywhere.
    events, hooks, counts = CallEvent.objects.count(), WebhookEvent.objects.count(), list(
        CallRollup.objects.order_by("pk").values_list("pk", "n"))
    assert set(sync_calls(list(words)).values()) == {CallStatus.INITIATED, CallStatus.RINGING,
                                                     CallStatus.IN_PROGRESS, "done"}
    assert (CallEvent.objects.count(), WebhookEvent.objects.count()) == (events, hooks)
    assert list(CallRollup.objects.order_by("pk").values_list("pk", "n")) == counts
    assert_caught_up(words)


def test_a_jobs_rollup_deltas_are_one_update_per_tuple(backlog):
    words = backlog(SYNC_CHUNK)
    calling = [pk for pk, word in words.items() if word == "calling"]
    assert sync_calls(calling[:1]) == {calling[0]: CallStatus.INITIATED}  # the initiated tuple now exists
    with CaptureQueriesContext(connection) as queries:
        results = sync_calls(calling[1:])
    assert results == {pk: CallStatus.INITIATED for pk in calling[1:]} and len(results) == 6
    rollup_writes = [q["sql"] for q in queries.captured_queries if '"calls_callrollup"' in q["sql"]
                     and not q["sql"].startswith("SELECT")]
    # queued -6 on one row, initiated +6 on another: the same two statements for 1 call or 50.
    assert [w.split()[0] for w in rollup_writes] == ["UPDATE", "UPDATE"]
    assert len([q for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "calls_callevent"')]) == 1
    assert_caught_up({pk: "calling" for pk in calling})


def test_a_provider_error_on_one_call_does_not_lose_the_others_reports(backlog):
    words = backlog(14)
    backlog.emu.faults.force("500", "read")  # the job's first read, the lowest pk
    pks = sorted(words)
    polled_at = timezone.now()
    results = sync_calls(pks)
    assert results[pks[0]] == "error:provider_unavailable"
    unlucky = Call.objects.get(pk=pks[0])
    assert (unlucky.status, unlucky.sync_failures) == (CallStatus.QUEUED, 1)
    assert unlucky.next_sync_at > polled_at  # its backoff, not the poll that was due
    assert poll_events(pks[0]) == [] and webhook_types(pks[0]) == ["call.queued"]
    rest = {pk: words[pk] for pk in pks[1:]}
    assert_caught_up(rest)
    # Its next poll brings it up to date like the others.
    sync_calls([pks[0]])
    assert_caught_up(words)


def test_a_failing_apply_rolls_back_the_job_and_each_report_is_applied_on_its_own(backlog, monkeypatch):
    words = backlog(21)
    bad = sorted(pk for pk, word in words.items() if word == "ringing")[0]
    real = call_services.after_status_change

    def after(call, old, new):
        if call.pk == bad:
            raise RuntimeError("webhook fan-out failed")
        real(call, old, new)

    monkeypatch.setattr(call_services, "after_status_change", after)
    results = sync_calls(sorted(words))
    assert results[bad] == "error:apply"
    # Nothing of the rolled-back attempt survives: the bad call is untouched and still leased.
    assert Call.objects.get(pk=bad).status == CallStatus.QUEUED
    assert poll_events(bad) == [] and webhook_types(bad) == ["call.queued"]
    assert_caught_up({pk: word for pk, word in words.items() if pk != bad})
    monkeypatch.setattr(call_services, "after_status_change", real)
    sync_calls([bad])
    assert_caught_up(words)


def test_a_report_judged_against_the_locked_row_never_moves_a_call_back(backlog):
    words = backlog(7)
    ringing = next(pk for pk, word in words.items() if word == "ringing")
    stale = Call.objects.get(pk=ringing)  # read while still queued
    # A callback answers the call before the poll's report is applied.
    call_services.apply_status(ringing, CallStatus.IN_PROGRESS, source=EventSource.CALLBACK)
    report = StatusReport(status=CallStatus.RINGING, raw_status="ringing", payload={"status": "ringing"})
    applied = bulk_reports.apply_reports(
        [(stale, report)], source=EventSource.POLL,
        one=lambda call, r: apply_provider_report(call, r, source=EventSource.POLL))
    assert applied[ringing].status == CallStatus.IN_PROGRESS
    assert Call.objects.get(pk=ringing).status == CallStatus.IN_PROGRESS
    assert poll_events(ringing) == [(CallStatus.IN_PROGRESS, CallStatus.RINGING, True)]
    assert Counter(webhook_types(ringing)) == Counter(["call.queued", "call.answered"])
    assert rollup_reconcile.check() == []


def test_deferred_rollup_deltas_need_a_transaction_and_vanish_with_its_rollback(backlog):
    words = backlog(7)
    pk = next(iter(words))
    with pytest.raises(RuntimeError, match="outside a transaction"), rollups.deferred():
        pass
    before = list(CallRollup.objects.order_by("pk").values_list("pk", "status", "n"))
    with pytest.raises(LookupError), transaction.atomic(), rollups.deferred():
        call_services.apply_status(pk, CallStatus.RINGING, source=EventSource.POLL)
        raise LookupError("the job fails after the change")
    assert list(CallRollup.objects.order_by("pk").values_list("pk", "status", "n")) == before
    assert Call.objects.get(pk=pk).status == CallStatus.QUEUED
    assert rollup_reconcile.check() == []
