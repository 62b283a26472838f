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


def test_number_without_a_place_uses_the_batch_default_zone(make_batch, sandbox_agent):
    # A toll-free number maps to 42 zones from Guam to Newfoundland: no hour is 9-17 in all of them,
    # so "open in every zone" would never dial it and the batch would never finish. It is read in
    # the batch's default zone instead (Tokyo here).
    wed_0030 = datetime(2026, 11, 25, 0, 30, tzinfo=UTC)  # 09:30 Wednesday in Tokyo
    batch = make_batch(sandbox_agent, ["+18005550100"], calls_per_minute=10000, window_start_hour=9,
                       window_end_hour=17, timezone="Asia/Tokyo", now=wed_0030 - timedelta(hours=12))
    rec = BatchRecipient.objects.get(batch=batch)
    assert rec.tz == "" and fresh(batch).timezones == [""]
    # 15:00 UTC is midnight in Tokyo (and mid-morning in New York): not dialed.
    batch_jobs.tick_batch(batch.pk, now=wed_0030 - timedelta(hours=9, minutes=30))
    assert not Call.objects.filter(batch=batch).exists()
    batch_jobs.tick_batch(batch.pk, now=wed_0030)
    assert Call.objects.filter(batch=batch).count() == 1


def test_zone_lists_are_never_cut_and_old_cut_lists_fall_back(make_batch, sandbox_agent):
    from zoneinfo import ZoneInfo

    from callops.calls import batch_csv

    numbers_ = ["+18005550100", "+12085550100", "+12125550100", "+81312345678", "+61412345678"]
    batch = make_batch(sandbox_agent, numbers_, start=False, timezone="Europe/Paris")
    stored = dict(BatchRecipient.objects.filter(batch=batch).values_list("phone", "tz"))
    assert stored == {"+18005550100": "", "+12085550100": "America/Boise;America/Los_Angeles",
                      "+12125550100": "America/New_York", "+81312345678": "Asia/Tokyo",
                      "+61412345678": "Australia/Sydney"}
    for tz in stored.values():
        for name in filter(None, tz.split(";")):
            ZoneInfo(name)  # every stored name is a whole zone name
            assert len(tz.split(";")) <= batch_csv.MAX_ZONES
    # A row stored before the limit (42 zones cut at 200 characters) is read in the default zone.
    cut = ";".join(["America/Adak", "America/Anchorage", "America/Anguilla", "America/Antigua"] * 10)[:200]
    paris_10am = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    b = fresh(batch)
    b.window_start_hour, b.window_end_hour = 9, 17
    assert batch_jobs.window_open(b, cut, paris_10am) is True
    assert batch_jobs.window_open(b, cut, paris_10am + timedelta(hours=10)) is False


def test_border_numbers_need_the_window_open_in_each_zone(make_batch, sandbox_agent):
    # Idaho's area code spans Mountain (Boise) and Pacific (Los Angeles) time.
    batch = make_batch(sandbox_agent, ["+12085550100"], start=False, window_start_hour=9, window_end_hour=17,
                       timezone="Asia/Tokyo")
    b, zones = fresh(batch), "America/Boise;America/Los_Angeles"
    la_10 = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)  # 10:00 Los Angeles, 11:00 Boise
    assert batch_jobs.window_open(b, zones, la_10) is True
    assert batch_jobs.window_open(b, zones, la_10 + timedelta(hours=6, minutes=30)) is False  # 17:30 in Boise
    assert batch_jobs.window_open(b, zones, la_10 - timedelta(hours=1, minutes=30)) is False  # 08:30 in LA
    # A one-hour window cannot be open in two zones an hour apart: the default zone decides.
    b.window_start_hour, b.window_end_hour = 9, 10
    tokyo_930 = datetime(2026, 11, 25, 0, 30, tzinfo=UTC)
    assert batch_jobs.window_open(b, zones, tokyo_930) is True
    assert batch_jobs.window_open(b, zones, la_10) is False


@pytest.mark.parametrize("window", [(9, 10), (9, 17), (20, 21), (None, None)])
@pytest.mark.parametrize("days", [[1, 2, 3, 4, 5], [6], [7]])
def test_every_recipient_gets_open_hours_whenever_the_window_has_any(make_batch, sandbox_agent, window, days):
    phones = ["+18005550100", "+12085550100", "+12125550100", "+81312345678", "+61412345678", "+442079460000",
              "+79161234567", "+5511987654321"]
    batch = make_batch(sandbox_agent, phones, start=False, window_start_hour=window[0], window_end_hour=window[1],
                       window_days=days, timezone="America/Chicago")
    b = fresh(batch)
    week = [datetime(2026, 11, 23, tzinfo=UTC) + timedelta(minutes=30 * i) for i in range(2 * 24 * 8)]
    for rec in BatchRecipient.objects.filter(batch=batch):
        assert any(batch_jobs.window_open(b, rec.tz, t) for t in week), (rec.phone, rec.tz)


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


