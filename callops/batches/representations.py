"""The batch as the outside world sees it: one dict for the API and the webhook payloads, so a
batch.* event and GET /v1/batches/{id} never disagree."""

from __future__ import annotations

from callops.lib.isotime import format as _iso

from .models import Batch
from .progress import progress as progress_of


def batch_to_dict(batch: Batch, *, progress: bool = False) -> dict:
    """The batch as GET /v1/batches/{id} and the batch.* webhook events show it; `progress` adds
    the counts (progress.progress), which cost a few aggregate queries."""
    data = {
        "id": str(batch.public_id), "object": "batch", "name": batch.name or None, "status": batch.status,
        "agent_id": str(batch.agent.public_id), "mode": batch.mode,
        "routing_profile_id": str(batch.routing_profile.public_id) if batch.routing_profile else None,
        "pause_reason": batch.pause_reason or None,
        "recipients": batch.recipient_count, "rejected": batch.rejected_count, "duplicates": batch.duplicate_count,
        "total_rows": batch.total_rows,
        "start_at": _iso(batch.start_at), "timezone": batch.default_timezone,
        "window": {"start_hour": batch.window_start_hour, "end_hour": batch.window_end_hour,
                   "days": batch.window_days} if batch.window_start_hour is not None or batch.window_days else None,
        "max_concurrency": batch.max_concurrency, "calls_per_minute": batch.calls_per_minute,
        "retry": {"max_attempts": batch.max_attempts, "intervals": batch.retry_intervals, "on": batch.retry_on},
        "circuit_breaker": {"threshold": batch.breaker_threshold, "min_calls": batch.breaker_min_calls,
                            "window_seconds": batch.breaker_window_seconds}
        if batch.breaker_threshold is not None else None,
        "created_at": _iso(batch.created_at), "started_at": _iso(batch.started_at),
        "finished_at": _iso(batch.finished_at),
    }
    if progress:
        p = progress_of(batch)
        p["eta"] = _iso(p["eta"])
        data["progress"] = p
    return data
