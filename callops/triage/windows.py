"""The look-back windows triage counts failures in ("24h": the last 24 hours), and their bounds.

A group's trend compares the window with the one of the same length just before it, so every
window comes with the start of that previous one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

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
    return now - 2 * length, now - length, now