def test_circuit_breaker_pauses_with_reason(make_batch, sandbox_agent, settle, run_jobs, clock, settings):
    from callops.calls.jobs import sweep_scheduled_calls
    from callops.calls.status_sync import sweep_due_syncs
    from tests.providers.conftest import step_clock

    settings.SANDBOX_SPEED = 1  # INVALID fails 2 s after placement, LOW_BALANCE after 1 s
    batch = make_batch(sandbox_agent, [INVALID, LOW_BALANCE, *numbers(6)], calls_per_minute=10000,
                       max_concurrency=2, breaker_threshold=0.5, breaker_min_calls=2)
    # Both failing numbers are dialed (a token every 6 ms) before either has failed, and read
    # together once both have, so they fill the breaker's minimum of 2 at once. (Reaped one at a
    # time, the first failure alone is under the minimum and frees a slot for a third call.)
    batch_jobs.tick_batch(batch.pk)
    run_jobs()
    clock.advance(0.5)
    batch_jobs.tick_batch(batch.pk)
    run_jobs()
    assert sorted(Call.objects.filter(batch=batch).values_list("to_number", flat=True)) == sorted([INVALID,
                                                                                                  LOW_BALANCE])
    clock.advance(3)  # both have failed at the provider; the next reads see it in one round
    for _ in range(200):
        batch_jobs.tick_batch(batch.pk)
        sweep_scheduled_calls()
        sweep_due_syncs()
        run_jobs()
        if fresh(batch).status != BatchStatus.RUNNING:
            break
        step_clock(clock)
    assert batch.status == BatchStatus.PAUSED
    assert batch.pause_reason.startswith("circuit breaker: 2 of the last 2 calls failed (100%)")
    assert WebhookEvent.objects.filter(batch=batch, type="batch.paused").exists()
    assert Call.objects.filter(batch=batch).count() == 2  # nothing more was dialed
    # Resuming starts the window afresh: the old failures do not trip it again.
    settings.SANDBOX_SPEED = 1000  # the six remaining calls end within a read each
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


def test_sweep_is_fair_when_one_pass_cannot_tick_every_batch(make_batch, sandbox_agent, monkeypatch):
    batches_ = [make_batch(sandbox_agent, numbers(2, start=3000000 + 10 * i), calls_per_minute=1) for i in range(5)]
    ticked = []
    original = batch_jobs.tick_batch
    monkeypatch.setattr(batch_jobs, "tick_batch", lambda pk, **kw: (ticked.append(pk), original(pk, **kw))[1])
    for _ in range(5):
        batch_jobs.sweep_batches(limit=2)
    # Ten ticks over five batches: each got its two turns, in rotation.
    ids = [b.pk for b in batches_]
    assert sorted(ticked) == sorted(ids * 2)
    assert ticked[:5] == ids and ticked[5:] == ids


def test_sweep_skips_paused_batches_with_nothing_to_reap(make_batch, sandbox_agent, monkeypatch, run_jobs):
    idle = make_batch(sandbox_agent, numbers(2, start=4000000), calls_per_minute=10000)
    batches.pause_batch(idle)
    busy = make_batch(sandbox_agent, numbers(2, start=4000100), calls_per_minute=10000)
    batch_jobs.tick_batch(busy.pk, now=timezone.now() + timedelta(seconds=30))
    batches.pause_batch(busy)
    ticked = []
    original = batch_jobs.tick_batch
    monkeypatch.setattr(batch_jobs, "tick_batch", lambda pk, **kw: (ticked.append(pk), original(pk, **kw))[1])
    batch_jobs.sweep_batches()
    assert ticked == []  # paused; one has calls out, but none has ended yet
    from callops.calls.services import apply_status

    ended = Call.objects.filter(batch=busy).first()
    apply_status(ended, CallStatus.BUSY, source="system")
    batch_jobs.sweep_batches()
    assert ticked == [busy.pk]
    assert BatchRecipient.objects.get(batch=busy, last_call=ended).outcome == "busy"  # reaped while paused
    batch_jobs.sweep_batches()
    assert ticked == [busy.pk]  # nothing more to reap


def test_one_failing_placement_does_not_strand_the_rest_of_its_chunk(make_batch, sandbox_agent, monkeypatch):
    from callops.calls import services

    batch = make_batch(sandbox_agent, numbers(3), calls_per_minute=10000)
    created = batch_jobs._dispatch(fresh(batch), timezone.now() + timedelta(seconds=10))
    assert len(created) == 3
    real = services.place_call

    def flaky(call, **kwargs):
        if call.pk == created[0]:
            raise RuntimeError("database hiccup")
        return real(call, **kwargs)

    monkeypatch.setattr(services, "place_call", flaky)
    assert batch_jobs.place_batch_calls_job(created) == 2
    placed = Call.objects.filter(pk__in=created).exclude(provider_call_id="")
    assert sorted(placed.values_list("pk", flat=True)) == sorted(created[1:])
