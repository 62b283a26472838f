"""Background jobs for webhooks (module-level functions taking ids) and the sweep that feeds them.

`deliver_job` sends due deliveries in batches; `sweep_due_deliveries` runs every second in the
sweeper and enqueues delivery jobs while the database says work is due, so a lost Redis job or a
killed worker only delays a delivery. `recovery_job` is the background half of bulk recovery.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import django_rq
from django.conf import settings
from django.utils import timezone

from callops.lib.queue import enqueue
from callops.webhooks import delivery, health
from callops.webhooks.models import RecoveryJob, Trigger

log = logging.getLogger(__name__)

# Delivery jobs the sweep keeps queued at most; more would only contend for the same rows.
MAX_QUEUED_JOBS = 4
# Rounds one job runs before it yields the worker, so a backlog cannot starve the other queues.
MAX_ROUNDS = 20
# ... and seconds, well inside RQ's job timeout (300 s), so the job is never killed mid-batch.
MAX_JOB_SECONDS = 120


# Set while a drain job is queued but not yet started: commits that find it set need no job of
# their own, because that job will see their rows. The TTL bounds the damage if Redis loses the job
# (the sweep enqueues regardless).
KICK_KEY = "callops:webhooks:kick"
KICK_TTL = 30


def kick() -> None:
    """Make sure a drain job will run after this point (called after each event commit)."""
    try:
        if not django_rq.get_connection("webhooks").set(KICK_KEY, 1, nx=True, ex=KICK_TTL):
            return
    except Exception:  # Redis trouble: enqueue below logs it; the sweep covers us either way
        pass
    enqueue(deliver_job, None, queue="webhooks")


def deliver_job(ids=None) -> int:
    """Send the given deliveries (or whatever is due), then keep draining due ones for a few rounds."""
    if ids is None:
        try:
            django_rq.get_connection("webhooks").delete(KICK_KEY)
        except Exception:
            pass
    try:
        return _drain(ids)
    finally:
        delivery.wait_for_writes()  # the job ends only once its attempts are on record


def _drain(ids) -> int:
    started = time.monotonic()
    sent = delivery.deliver_due(ids=ids)
    for i in range(MAX_ROUNDS):
        if time.monotonic() - started > MAX_JOB_SECONDS:
            kick()
            break
        more = delivery.deliver_due(include_manual=False)  # re-sends were looked for just now
        if not more:
            break
        if i == 0 and more >= settings.WEBHOOK_BATCH_SIZE:
            _help()  # a backlog: let another worker share it
        sent += more
    else:
        kick()  # still busy after MAX_ROUNDS: yield the worker but keep the drain going
    return sent


def _help() -> None:
    try:
        if django_rq.get_queue("webhooks").count >= MAX_QUEUED_JOBS:
            return
    except Exception:
        return
    enqueue(deliver_job, None, queue="webhooks")


def _due_count(limit: int) -> int:
    auto, manual = delivery.due_querysets(timezone.now())
    return auto[:limit].count() + manual[:limit].count()


def sweep_due_deliveries() -> int:
    """Enqueue delivery jobs for whatever is due; also the health and recovery housekeeping."""
    health.disable_long_failing()
    _resume_recoveries()
    due = _due_count(settings.WEBHOOK_BATCH_SIZE * MAX_QUEUED_JOBS)
    if not due:
        return 0
    try:
        queued = django_rq.get_queue("webhooks").count
    except Exception:
        queued = 0
    wanted = min(MAX_QUEUED_JOBS, -(-due // settings.WEBHOOK_BATCH_SIZE)) - queued
    for _ in range(max(0, wanted)):
        enqueue(deliver_job, None, queue="webhooks")
    return max(0, wanted)


def _resume_recoveries() -> None:
    # A recovery whose worker died mid-way: its heartbeat (updated_at) stops, so pick it up again.
    stale = timezone.now() - timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)
    for pk in RecoveryJob.objects.filter(status__in=[RecoveryJob.Status.PENDING, RecoveryJob.Status.RUNNING],
                                         heartbeat_at__lt=stale).values_list("pk", flat=True):
        RecoveryJob.objects.filter(pk=pk).update(heartbeat_at=timezone.now())
        enqueue(recovery_job, pk, queue="webhooks")


def recovery_job(job_id: int, chunk: int = 100) -> None:
    """Mark every recoverable delivery of the job for a bulk re-send, resuming where it stopped.

    Idempotent: rows are walked by id from `last_delivery_id`; a row already delivered no longer
    matches the filter, and marking a row twice only requests the same re-send again.
    """
    from callops.webhooks.services import recoverable

    job = RecoveryJob.objects.filter(pk=job_id).select_related("organization", "endpoint").first()
    if job is None or job.status in (RecoveryJob.Status.DONE, RecoveryJob.Status.FAILED):
        return
    RecoveryJob.objects.filter(pk=job.pk).update(status=RecoveryJob.Status.RUNNING, heartbeat_at=timezone.now())
    qs = recoverable(job.organization, since=job.since, until=job.until, endpoint=job.endpoint,
                     event_type=job.event_type)
    last = job.last_delivery_id
    while True:
        ids = list(qs.filter(pk__gt=last, manual_requested_at__isnull=True).order_by("pk")
                   .values_list("pk", flat=True)[:chunk])
        if not ids:
            break
        now = timezone.now()
        from callops.webhooks.models import WebhookDelivery

        WebhookDelivery.objects.filter(pk__in=ids).update(manual_requested_at=now, manual_trigger=Trigger.BULK)
        last = ids[-1]
        RecoveryJob.objects.filter(pk=job.pk).update(last_delivery_id=last, heartbeat_at=now,
                                                     done=min(job.total, job.done + len(ids)))
        job.done = min(job.total, job.done + len(ids))
        enqueue(deliver_job, ids, queue="webhooks")
    RecoveryJob.objects.filter(pk=job.pk).update(status=RecoveryJob.Status.DONE, done=job.total,
                                                 finished_at=timezone.now(), heartbeat_at=timezone.now())
