"""Batch jobs and the sweep: placements held while paused and re-enqueued when lost, a fair sweep,
and a placement chunk that survives one failing call."""

from datetime import timedelta

import pytest
from django.utils import timezone

from callops.batches import dispatch, jobs
from callops.batches import services as batch_services
from callops.batches.models import BatchRecipient
from callops.calls.models import Call, CallStatus

from .conftest import fresh, numbers

pytestmark = pytest.mark.django_db


def test_pause_holds_attempts_already_queued(make_batch, sandbox_agent, run_jobs):
    batch = make_batch(sandbox_agent, numbers(3), calls_per_minute=10000)
    jobs.tick_batch(batch.pk, now=timezone.now() + timedelta(seconds=30))
    batch_services.pause_batch(batch)
    run_jobs()  # the placement jobs run while paused
    assert Call.objects.filter(batch=batch, dial_claimed_at__isnull=False).count() == 0
    batch_services.resume_batch(batch)
    # The first tick ran at a faked time, so it already counted as a re-enqueue; forget it.
    import django_rq

    django_rq.get_connection("calls").delete(f"callops:batch-requeue:{batch.pk}")
    later = timezone.now() + timedelta(seconds=dispatch.LOST_AFTER_SECONDS + 1)
    jobs.tick_batch(batch.pk, now=later)
    run_jobs()
    assert Call.objects.filter(batch=batch, dial_claimed_at__isnull=False).count() == 3
    assert Call.objects.filter(batch=batch).count() == 3  # the same attempts, not new ones


def test_sweep_is_fair_when_one_pass_cannot_tick_every_batch(make_batch, sandbox_agent, monkeypatch):
    batches_ = [make_batch(sandbox_agent, numbers(2, start=3000000 + 10 * i), calls_per_minute=1) for i in range(5)]
    ticked = []
    original = jobs.tick_batch
    monkeypatch.setattr(jobs, "tick_batch", lambda pk, **kw: (ticked.append(pk), original(pk, **kw))[1])
    for _ in range(5):
        jobs.sweep_batches(limit=2)
    # Ten ticks over five batches: each got its two turns, in rotation.
    ids = [b.pk for b in batches_]
    assert sorted(ticked) == sorted(ids * 2)
    assert ticked[:5] == ids and ticked[5:] == ids


def test_sweep_skips_paused_batches_with_nothing_to_reap(make_batch, sandbox_agent, monkeypatch, run_jobs):
    idle = make_batch(sandbox_agent, numbers(2, start=4000000), calls_per_minute=10000)
    batch_services.pause_batch(idle)
    busy = make_batch(sandbox_agent, numbers(2, start=4000100), calls_per_minute=10000)
    jobs.tick_batch(busy.pk, now=timezone.now() + timedelta(seconds=30))
    batch_services.pause_batch(busy)
    ticked = []
    original = jobs.tick_batch
    monkeypatch.setattr(jobs, "tick_batch", lambda pk, **kw: (ticked.append(pk), original(pk, **kw))[1])
    jobs.sweep_batches()
    assert ticked == []  # paused; one has calls out, but none has ended yet
    from callops.calls.services import apply_status

    ended = Call.objects.filter(batch=busy).first()
    apply_status(ended, CallStatus.BUSY, source="system")
    jobs.sweep_batches()
    assert ticked == [busy.pk]
    assert BatchRecipient.objects.get(batch=busy, last_call=ended).outcome == "busy"  # reaped while paused
    jobs.sweep_batches()
    assert ticked == [busy.pk]  # nothing more to reap


def test_one_failing_placement_does_not_strand_the_rest_of_its_chunk(make_batch, sandbox_agent, monkeypatch):
    from callops.calls import services

    batch = make_batch(sandbox_agent, numbers(3), calls_per_minute=10000)
    created = dispatch._dispatch(fresh(batch), timezone.now() + timedelta(seconds=10))
    assert len(created) == 3
    real = services.place_call

    def flaky(call, **kwargs):
        if call.pk == created[0]:
            raise RuntimeError("database hiccup")
        return real(call, **kwargs)

    monkeypatch.setattr(services, "place_call", flaky)
    assert jobs.place_batch_calls_job(created) == 2
    placed = Call.objects.filter(pk__in=created).exclude(provider_call_id="")
    assert sorted(placed.values_list("pk", flat=True)) == sorted(created[1:])
