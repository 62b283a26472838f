"""When the next automatic attempt of a delivery is due: the retry schedule and `Retry-After`."""

from __future__ import annotations

import email.utils
import math
import random
import re

from django.utils import timezone

# Seconds before automatic attempt n+1 (index n): immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
SCHEDULE = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
MAX_AUTO_ATTEMPTS = len(SCHEDULE)
JITTER = 0.2
OVERLOAD_PENALTY_SECONDS = 60  # after a timeout or a 429 (the Svix rule)
# A Retry-After beyond this is treated as this; the clamp to 2x the schedule applies after it anyway.
MAX_RETRY_AFTER_SECONDS = 7 * 24 * 3600

_rng = random.Random()


def retry_delay(auto_attempts_done: int, *, retry_after: float | None = None, overloaded: bool = False,
                rng=_rng) -> float | None:
    """Seconds until the next automatic attempt, or None when the schedule is used up."""
    if auto_attempts_done >= MAX_AUTO_ATTEMPTS:
        return None
    delay = SCHEDULE[auto_attempts_done] * rng.uniform(1 - JITTER, 1 + JITTER)
    if retry_after is not None:
        # A receiver may slow retries down, but neither speed them up nor stall them indefinitely.
        delay = min(max(retry_after, delay), 2 * delay)
    if overloaded:
        delay = max(delay, OVERLOAD_PENALTY_SECONDS)
    return delay


_DELTA_SECONDS = re.compile(r"\d{1,20}(?:\.\d{1,9})?")


def parse_retry_after(value) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or an HTTP-date), or None.

    Whatever a receiver sends (`inf`, `Infinity`, `1e400`, `-5`, `NaN`, a date in year 9999,
    garbage) ends as a finite number of seconds in [0, MAX_RETRY_AFTER_SECONDS] or as None,
    never as an exception in the delivery loop.
    """
    if not value:
        return None
    value = str(value).strip()
    if _DELTA_SECONDS.fullmatch(value):
        seconds = float(value)
        return float(min(math.ceil(seconds), MAX_RETRY_AFTER_SECONDS)) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.UTC)
        seconds = (when - timezone.now()).total_seconds()
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    if not math.isfinite(seconds):
        return None
    return min(max(0.0, seconds), float(MAX_RETRY_AFTER_SECONDS))
