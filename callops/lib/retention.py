"""Raw payload retention: the cutoff RAW_PAYLOAD_RETENTION_DAYS sets, and the bounded UPDATE that
blanks rows older than it. The sweeps in callops.calls.retention and callops.webhooks.retention use
these; calls, timelines and rollups are never touched, only the raw bodies on them."""

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

# Rows blanked per table per sweep pass: each pass is one short UPDATE, so no pass holds row locks
# long enough to delay a status change or a delivery, and a backlog drains over many ticks.
BATCH = 1000


def retention_days() -> int:
    """Days raw payloads are kept; 0 (the default) keeps them for ever."""
    return max(0, int(settings.RAW_PAYLOAD_RETENTION_DAYS))


def cutoff(now: datetime | None = None) -> datetime | None:
    """Rows created before this lose their raw bodies; None while retention is off."""
    days = retention_days()
    if not days:
        return None
    return (now or timezone.now()) - timedelta(days=days)


def blank_oldest(kept: QuerySet[Any], *, before: datetime, limit: int = BATCH, **blank: Any) -> int:
    """Set `blank` on at most `limit` rows of `kept` (the rows still holding a body) created before
    `before`, oldest first; returns how many.

    One statement, UPDATE ... WHERE id IN (SELECT id ... ORDER BY created_at LIMIT n): the subquery
    walks the partial index of rows still holding a body, and blanked rows leave that index, so a
    pass costs the same however many rows earlier passes blanked, and running it again is harmless.
    """
    oldest = kept.filter(created_at__lt=before).order_by("created_at").values("pk")[:limit]
    blanked: int = kept.model._default_manager.filter(pk__in=oldest).update(**blank)
    return blanked
