"""The period a comparison covers, and the buckets of its chart.

The rollups count whole UTC hours of call creation, so a period is widened to whole hours:
`since` down to the start of its hour, `until` up to the end of its. Chart buckets are those UTC
hours (interval "hour"), or the viewer's local days (interval "day"): each hour grouped under the
local date of its start at read time, so a day across a DST change holds 23 or 25 hours and every
call is counted on the day it was created there.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from callops.calls.rollup_reconcile import hour_bounds

INTERVALS = ("hour", "day")
DEFAULT_RANGE = timedelta(days=7)
MAX_RANGE = timedelta(days=92)
# Hourly buckets for at most this long a period (336 bars); beyond it the chart would be unreadable.
MAX_HOURLY_RANGE = timedelta(days=14)
# The automatic interval: hours up to two days, days beyond.
HOURLY_UP_TO = timedelta(hours=48)


class PeriodError(ValueError):
    """A period that cannot be compared; `field` names the parameter at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Period:
    since: datetime  # aware UTC, on an hour
    until: datetime  # aware UTC, on an hour, after since
    interval: str  # hour | day
    tz: tzinfo

    def buckets(self) -> list[tuple[object, datetime, datetime]]:
        """(key, start, end) of every chart bucket, in order, clipped to the period. The key is
        what the rollup query groups by: the UTC hour, or the local date."""
        out: list[tuple[object, datetime, datetime]] = []
        if self.interval == "hour":
            at = self.since
            while at < self.until:
                out.append((at, at, at + timedelta(hours=1)))
                at += timedelta(hours=1)
            return out
        day = self.since.astimezone(self.tz).date()
        last = (self.until - timedelta(microseconds=1)).astimezone(self.tz).date()
        while day <= last:
            start = max(self.since, local_midnight(day, self.tz))
            end = min(self.until, local_midnight(day + timedelta(days=1), self.tz))
            out.append((day, start, end))
            day += timedelta(days=1)
        return out


def local_midnight(day: date, tz: tzinfo) -> datetime:
    """The UTC instant local `day` begins (a DST gap at midnight moves it to the first real time)."""
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)


def zone(name: str | None) -> tzinfo:
    """An IANA zone by name ("" or None is UTC); PeriodError for a name that is not one."""
    if not name:
        return UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise PeriodError("tz", f"unknown time zone {name[:64]!r}: use an IANA name such as Europe/Berlin")


def period(since: datetime | None, until: datetime | None, *, interval: str | None = None, tz: tzinfo = UTC,
           now: datetime) -> Period:
    """The period for aware `since`/`until` (None: `until` is now, `since` a week before `until`)."""
    until = until or now
    since = since or until - DEFAULT_RANGE
    if since >= until:
        raise PeriodError("since", "since must be before until")
    if until - since > MAX_RANGE:
        raise PeriodError("until", f"the period may be at most {MAX_RANGE.days} days long")
    if interval is None:
        interval = "hour" if until - since <= HOURLY_UP_TO else "day"
    elif interval not in INTERVALS:
        raise PeriodError("interval", "interval must be hour or day")
    if interval == "hour" and until - since > MAX_HOURLY_RANGE:
        raise PeriodError("interval", f"hourly buckets cover at most {MAX_HOURLY_RANGE.days} days; use day")
    start, end = hour_bounds(since, until)
    assert start is not None and end is not None
    return Period(start, end, interval, tz)
