"""Background jobs for calls. Each takes an id, loads the row, and checks state first.

Placement, status sync (polls, stale checks) and result extraction. The modules doing the work
enqueue these jobs, so they import this module inside the function that enqueues (each such
import names the cycle it breaks); this module imports them at the top.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from callops.lib.queue import enqueue_chunks
from callops.providers.registry import KINDS, adapter_class

from . import results, services, status_sync
from .models import Call, CallStatus, EventSource, IdempotencyRecord

log = logging.getLogger(__name__)

# Calls placed per job: RQ's per-job bookkeeping would cost more than a sandbox placement.
PLACE_CHUNK = 20


def place_call_job(call_id: int) -> None:
    call = Call.objects.filter(pk=call_id).first()
    if call is None or call.status != CallStatus.QUEUED or call.dial_claimed_at is not None:
        return  # already placed, canceled, or gone: placing is idempotent
    if call.scheduled_at and call.scheduled_at > timezone.now():
        return  # not due yet; the sweep will come back
    services.place_call(call, source=EventSource.SYSTEM, retry_transient=True)


def place_calls_job(call_ids: list[int]) -> int:
    """Place several due calls in one job; each goes through place_call_job's checks."""
    for pk in call_ids:
        try:
            place_call_job(pk)
        except Exception:
            # One call's failure must not strand the rest of the chunk; its row is still due and
            # unclaimed (or claimed and failed), so the sweep and the stale check take it from here.
            log.exception("placing call %s failed", pk)
    return len(call_ids)


def enqueue_placements(call_ids: list[int]) -> int:
    """Queue the placement of due calls, in chunks, each call at most once while it waits."""
    return enqueue_chunks(place_calls_job, call_ids, lease="place-call", queue="calls", chunk=PLACE_CHUNK)


def sweep_scheduled_calls(limit: int = 500) -> int:
    """Enqueue placement of queued calls that are due and not yet claimed."""
    due = list(
        Call.objects.filter(status=CallStatus.QUEUED, dial_claimed_at__isnull=True, scheduled_at__lte=timezone.now())
        .order_by("scheduled_at").values_list("pk", flat=True)[:limit]
    )
    enqueue_placements(due)
    return len(due)


def purge_idempotency_records(limit: int = 1000) -> int:
    """Delete Idempotency-Key records past their 24 hours, a bounded slice per sweep."""
    stale = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - IdempotencyRecord.TTL)
    ids = list(stale.values_list("pk", flat=True)[:limit])
    if ids:
        IdempotencyRecord.objects.filter(pk__in=ids).delete()
    return len(ids)


def reconcile_placements_job(call_ids: list[int]) -> dict:
    return {pk: services.reconcile_placement(pk) for pk in call_ids}


def sweep_interrupted_placements(limit: int = 200) -> int:
    """Find calls whose placement was interrupted (claimed longer ago than any placement takes, no
    provider id) at providers that can look a call up, and queue their reconciliation."""
    kinds = [kind for kind in KINDS if adapter_class(kind).finds_placements]
    cutoff = timezone.now() - timedelta(seconds=settings.PLACEMENT_SETTLE_SECONDS)
    ids = list(Call.objects.filter(status=CallStatus.QUEUED, provider_call_id="", dial_claimed_at__lt=cutoff,
                                   provider__in=kinds)
               # Calls in a provider-run batch are claimed for the provider to dial, not by us.
               .filter(Q(batch__isnull=True) | ~Q(batch__mode="provider"))
               .values_list("pk", flat=True)[:limit])
    return enqueue_chunks(reconcile_placements_job, ids, lease="reconcile-placement", queue="calls", chunk=10)


# --- Status sync (callops.calls.status_sync) -------------------------------------------------------
def sync_call_job(call_id: int) -> str:
    return status_sync.sync_call(call_id)


def sync_calls_job(call_ids: list[int]) -> dict:
    return status_sync.sync_calls(call_ids)


def reconcile_stale_job(call_id: int) -> str:
    return status_sync.reconcile_stale(call_id)


# --- Result extraction (callops.calls.results) -----------------------------------------------------
def run_extraction_job(call_id: int, source: str = EventSource.SYSTEM) -> None:
    results.run_extraction(call_id, source=source)


def sweep_lost_extractions() -> int:
    """Listed in settings.SWEEPS: re-enqueue extraction runs whose job was lost."""
    return results.requeue_lost_runs()
