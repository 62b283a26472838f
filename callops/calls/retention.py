"""Retention of raw provider payloads on call timelines (RAW_PAYLOAD_RETENTION_DAYS).

A timeline event older than the retention keeps its row, status, reason and note; only its raw
payload is replaced by {}, which the call page shows as removed. Rollups count calls, not events,
so they are unaffected."""

from datetime import datetime

from callops.lib import retention

from .models import PAYLOAD_KEPT, CallEvent


def sweep_old_payloads(limit: int = retention.BATCH, now: datetime | None = None) -> int:
    """Blank the payloads of at most `limit` of the oldest events past the retention."""
    before = retention.cutoff(now)
    if before is None:
        return 0
    return retention.blank_oldest(CallEvent.objects.filter(PAYLOAD_KEPT), before=before, limit=limit, payload={})
