"""Rollup counters summed over a window, from the daily rollups where whole UTC days cover it and
from the hourly ones elsewhere: the figures the hours alone give, from far fewer rows.

A window [since, until) splits into
- the whole UTC days inside it: one daily row per tuple instead of up to 24 hourly ones. The
  current day counts as whole when the window reaches the present: its row holds the hours so far;
- its ragged ends, the hours before the first whole day and after the last: hourly rows.

Grouped by the reader's local days (`local_days=tz`), a UTC day straddles two local days unless
the zone's offset is a whole number of days (UTC). Its daily row counts under the local day most
of its hours fall on (its "home"); the hours that fall on the other one are read hourly, taken off
the home day and added to theirs: at most 12 hours of each UTC day, none in UTC. As with the hours
alone, each hour counts on the local date its start falls on (TruncDate of the hour), so a day
across a DST change holds 23 or 25 hours.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from django.db.models import Q, Sum
from django.db.models.functions import TruncDate, TruncDay
from django.utils import timezone

from .models import CallDayRollup, CallRollup
from .rollups import day_of

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


def _plan(since: datetime, until: datetime | None, local_days: tzinfo | None, now: datetime):
    """(whole UTC days, {day: home local date}, hour ranges to read hourly)."""
    # Nothing is created after now, so a window reaching past it ends, for the rollups, at now.
    end = until if until is not None and until <= now else None
    first = day_of(since)
    if first < since:
        first += DAY
    last = day_of(now) + DAY if end is None else day_of(end)
    days = [first + i * DAY for i in range((last - first) // DAY)] if last > first else []
    if not days:
        return [], {}, [(since, until)]
    ranges: list[tuple[datetime, datetime | None]] = []
    if since < first:
        ranges.append((since, first))
    if end is not None and last < end:
        ranges.append((last, end))
    homes: dict[datetime, date] = {}
    if local_days is not None:
        for day in days:
            homes[day] = home = (day + 12 * HOUR).astimezone(local_days).date()
            for h in range(24):
                start = day + h * HOUR
                if start.astimezone(local_days).date() == home:
                    continue
                if ranges and ranges[-1][1] == start:
                    ranges[-1] = (ranges[-1][0], start + HOUR)
                else:
                    ranges.append((start, start + HOUR))
    return days, homes, ranges


def counters(org_id: int, since: datetime, until: datetime | None, dims: Sequence[str], sums: Sequence[str], *,
             local_days: tzinfo | None = None, now: datetime | None = None, where: Q | None = None,
             **filters: Any) -> list[dict[str, Any]]:
    """The rollups' `sums` per `dims` (and per local date, under "day", with `local_days`) for the
    calls created in [since, until) (`until` None: up to now) whose tuples match `where` and
    `filters` (rollup fields), as one GROUP BY over the hourly rollups would give them; groups
    without calls are left out."""
    days, homes, ranges = _plan(since, until, local_days, now or timezone.now())
    names = list(dict.fromkeys(["n", *sums]))
    totals = {name: Sum(name) for name in names}
    out: dict[tuple, dict[str, Any]] = {}

    def add(key: tuple, row: dict[str, Any], sign: int) -> None:
        acc = out.get(key)
        if acc is None:
            out[key] = acc = {**dict(zip(dims, key[1:], strict=True)), **dict.fromkeys(names, 0)}
            if local_days is not None:
                acc["day"] = key[0]
        for name in names:
            acc[name] += sign * row[name]

    if days:
        by = [*dims, "day"] if local_days is not None else list(dims)
        for r in (CallDayRollup.objects.filter(where or Q(), organization_id=org_id, day__gte=days[0],
                                               day__lt=days[-1] + DAY, n__gt=0, **filters)
                  .values(*by).annotate(**totals).order_by()):
            add((homes[r["day"]] if local_days is not None else None, *(r[d] for d in dims)), r, 1)
    if ranges:
        window = Q()
        for start, stop in ranges:
            window |= Q(hour__gte=start, hour__lt=stop) if stop is not None else Q(hour__gte=start)
        hours = CallRollup.objects.filter(window, where or Q(), organization_id=org_id, n__gt=0, **filters)
        if local_days is None:
            for r in hours.values(*dims).annotate(**totals).order_by():
                add((None, *(r[d] for d in dims)), r, 1)
        else:
            rows = hours.annotate(utc_day=TruncDay("hour", tzinfo=UTC), local=TruncDate("hour", tzinfo=local_days))
            for r in rows.values(*dims, "utc_day", "local").annotate(**totals).order_by():
                key = tuple(r[d] for d in dims)
                add((r["local"], *key), r, 1)
                home = homes.get(r["utc_day"])
                if home is not None:
                    # An hour of a whole day that falls on another local day: off its home day.
                    add((home, *key), r, -1)
    return [row for row in out.values() if row["n"] > 0]
