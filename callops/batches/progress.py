"""A batch's progress: counts per recipient state and outcome, per call status, rate and ETA.

Read by the API (GET /v1/batches/{id}) and the dashboard's live panel alike. The call counts and
the average duration come from the batch's daily call rollups (CallDayRollup), not from its calls.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, Sum
from django.utils import timezone

from callops.calls.models import TERMINAL, CallDayRollup, CallStatus

from .models import Batch, BatchRecipient, BatchStatus, RecipientState


def progress(batch: Batch, *, now: datetime | None = None) -> dict:
    """Counts per recipient state and outcome, per call status, rate, ETA, average duration."""
    now = now or timezone.now()
    states = dict(BatchRecipient.objects.filter(batch=batch).values_list("state").annotate(n=Count("id"))
                  .values_list("state", "n"))
    outcomes = dict(BatchRecipient.objects.filter(batch=batch).exclude(outcome="").values_list("outcome")
                    .annotate(n=Count("id")).values_list("outcome", "n"))
    # One pass over the batch's daily counters for both the counts and the durations: their number
    # grows with the days the batch ran and the tuples in each, so a second aggregate over the same
    # rows would double the page's largest read. (The hourly ones would be up to 24 times as many:
    # a 500,000-call batch spread over 90 days has ~31,000 of them.)
    counters = CallDayRollup.objects.filter(organization_id=batch.organization_id, batch_pk=batch.pk)
    per_status = list(counters.values("status").annotate(calls=Sum("n"), seconds=Sum("talk_seconds"),
                                                         timed=Sum("timed")).order_by())
    call_counts = {r["status"]: r["calls"] for r in per_status if r["calls"]}
    # The mean of the completed calls' durations that are known, as Avg(duration_seconds) was.
    talk = next((r for r in per_status if r["status"] == CallStatus.COMPLETED), {"seconds": 0, "timed": 0})
    avg = talk["seconds"] / talk["timed"] if talk["timed"] else None
    total = batch.recipient_count or sum(states.values())
    finished = states.get(RecipientState.DONE, 0) + states.get(RecipientState.CANCELED, 0)
    rate = eta = None
    if batch.started_at and finished:
        elapsed = max(((batch.finished_at or now) - batch.started_at).total_seconds(), 1.0)
        rate = finished / elapsed * 60.0  # recipients finished per minute
        remaining = total - finished
        if remaining and batch.status == BatchStatus.RUNNING:
            eta = now + timedelta(minutes=remaining / rate)
    return {
        "recipients": total,
        "finished": finished,
        "percent": round(100.0 * finished / total, 1) if total else 0.0,
        "states": {s: states.get(s, 0) for s in RecipientState.values},
        "outcomes": {s: outcomes.get(s, 0) for s in (*TERMINAL,)},
        "calls": {s: call_counts.get(s, 0) for s in CallStatus.values},
        "attempts": sum(call_counts.values()),
        "rate_per_minute": round(rate, 2) if rate else None,
        "eta": eta,
        "average_duration_seconds": round(avg, 1) if avg is not None else None,
    }
