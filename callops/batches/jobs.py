"""Batch jobs and the batch sweep: module-level functions taking ids (design rule 1).

`tick_batch` is one tick (dispatch.tick) followed by the jobs it calls for; the sweeper runs it for
every batch with work (`sweep_batches`), and `tick_batch_job` runs it at once after a start or a
resume. The provider-batch jobs are thin: their work is in provider_mode and provider_sync.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from callops.calls import services
from callops.calls.models import TERMINAL, Call, CallStatus, EventSource
from callops.lib.queue import enqueue

from . import dispatch, provider_mode, provider_sync
from .models import Batch, BatchRecipient, BatchStatus, RecipientState

log = logging.getLogger(__name__)

PLACE_CHUNK = 25  # calls placed per job: RQ's per-job overhead dominates a sandbox placement


def tick_batch(batch_id: int, *, now: datetime | None = None) -> dict:
    """One tick of a batch, then the placements and provider-batch jobs it calls for; returns what
    the tick did."""
    tick = dispatch.tick(batch_id, now=now)
    if tick.reserve:
        enqueue(reserve_provider_batch_job, batch_id, queue="calls", job_id=f"batch-reserve-{batch_id}")
    if tick.sync:
        enqueue(sync_provider_batch_job, batch_id, queue="calls")
    for i in range(0, len(tick.new_calls), PLACE_CHUNK):
        enqueue(place_batch_calls_job, tick.new_calls[i:i + PLACE_CHUNK], queue="calls")
    return tick.result


def tick_batch_job(batch_id: int) -> dict:
    """An immediate tick after start or resume, so the first calls do not wait for the sweeper."""
    return tick_batch(batch_id)


def place_batch_calls_job(call_ids: list[int]) -> int:
    """Place a chunk of a batch's calls; each goes through the once-only placement guard."""
    placed = 0
    # A paused batch dials nothing more, not even attempts already queued: they wait, unclaimed,
    # and the first tick after resuming re-enqueues them (_lost_placements).
    for call in Call.objects.filter(pk__in=call_ids, status=CallStatus.QUEUED, dial_claimed_at__isnull=True,
                                    batch__status=BatchStatus.RUNNING):
        try:
            services.place_call(call, source=EventSource.SYSTEM, retry_transient=True)
        except Exception:
            # As in calls.jobs.place_calls_job: one call's failure must not strand the rest of the
            # chunk; that call is unclaimed (a tick re-enqueues it) or claimed without an id (the
            # interrupted-placement sweep looks it up).
            log.exception("placing batch call %s failed", call.pk)
            continue
        placed += 1
    return placed


def reserve_provider_batch_job(batch_id: int, budget_seconds: float = provider_mode.RESERVE_BUDGET_SECONDS) -> int:
    """Reserve a provider batch's list in chunks and submit it once (provider_mode.reserve)."""
    return provider_mode.reserve(batch_id, budget_seconds)


def sync_provider_batch_job(batch_id: int) -> int:
    """Read a provider batch back and apply its reports (provider_sync.sync)."""
    return provider_sync.sync(batch_id)


def sweep_batches(limit: int = 200, budget_seconds: float = 5.0) -> int:
    """Tick every batch that may have work: started, paused with attempts to reap, or stopped and
    draining.

    Ticks run here, in the sweeper, rather than as queued jobs: a tick is itself a sweep of one
    batch's due rows, and queued behind the placement and poll jobs it creates it would starve
    exactly when a batch is busiest. A time budget keeps one pass from delaying the other sweeps;
    the batch that waited longest for a tick goes first (each tick stamps `last_ticked_at`), so
    with more batches than one pass can tick, the rest go first on the next pass and none starves.
    A paused batch is ticked only when one of its attempts has ended and waits to be reaped: it
    dials nothing, and would otherwise take a turn on every pass for as long as it stays paused.
    """
    now = timezone.now()
    to_reap = Exists(BatchRecipient.objects.filter(batch=OuterRef("pk"), state=RecipientState.DIALING,
                                                   last_call__status__in=list(TERMINAL)))
    ids = list(Batch.objects.filter(
        Q(status=BatchStatus.RUNNING)
        | Q(status=BatchStatus.PAUSED) & to_reap
        | Q(status=BatchStatus.SCHEDULED, start_at__lte=now)
        | Q(status=BatchStatus.STOPPED, finished_at__isnull=True))
        .order_by(F("last_ticked_at").asc(nulls_first=True), "pk")
        .values_list("pk", flat=True)[:limit])
    started = time.monotonic()
    n = 0
    for pk in ids:
        if time.monotonic() - started > budget_seconds:
            break
        # Stamped before the tick, in its own statement: a tick that keeps failing still moves to
        # the back of the line instead of being first (and failing) on every pass.
        Batch.objects.filter(pk=pk).update(last_ticked_at=timezone.now())
        try:
            tick_batch(pk)
            n += 1
        except Exception:
            log.exception("tick of batch %s failed; the next sweep tries again", pk)
    return n
