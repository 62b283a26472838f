"""Retention of webhook attempt bodies (RAW_PAYLOAD_RETENTION_DAYS).

An attempt older than the retention keeps its row (number, status, error, duration, headers);
its request and response bodies become "", which the attempt inspector shows as removed. The
event body a delivery sends is on WebhookEvent and is kept, so a redelivery still sends it."""

from datetime import datetime

from callops.lib import retention

from .models import ATTEMPT_BODY_KEPT, WebhookAttempt


def sweep_old_attempt_bodies(limit: int = retention.BATCH, now: datetime | None = None) -> int:
    """Blank the bodies of at most `limit` of the oldest attempts past the retention."""
    before = retention.cutoff(now)
    if before is None:
        return 0
    return retention.blank_oldest(WebhookAttempt.objects.filter(ATTEMPT_BODY_KEPT), before=before, limit=limit,
                                  request_body="", response_body="")
