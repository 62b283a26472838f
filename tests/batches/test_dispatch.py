"""Dispatching: pacing, concurrency, calling windows across time zones, retries, the breaker,
pause/resume/stop, completion and its webhook events."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from callops.calls import batch_jobs, batches
from callops.calls.models import BatchRecipient, BatchStatus, Call, CallStatus, RecipientState
from callops.webhooks.models import WebhookEvent

from .conftest import fresh

pytestmark = pytest.mark.django_db

BUSY, INVALID, LOW_BALANCE, NO_ANSWER = "+12025550102", "+12025550103", "+12025550105", "+12025550101"


def numbers(n, start=2000000):
    return [f"+1415{start + i:07d}" for i in range(n)]


def dialing(batch):
    return BatchRecipient.objects.filter(batch=batch, state=RecipientState.DIALING).count()


def test_pacing_token_bucket(make_batch, sandbox_agent):
    t0 = timezone.now()
    batch = make_batch(sandbox_agent, numbers(50), calls_per_minute=120, max_concurrency=100, now=t0)
    assert batch.status == BatchStatus.RUNNING
    assert batch_jobs.tick_batch(batch.pk, now=t0)["dispatched"] == 1
    assert batch_jobs.tick_batch(batch.pk, now=t0)["dispatched"] == 0  # no tokens left
    assert batch_jobs.tick_batch(batch.pk, now=t0 + timedelta(seconds=2))["dispatched"] == 4  # 2/s
    # Idle for a minute: the bucket holds only five seconds of pacing, so no burst of 120.
    assert batch_jobs.tick_batch(batch.pk, now=t0 + timedelta(seconds=62))["dispatched"] == 10
    assert Call.objects.filter(batch=batch).count() == 15 == dialing(batch)


def test_concurrency_cap(make_batch, sandbox_agent, run_jobs):
    batch = make_batch(sandbox_agent, numbers(10), calls_per_minute=10000, max_concurrency=3)
    now = timezone.now()
    assert batch_jobs.tick_batch(batch.pk, now=now + timedelta(seconds=10))["dispatched"] == 3
    assert batch_jobs.tick_batch(batch.pk, now=now + timedelta(seconds=20))["dispatched"] == 0
    run_jobs()
    assert Call.objects.filter(batch=batch, dial_claimed_at__isnull=False).count() == 3


def test_calling_window_in_recipient_local_time(make_batch, sandbox_agent):
    ny, tokyo, london = "+12125550100", "+81312345678", "+442079460000"
    # Wednesday 2026-11-25 15:00 UTC: 10:00 in New York, 15:00 in London, 00:00 Thursday in Tokyo.
    # The batches start a little before the ticks on the same clock, so the pacer has tokens
    # whatever today's date is.
    wed = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    batch = make_batch(sandbox_agent, [ny, tokyo, london], calls_per_minute=10000, window_start_hour=9,
                       window_end_hour=17, window_days=[1, 2, 3, 4, 5], now=wed - timedelta(seconds=30))
    assert sorted(batch.timezones) == ["America/New_York", "Asia/Tokyo", "Europe/London"]
    batch_jobs.tick_batch(batch.pk, now=wed)
    assert set(Call.objects.filter(batch=batch).values_list("to_number", flat=True)) == {ny, london}
    # Thursday 01:00 UTC: 10:00 in Tokyo, evening in New York.
    batch_jobs.tick_batch(batch.pk, now=datetime(2026, 11, 26, 1, 0, tzinfo=UTC))
    assert Call.objects.filter(batch=batch, to_number=tokyo).count() == 1
    # Saturday: nobody, even with the hour inside the window.
    sat = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
    weekend = make_batch(sandbox_agent, ["+12125550101"], calls_per_minute=10000, window_start_hour=9,
                         window_end_hour=17, window_days=[1, 2, 3, 4, 5], now=sat - timedelta(seconds=30))
    batch_jobs.tick_batch(weekend.pk, now=sat)
    assert not Call.objects.filter(batch=weekend).exists()
    # The same batch on Monday morning in New York dials.
    batch_jobs.tick_batch(weekend.pk, now=datetime(2026, 11, 30, 15, 0, tzinfo=UTC))
    assert Call.objects.filter(batch=weekend).count() == 1


def test_unknown_zone_uses_batch_default(make_batch, sandbox_agent):
    # A non-geographic number (UK mobile has zones; a toll-free US number resolves to several).
    batch = make_batch(sandbox_agent, ["+18005550100"], calls_per_minute=10000, window_start_hour=9,
                       window_end_hour=17, timezone="Asia/Tokyo")
    rec = BatchRecipient.objects.get(batch=batch)
    zones = rec.tz.split(";") if rec.tz else ["Asia/Tokyo"]
    assert batch_jobs.window_open(fresh(batch), rec.tz, datetime(2026, 11, 25, 1, 0, tzinfo=UTC)) == all(
        9 <= datetime(2026, 11, 25, 1, 0, tzinfo=UTC).astimezone(__import__("zoneinfo").ZoneInfo(z)).hour < 17
        for z in zones)


def test_scheduled_start_with_offset(make_batch, sandbox_agent):
    start = timezone.now() + timedelta(hours=2)
    batch = make_batch(sandbox_agent, numbers(2), start_at=start.astimezone(
        __import__("zoneinfo").ZoneInfo("Asia/Kolkata")).isoformat(), calls_per_minute=10000)
    assert batch.status == BatchStatus.SCHEDULED and abs((batch.start_at - start).total_seconds()) < 1
    batch_jobs.tick_batch(batch.pk, now=start - timedelta(minutes=1))
    assert fresh(batch).status == BatchStatus.SCHEDULED and not Call.objects.filter(batch=batch).exists()
    batch_jobs.tick_batch(batch.pk, now=start + timedelta(seconds=1))
    assert fresh(batch).status == BatchStatus.RUNNING
    assert WebhookEvent.objects.filter(batch=batch, type="batch.started").count() == 1


def test_retries_are_new_attempts(make_batch, sandbox_agent, settle):
    batch = make_batch(sandbox_agent, [BUSY, "+14155550123"], calls_per_minute=10000, max_attempts=3,
                       retry_intervals=[0], retry_on=["busy"])
    batch = settle(batch)
    assert batch.status == BatchStatus.COMPLETED
    attempts = list(Call.objects.filter(batch=batch, to_number=BUSY).order_by("attempt"))
    assert [c.attempt for c in attempts] == [1, 2, 3]
    assert [c.status for c in attempts] == ["busy"] * 3
    assert attempts[1].retry_of_id == attempts[0].pk and attempts[2].retry_of_id == attempts[1].pk
    rec = BatchRecipient.objects.get(batch=batch, phone=BUSY)
    assert (rec.attempts, rec.outcome, rec.last_call_id) == (3, "busy", attempts[2].pk)
    assert Call.objects.filter(batch=batch, to_number="+14155550123").count() == 1
    assert WebhookEvent.objects.filter(batch=batch, type="batch.completed").count() == 1


def test_retry_waits_for_its_interval(make_batch, sandbox_agent, run_jobs, settle):
    batch = make_batch(sandbox_agent, [NO_ANSWER], calls_per_minute=10000, max_attempts=2,
                       retry_intervals=[600])
    call = Call.objects.none()
    batch_jobs.tick_batch(batch.pk)
    run_jobs()
    call = Call.objects.get(batch=batch)
    from callops.calls.services import apply_status

    apply_status(call, CallStatus.NO_ANSWER, source="system")
    now = timezone.now()
    batch_jobs.tick_batch(batch.pk, now=now)
    rec = BatchRecipient.objects.get(batch=batch)
    assert rec.state == RecipientState.PENDING and rec.next_attempt_at >= now + timedelta(seconds=599)
    batch_jobs.tick_batch(batch.pk, now=now + timedelta(seconds=300))
    assert Call.objects.filter(batch=batch).count() == 1
    batch_jobs.tick_batch(batch.pk, now=now + timedelta(seconds=601))
    assert Call.objects.filter(batch=batch, attempt=2, retry_of=call).count() == 1


def test_circuit_breaker_pauses_with_reason(make_batch, sandbox_agent, settle, run_jobs):
    import time

    batch = make_batch(sandbox_agent, [INVALID, LOW_BALANCE, *numbers(6)], calls_per_minute=10000,
                       max_concurrency=2, breaker_threshold=0.5, breaker_min_calls=2)
    for _ in range(200):
        batch_jobs.tick_batch(batch.pk)
        from callops.calls.jobs import sweep_scheduled_calls
        from callops.providers.sync import sweep_due_syncs

        sweep_scheduled_calls()
        sweep_due_syncs()
        run_jobs()
        if fresh(batch).status != BatchStatus.RUNNING:
            break
        time.sleep(0.02)
    assert batch.status == BatchStatus.PAUSED
    assert batch.pause_reason.startswith("circuit breaker: 2 of the last 2 calls failed (100%)")
    assert WebhookEvent.objects.filter(batch=batch, type="batch.paused").exists()
    assert Call.objects.filter(batch=batch).count() == 2  # nothing more was dialed
    # Resuming starts the window afresh: the old failures do not trip it again.
    batches.resume_batch(batch)
    batch = settle(batch)
    assert batch.status == BatchStatus.COMPLETED
    assert Call.objects.filter(batch=batch).count() == 8


def test_pause_resume(make_batch, sandbox_agent):
    batch = make_batch(sandbox_agent, numbers(5), calls_per_minute=10000)
    batches.pause_batch(batch, by="ada")
    assert fresh(batch).status == BatchStatus.PAUSED and batch.pause_reason == "paused by ada"
    batch_jobs.tick_batch(batch.pk, now=timezone.now() + timedelta(seconds=30))
    assert not Call.objects.filter(batch=batch).exists()
    with pytest.raises(batches.BatchActionError):
        batches.pause_batch(batch)
    batches.resume_batch(batch)
    batch_jobs.tick_batch(batch.pk, now=timezone.now() + timedelta(seconds=30))
    assert Call.objects.filter(batch=batch).count() == 5


def test_stop_cancels_undialed_and_lets_live_calls_finish(make_batch, sandbox_agent, run_jobs, settle):
    batch = make_batch(sandbox_agent, numbers(10), calls_per_minute=10000, max_concurrency=4)
    batch_jobs.tick_batch(batch.pk, now=timezone.now() + timedelta(seconds=30))
    calls = list(Call.objects.filter(batch=batch).order_by("pk"))
    assert len(calls) == 4
    # Two were picked up by a worker; two are still waiting in the queue.
    from callops.calls import services

    for c in calls[:2]:
        services.place_call(c)
    batches.stop_batch(batch, by="ada")
    batch = fresh(batch)
    assert batch.status == BatchStatus.STOPPED
    assert BatchRecipient.objects.filter(batch=batch, state=RecipientState.CANCELED).count() == 6
    assert {c.status for c in Call.objects.filter(pk__in=[c.pk for c in calls[2:]])} == {"canceled"}
    run_jobs()  # the queued placement jobs find their calls claimed and canceled
    assert Call.objects.filter(batch=batch, dial_claimed_at__isnull=False).count() == 4
    batch = settle(batch)
    assert batch.status == BatchStatus.STOPPED and batch.finished_at
    assert Call.objects.filter(batch=batch).count() == 4
    assert set(Call.objects.filter(pk__in=[c.pk for c in calls[:2]]).values_list("status", flat=True)) == {
        "completed"}
    with pytest.raises(batches.BatchActionError):
        batches.resume_batch(batch)


def test_all_failed_batch_is_failed(make_batch, sandbox_agent, settle):
    batch = settle(make_batch(sandbox_agent, [INVALID], calls_per_minute=10000))
    assert batch.status == BatchStatus.FAILED and batch.pause_reason == "every call failed"


def test_progress_and_redial(make_batch, sandbox_agent, settle):
    batch = settle(make_batch(sandbox_agent, [BUSY, NO_ANSWER, INVALID, "+14155550123"], calls_per_minute=10000))
    p = batches.progress(batch)
    assert p["recipients"] == 4 and p["finished"] == 4 and p["percent"] == 100.0
    assert p["outcomes"]["busy"] == p["outcomes"]["no_answer"] == p["outcomes"]["failed"] == 1
    assert p["outcomes"]["completed"] == 1 and p["average_duration_seconds"] is not None
    again = batches.redial(batch, outcomes=["busy", "no_answer"])
    assert set(again.recipients.values_list("phone", flat=True)) == {BUSY, NO_ANSWER}
    assert again.status == BatchStatus.RUNNING and again.recipient_count == 2
    with pytest.raises(batches.BatchActionError):
        batches.redial(batch, outcomes=["canceled"])


def test_pause_holds_attempts_already_queued(make_batch, sandbox_agent, run_jobs):
    batch = make_batch(sandbox_agent, numbers(3), calls_per_minute=10000)
    batch_jobs.tick_batch(batch.pk, now=timezone.now() + timedelta(seconds=30))
    batches.pause_batch(batch)
    run_jobs()  # the placement jobs run while paused
    assert Call.objects.filter(batch=batch, dial_claimed_at__isnull=False).count() == 0
    batches.resume_batch(batch)
    # The first tick ran at a faked time, so it already counted as a re-enqueue; forget it.
    import django_rq

    django_rq.get_connection("calls").delete(f"callops:batch-requeue:{batch.pk}")
    later = timezone.now() + timedelta(seconds=batch_jobs.LOST_AFTER_SECONDS + 1)
    batch_jobs.tick_batch(batch.pk, now=later)
    run_jobs()
    assert Call.objects.filter(batch=batch, dial_claimed_at__isnull=False).count() == 3
    assert Call.objects.filter(batch=batch).count() == 3  # the same attempts, not new ones
