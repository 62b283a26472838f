"""Background jobs for webhooks (module-level functions taking ids) and the sweep that feeds them.

`deliver_job` sends due deliveries in batches; `sweep_due_deliveries` runs every second in the
sweeper and enqueues delivery jobs while the database says work is due, so a lost Redis job or a
killed worker only delays a delivery. `recovery_job` is the background half of bulk recovery.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from rq.job import Job, JobStatus

from callops.lib import redisconn
from callops.lib.queue import enqueue
from callops.webhooks import delivery, endpoint_health
from callops.webhooks.models import RecoveryJob, Trigger, WebhookDelivery, lock_in_id_order

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
        if not redisconn.client().set(KICK_KEY, 1, nx=True, ex=KICK_TTL):
            return
    except Exception:  # Redis trouble: enqueue below logs it; the sweep covers us either way
        pass
    enqueue(deliver_job, None, queue="webhooks")


def deliver_job(ids=None) -> int:
    """Send the given deliveries (or whatever is due), then keep draining due ones for a few rounds."""
    if ids is None:
        try:
            redisconn.client().delete(KICK_KEY)
        except Exception:
            pass
    return _drain(ids)


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


def _queue():
    return redisconn.queue("webhooks")


def _help() -> None:
    try:
        if _queue().count >= MAX_QUEUED_JOBS:
            return
    except Exception:
        return
    enqueue(deliver_job, None, queue="webhooks")


def _due_count(limit: int) -> int:
    auto, manual = delivery.due_querysets(timezone.now())
    return auto[:limit].count() + manual[:limit].count()


def sweep_due_deliveries() -> int:
    """Enqueue delivery jobs for whatever is due; also the health and recovery housekeeping."""
    endpoint_health.disable_long_failing()
    _resume_recoveries()
    due = _due_count(settings.WEBHOOK_BATCH_SIZE * MAX_QUEUED_JOBS)
    if not due:
        return 0
    try:
        queued = _queue().count
    except Exception:
        queued = 0
    wanted = min(MAX_QUEUED_JOBS, -(-due // settings.WEBHOOK_BATCH_SIZE)) - queued
    for _ in range(max(0, wanted)):
        enqueue(deliver_job, None, queue="webhooks")
    return max(0, wanted)


def recovery_rq_id(pk: int) -> str:
    """One RQ job id per recovery, so a copy waiting in the queue can be recognised."""
    return f"webhook-recovery-{pk}"


def _waiting_in_queue(rq_id: str) -> bool:
    try:
        status = Job.fetch(rq_id, connection=redisconn.client()).get_status()
    except Exception:  # no such job (lost with Redis, or expired): not waiting
        return False
    return status in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED)


def _resume_recoveries() -> None:
    now = timezone.now()
    stale = now - timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)
    # A recovery still marking whose heartbeat stopped: its worker died, or its job is still
    # waiting in the queue behind other work. Only the first needs a new copy.
    for pk in RecoveryJob.objects.filter(status__in=[RecoveryJob.Status.PENDING, RecoveryJob.Status.RUNNING],
                                         marking_done=False, heartbeat_at__lt=stale).values_list("pk", flat=True):
        if _waiting_in_queue(recovery_rq_id(pk)):
            continue
        enqueue(recovery_job, pk, queue="webhooks", job_id=recovery_rq_id(pk))
    # Marking finished: a recovery is done once every marked row was sent. One whose remaining
    # marks no longer wait for a re-send (rows deleted, or a manual re-send took them over) is closed.
    for pk in RecoveryJob.objects.filter(status=RecoveryJob.Status.RUNNING, marking_done=True).values_list(
            "pk", flat=True):
        if delivery.finish_recovery_if_complete(pk, now):
            continue
        if not WebhookDelivery.objects.filter(recovery_job_id=pk, manual_requested_at__isnull=False).exists():
            with transaction.atomic():
                WebhookDelivery.objects.filter(recovery_job_id=pk).update(recovery_job=None)
                RecoveryJob.objects.filter(pk=pk, status=RecoveryJob.Status.RUNNING).update(
                    status=RecoveryJob.Status.DONE, finished_at=now)


def recovery_job(job_id: int, chunk: int = 100) -> None:
    """Mark every recoverable delivery of the job for a bulk re-send, resuming where it stopped.

    Idempotent and single-runner:
    - a run first takes the job with a conditional UPDATE (pending, or running with a stale
      heartbeat); a second copy (re-enqueued by the sweep, or a duplicate in the queue) finds a
      fresh heartbeat or finished marking and leaves without doing anything;
    - rows are walked by id from `last_delivery_id`; each chunk's marks and the resume point
      commit together, so a worker killed mid-way redoes at most an uncommitted chunk;
    - `done` is counted by the delivery workers when a marked re-send was actually made.
    """
    # Breaks the cycle webhooks.services -> webhooks.jobs -> webhooks.services.
    from callops.webhooks.services import recoverable, recoverable_q

    now = timezone.now()
    stale = now - timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)
    taken = RecoveryJob.objects.filter(pk=job_id, marking_done=False).filter(
        Q(status=RecoveryJob.Status.PENDING) | Q(status=RecoveryJob.Status.RUNNING, heartbeat_at__lt=stale),
    ).update(status=RecoveryJob.Status.RUNNING, heartbeat_at=now)
    if not taken:
        return
    job = RecoveryJob.objects.select_related("organization", "endpoint").get(pk=job_id)
    qs = recoverable(job.organization, since=job.since, until=job.until, endpoint=job.endpoint,
                     inline_only=job.inline_only, event_type=job.event_type, delivery_status=job.delivery_status)
    last = job.last_delivery_id
    while True:
        ids = list(qs.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:chunk])
        if not ids:
            break
        now = timezone.now()
        with transaction.atomic():
            lock_in_id_order(ids)  # as the workers recording attempts lock them
            marked = WebhookDelivery.objects.filter(recoverable_q(job.delivery_status), pk__in=ids).update(
                manual_requested_at=now, manual_trigger=Trigger.BULK, recovery_job_id=job_id)
            last = ids[-1]
            RecoveryJob.objects.filter(pk=job_id).update(last_delivery_id=last, heartbeat_at=now,
                                                         marked=F("marked") + marked)
        enqueue(deliver_job, ids, queue="webhooks")
    RecoveryJob.objects.filter(pk=job_id).update(marking_done=True, heartbeat_at=timezone.now())
    delivery.finish_recovery_if_complete(job_id)
