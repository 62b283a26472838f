"""Background jobs for calls. Each takes an id, loads the row, and checks state first."""

import logging

from django.utils import timezone

from callops.lib.queue import enqueue

from .models import Call, CallStatus, EventSource

log = logging.getLogger(__name__)


def place_call_job(call_id: int) -> None:
    from . import services

    call = Call.objects.filter(pk=call_id).first()
    if call is None or call.status != CallStatus.QUEUED or call.dial_claimed_at is not None:
        return  # already placed, canceled, or gone: placing is idempotent
    if call.scheduled_at and call.scheduled_at > timezone.now():
        return  # not due yet; the sweep will come back
    services.place_call(call, source=EventSource.SYSTEM, retry_transient=True)


def sweep_scheduled_calls(limit: int = 500) -> int:
    """Enqueue placement of queued calls that are due and not yet claimed."""
    due = list(
        Call.objects.filter(status=CallStatus.QUEUED, dial_claimed_at__isnull=True, scheduled_at__lte=timezone.now())
        .order_by("scheduled_at").values_list("pk", flat=True)[:limit]
    )
    for pk in due:
        # A fixed job id keeps repeated sweeps from piling up copies while one is still queued.
        enqueue(place_call_job, pk, queue="calls", job_id=f"place-call-{pk}")
    return len(due)
