"""Local calling hours: the organization's window (say 09:00-20:00) read in the callee's zone.

The zone comes from the number's range (callops.lib.number_zones, as batches derive it). A number
on a zone border (up to MAX_ZONES zones) may be called only when the window is open in each of
its zones; when they are so far apart that no moment is open in all of them, or the number is not
tied to a place (toll-free, national mobile ranges), the fallback zone decides: the batch's zone
for a batch call, else the organization's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import cast
from zoneinfo import ZoneInfo

from callops.lib import number_zones

from .models import CallingPolicy


@dataclass(frozen=True)
class Closed:
    """The window is closed for this number now: why, in words, and when it next opens."""

    message: str
    opens_at: datetime


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def describe_window(start: time, end: time) -> str:
    return f"{start:%H:%M}\u2013{end:%H:%M}"


def zones_for(number: str, fallback: str, *, window_minutes: int, now: datetime) -> list[ZoneInfo]:
    tzs = number_zones.window_zones(number_zones.zones_for_e164(number), fallback)
    if len(tzs) > 1:
        offsets = [cast(timedelta, now.astimezone(tz).utcoffset()).total_seconds() for tz in tzs]
        if (max(offsets) - min(offsets)) / 60 >= window_minutes:
            tzs = number_zones.window_zones("", fallback)
    return tzs


def _open_in(tz: ZoneInfo, start: time, end: time, at: datetime) -> bool:
    local = at.astimezone(tz)
    return _minutes(start) <= local.hour * 60 + local.minute < _minutes(end)


def closed(policy: CallingPolicy | None, number: str, at: datetime, *, fallback_zone: str | None = None) -> Closed | None:
    """None when `number` may be called at `at`; else why not and the window's next opening."""
    if policy is None or policy.hours_start is None or policy.hours_end is None:
        return None
    start, end = policy.hours_start, policy.hours_end
    fallback = fallback_zone or policy.time_zone or "UTC"
    tzs = zones_for(number, fallback, window_minutes=_minutes(end) - _minutes(start), now=at)
    if all(_open_in(tz, start, end, at) for tz in tzs):
        return None
    opens_at = next_opening(tzs, start, end, at)
    local = at.astimezone(tzs[0])
    names = ", ".join(tz.key for tz in tzs)
    return Closed(f"it is {local:%H:%M} in {names} for {number}, outside the calling hours "
                  f"{describe_window(start, end)}; the window opens at {opens_at.astimezone(tzs[0]).isoformat()}",
                  opens_at)


def next_opening(tzs: list[ZoneInfo], start: time, end: time, after: datetime) -> datetime:
    """The first moment after `after` when the window is open in every zone of `tzs`.

    The candidates are each zone's local opening time on the next few days, turned into absolute
    time with that day's offset (so a DST change in between moves the opening with the clock); the
    earliest one that is open everywhere wins. On a spring-forward day an opening inside the
    skipped hour resolves to the first minute that exists.
    """
    candidates = []
    for tz in tzs:
        local_day = after.astimezone(tz).date()
        for days in range(0, 9):
            day = local_day + timedelta(days=days)
            opening = datetime.combine(day, start, tzinfo=tz)
            # A nonexistent local time (clocks jumped over it) round-trips to the real minute after.
            opening = opening.astimezone(UTC).astimezone(tz)
            if opening > after:
                candidates.append(opening)
    for candidate in sorted(candidates):
        if all(_open_in(tz, start, end, candidate) for tz in tzs):
            return candidate.astimezone(UTC)
    # Unreachable for a window of at least a minute in at most MAX_ZONES close zones; keep moving.
    return after + timedelta(days=1)
