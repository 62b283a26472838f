"""Dispatching: pacing, concurrency, calling windows across time zones, scheduled starts, retries,
the circuit breaker, completion and its webhook events."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from callops.batches import dispatch, jobs
from callops.batches import services as batch_services
from callops.batches.models import BatchRecipient, BatchStatus, RecipientState
from callops.calls.models import Call, CallStatus
from callops.webhooks.models import WebhookEvent

from .conftest import BUSY, INVALID, LOW_BALANCE, NO_ANSWER, dialing, fresh, numbers

pytestmark = pytest.mark.django_db


def test_pacing_token_bucket(make_batch, sandbox_agent):
    t0 = timezone.now()
    batch = make_batch(sandbox_agent, numbers(50), calls_per_minute=120, max_concurrency=100, now=t0)
    assert batch.status == BatchStatus.RUNNING
    assert jobs.tick_batch(batch.pk, now=t0)["dispatched"] == 1
    assert jobs.tick_batch(batch.pk, now=t0)["dispatched"] == 0  # no tokens left
    assert jobs.tick_batch(batch.pk, now=t0 + timedelta(seconds=2))["dispatched"] == 4  # 2/s
    # Idle for a minute: the bucket holds only five seconds of pacing, so no burst of 120.
    assert jobs.tick_batch(batch.pk, now=t0 + timedelta(seconds=62))["dispatched"] == 10
    assert Call.objects.filter(batch=batch).count() == 15 == dialing(batch)


def test_concurrency_cap(make_batch, sandbox_agent, run_jobs):
    batch = make_batch(sandbox_agent, numbers(10), calls_per_minute=10000, max_concurrency=3)
    now = timezone.now()
    assert jobs.tick_batch(batch.pk, now=now + timedelta(seconds=10))["dispatched"] == 3
    assert jobs.tick_batch(batch.pk, now=now + timedelta(seconds=20))["dispatched"] == 0
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
    jobs.tick_batch(batch.pk, now=wed)
    assert set(Call.objects.filter(batch=batch).values_list("to_number", flat=True)) == {ny, london}
    # Thursday 01:00 UTC: 10:00 in Tokyo, evening in New York.
    jobs.tick_batch(batch.pk, now=datetime(2026, 11, 26, 1, 0, tzinfo=UTC))
    assert Call.objects.filter(batch=batch, to_number=tokyo).count() == 1
    # Saturday: nobody, even with the hour inside the window.
    sat = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
    weekend = make_batch(sandbox_agent, ["+12125550101"], calls_per_minute=10000, window_start_hour=9,
                         window_end_hour=17, window_days=[1, 2, 3, 4, 5], now=sat - timedelta(seconds=30))
    jobs.tick_batch(weekend.pk, now=sat)
    assert not Call.objects.filter(batch=weekend).exists()
    # The same batch on Monday morning in New York dials.
    jobs.tick_batch(weekend.pk, now=datetime(2026, 11, 30, 15, 0, tzinfo=UTC))
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
    jobs.tick_batch(batch.pk, now=wed_0030 - timedelta(hours=9, minutes=30))
    assert not Call.objects.filter(batch=batch).exists()
    jobs.tick_batch(batch.pk, now=wed_0030)
    assert Call.objects.filter(batch=batch).count() == 1


def test_zone_lists_are_never_cut_and_old_cut_lists_fall_back(make_batch, sandbox_agent):
    from zoneinfo import ZoneInfo

    from callops.batches import recipient_validation

    numbers_ = ["+18005550100", "+12085550100", "+12125550100", "+81312345678", "+61412345678"]
    batch = make_batch(sandbox_agent, numbers_, start=False, timezone="Europe/Paris")
    stored = dict(BatchRecipient.objects.filter(batch=batch).values_list("phone", "tz"))
    assert stored == {"+18005550100": "", "+12085550100": "America/Boise;America/Los_Angeles",
                      "+12125550100": "America/New_York", "+81312345678": "Asia/Tokyo",
                      "+61412345678": "Australia/Sydney"}
    for tz in stored.values():
        for name in filter(None, tz.split(";")):
            ZoneInfo(name)  # every stored name is a whole zone name
            assert len(tz.split(";")) <= recipient_validation.MAX_ZONES
    # A row stored before the limit (42 zones cut at 200 characters) is read in the default zone.
    cut = ";".join(["America/Adak", "America/Anchorage", "America/Anguilla", "America/Antigua"] * 10)[:200]
    paris_10am = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    b = fresh(batch)
    b.window_start_hour, b.window_end_hour = 9, 17
    assert dispatch.window_open(b, cut, paris_10am) is True
    assert dispatch.window_open(b, cut, paris_10am + timedelta(hours=10)) is False


def test_border_numbers_need_the_window_open_in_each_zone(make_batch, sandbox_agent):
    # Idaho's area code spans Mountain (Boise) and Pacific (Los Angeles) time.
    batch = make_batch(sandbox_agent, ["+12085550100"], start=False, window_start_hour=9, window_end_hour=17,
                       timezone="Asia/Tokyo")
    b, zones = fresh(batch), "America/Boise;America/Los_Angeles"
    la_10 = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)  # 10:00 Los Angeles, 11:00 Boise
    assert dispatch.window_open(b, zones, la_10) is True
    assert dispatch.window_open(b, zones, la_10 + timedelta(hours=6, minutes=30)) is False  # 17:30 in Boise
    assert dispatch.window_open(b, zones, la_10 - timedelta(hours=1, minutes=30)) is False  # 08:30 in LA
    # A one-hour window cannot be open in two zones an hour apart: the default zone decides.
    b.window_start_hour, b.window_end_hour = 9, 10
    tokyo_930 = datetime(2026, 11, 25, 0, 30, tzinfo=UTC)
    assert dispatch.window_open(b, zones, tokyo_930) is True
    assert dispatch.window_open(b, zones, la_10) is False


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
        assert any(dispatch.window_open(b, rec.tz, t) for t in week), (rec.phone, rec.tz)


def test_scheduled_start_with_offset(make_batch, sandbox_agent):
    start = timezone.now() + timedelta(hours=2)
    batch = make_batch(sandbox_agent, numbers(2), start_at=start.astimezone(
        __import__("zoneinfo").ZoneInfo("Asia/Kolkata")).isoformat(), calls_per_minute=10000)
    assert batch.status == BatchStatus.SCHEDULED and abs((batch.start_at - start).total_seconds()) < 1
    jobs.tick_batch(batch.pk, now=start - timedelta(minutes=1))
    assert fresh(batch).status == BatchStatus.SCHEDULED and not Call.objects.filter(batch=batch).exists()
    jobs.tick_batch(batch.pk, now=start + timedelta(seconds=1))
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
    jobs.tick_batch(batch.pk)
    run_jobs()
    call = Call.objects.get(batch=batch)
    from callops.calls.services import apply_status

    apply_status(call, CallStatus.NO_ANSWER, source="system")
    now = timezone.now()
    jobs.tick_batch(batch.pk, now=now)
    rec = BatchRecipient.objects.get(batch=batch)
    assert rec.state == RecipientState.PENDING and rec.next_attempt_at >= now + timedelta(seconds=599)
    jobs.tick_batch(batch.pk, now=now + timedelta(seconds=300))
    assert Call.objects.filter(batch=batch).count() == 1
    jobs.tick_batch(batch.pk, now=now + timedelta(seconds=601))
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
    jobs.tick_batch(batch.pk)
    run_jobs()
    clock.advance(0.5)
    jobs.tick_batch(batch.pk)
    run_jobs()
    assert sorted(Call.objects.filter(batch=batch).values_list("to_number", flat=True)) == sorted([INVALID,
                                                                                                  LOW_BALANCE])
    clock.advance(3)  # both have failed at the provider; the next reads see it in one round
    for _ in range(200):
        jobs.tick_batch(batch.pk)
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
    batch_services.resume_batch(batch)
    batch = settle(batch)
    assert batch.status == BatchStatus.COMPLETED
    assert Call.objects.filter(batch=batch).count() == 8


def test_all_failed_batch_is_failed(make_batch, sandbox_agent, settle):
    batch = settle(make_batch(sandbox_agent, [INVALID], calls_per_minute=10000))
    assert batch.status == BatchStatus.FAILED and batch.pause_reason == "every call failed"
