"""The enqueue helper and the write that must survive a dropped database connection."""

import django_rq
import pytest
from django.db import OperationalError

from callops.calls import services
from callops.calls.jobs import sweep_scheduled_calls
from callops.lib.queue import enqueue


def _noop(x):
    return x


def test_a_job_id_is_enqueued_once_per_lease(db, django_capture_on_commit_callbacks):
    queue = django_rq.get_queue("default")
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(5):
            enqueue(_noop, 1, queue="default", job_id="only-once")
    assert queue.job_ids == ["only-once"]
    django_rq.get_connection("default").delete("callops:enqueued:only-once")  # the lease ran out
    with django_capture_on_commit_callbacks(execute=True):
        enqueue(_noop, 1, queue="default", job_id="only-once")
    assert queue.count == 2  # a lost job comes back once its lease expires


def test_the_lease_is_released_when_the_job_starts(db, run_jobs):
    enqueue(_noop, 7, queue="default", job_id="runs-then-free")
    run_jobs()
    assert not django_rq.get_connection("default").exists("callops:enqueued:runs-then-free")


def test_repeated_sweeps_do_not_flood_the_calls_queue(personas, sandbox_agent, django_capture_on_commit_callbacks):
    from django.utils import timezone

    from callops.calls.models import Call

    calls = [services.create_call(org=personas.org, agent=sandbox_agent, to_number="+12025550100")
             for _ in range(3)]
    Call.objects.filter(pk__in=[c.pk for c in calls]).update(scheduled_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(10):
            sweep_scheduled_calls()
    jobs = django_rq.get_queue("calls").jobs
    assert len(jobs) == 1  # one chunk carries all three due calls
    assert sorted(jobs[0].args[1]) == sorted(c.pk for c in calls)
    # A call that becomes due later is queued on its own, the waiting ones are not queued again.
    late = services.create_call(org=personas.org, agent=sandbox_agent, to_number="+12025550100")
    Call.objects.filter(pk=late.pk).update(scheduled_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        sweep_scheduled_calls()
    jobs = django_rq.get_queue("calls").jobs
    assert len(jobs) == 2 and jobs[1].args[1] == [late.pk]


def test_a_chunk_places_every_due_call_once(personas, sandbox_agent, run_jobs, django_capture_on_commit_callbacks):
    from django.utils import timezone

    from callops.calls.jobs import enqueue_placements
    from callops.calls.models import Call

    calls = [services.create_call(org=personas.org, agent=sandbox_agent, to_number=f"+1415555{i:04d}",
                                  scheduled_at=timezone.now()) for i in range(45)]
    with django_capture_on_commit_callbacks(execute=True):
        assert enqueue_placements([c.pk for c in calls]) == 45
    assert len(django_rq.get_queue("calls").jobs) == 3  # chunks of 20
    with django_capture_on_commit_callbacks(execute=True):
        assert enqueue_placements([c.pk for c in calls]) == 0  # still waiting: not queued twice
    run_jobs()
    placed = Call.objects.filter(pk__in=[c.pk for c in calls])
    assert placed.exclude(provider_call_id="").count() == 45
    assert not any(django_rq.get_connection("default").exists(f"callops:enqueued:place-call-{c.pk}") for c in calls)


@pytest.mark.django_db(transaction=True)
def test_post_placement_write_survives_a_dropped_connection():
    attempts = []

    def flaky_write():
        attempts.append(1)
        if len(attempts) < 3:
            raise OperationalError("server closed the connection unexpectedly")
        return "written"

    assert services._retry_on_disconnect(flaky_write) == "written"
    assert len(attempts) == 3


@pytest.mark.django_db(transaction=True)
def test_a_write_that_keeps_failing_still_raises():
    def dead():
        raise OperationalError("gone")

    with pytest.raises(OperationalError):
        services._retry_on_disconnect(dead, attempts=2)


def test_expired_idempotency_records_are_purged_by_the_sweep(personas):
    from datetime import timedelta

    from django.utils import timezone

    from callops.calls.jobs import purge_idempotency_records
    from callops.calls.models import IdempotencyRecord

    old = IdempotencyRecord.objects.create(organization=personas.org, key="old", request_hash="x", path="/v1/calls",
                                           created_at=timezone.now() - timedelta(hours=25))
    fresh = IdempotencyRecord.objects.create(organization=personas.org, key="fresh", request_hash="x",
                                             path="/v1/calls")
    assert purge_idempotency_records() == 1
    assert list(IdempotencyRecord.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert not IdempotencyRecord.objects.filter(pk=old.pk).exists()
