"""The look-back windows triage counts failures in ("24h": the last 24 hours), and their bounds.

A group's trend compares the window with the one of the same length just before it, so every
window comes with the start of that previous one.

Windows start on a UTC hour: the counts come from the hourly call rollups (CallRollup), which
count a whole hour or nothing. "Last 24 hours" is the hour that began 24 hours ago and everything
since (between 24 and 25 hours); the previous window is the 24 whole hours before it. The bulk
actions select their rows with the same bounds, so a count and the rows it acts on agree.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from callops.calls.rollups import hour_of

WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
WINDOW_LABELS = {"1h": "Last hour", "24h": "Last 24 hours", "7d": "Last 7 days", "30d": "Last 30 days"}
DEFAULT_WINDOW = "24h"


def parse_window(value) -> str:
    """A window name from user input; anything unknown is the default window."""
    return value if value in WINDOWS else DEFAULT_WINDOW


def bounds(window: str, now: datetime | None = None) -> tuple[datetime, datetime, datetime]:
    """(start of the previous window, start of the window, end of the window)."""
    now = now or timezone.now()
    length = WINDOWS[window]
    return hour_of(now - 2 * length), hour_of(now - length), now
