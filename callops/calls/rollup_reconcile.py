"""Comparing the call rollups with the calls (`manage.py rollups --check`) and recomputing them
(`--rebuild`), for every organization or one, over every day or a range of whole UTC days: the
hourly rollups against the calls, and the daily ones against the same counts added up by day."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction

from . import rollups
from .models import Call, CallDayRollup, CallRollup

COMPARED = (*rollups.SUM_FIELDS, "first_ended_at", "last_ended_at")
DAY_COMPARED = rollups.SUM_FIELDS
BATCH = 2000


@dataclass(frozen=True)
class Drift:
    key: dict[str, Any]
    stored: dict[str, Any] | None  # None: no rollup row
    actual: dict[str, Any] | None  # None: no calls in this tuple

    def describe(self) -> str:
        key = " ".join(f"{k}={v.isoformat() if isinstance(v, datetime) else v!r}" for k, v in self.key.items()
                       if v not in ("", 0) or k in ("organization_id", "hour", "day"))
        compared = COMPARED if "hour" in self.key else DAY_COMPARED
        diffs = ", ".join(f"{k} {(self.stored or {}).get(k, 0)} -> {(self.actual or {}).get(k, 0)}"
                          for k in compared if (self.stored or {}).get(k) != (self.actual or {}).get(k))
        return f"{key}: stored vs calls: {diffs}"


def _scope(qs, *, org_field: str, time_field: str, org_id: int | None, since: datetime | None,
           until: datetime | None):
    if org_id is not None:
        qs = qs.filter(**{org_field: org_id})
    if since is not None:
        qs = qs.filter(**{f"{time_field}__gte": since})
    if until is not None:
        qs = qs.filter(**{f"{time_field}__lt": until})
    return qs


def _widened(since: datetime | None, until: datetime | None, floor, step: timedelta):
    start = floor(since) if since else None
    end = floor(until) if until else None
    if end is not None and until is not None and end < until:
        end += step
    return start, end


def hour_bounds(since: datetime | None, until: datetime | None) -> tuple[datetime | None, datetime | None]:
    """A range widened to whole UTC hours: a rollup counts all of its hour or nothing."""
    return _widened(since, until, rollups.hour_of, timedelta(hours=1))


def day_bounds(since: datetime | None, until: datetime | None) -> tuple[datetime | None, datetime | None]:
    """A range widened to whole UTC days, for both grains at once."""
    return _widened(since, until, rollups.day_of, timedelta(days=1))


def by_day(hour_rows, days: dict[tuple, dict[str, Any]] | None = None) -> dict[tuple, dict[str, Any]]:
    """Hourly rollup values added up into their daily tuples (DAY_KEY_FIELDS + SUM_FIELDS), into
    `days` when given."""
    days = {} if days is None else days
    for r in hour_rows:
        key = rollups.day_key(tuple(r[k] for k in rollups.KEY_FIELDS))
        day = days.get(key)
        if day is None:
            days[key] = day = {**dict(zip(rollups.DAY_KEY_FIELDS, key, strict=True)),
                               **dict.fromkeys(rollups.SUM_FIELDS, 0)}
        for k in rollups.SUM_FIELDS:
            day[k] += r[k]
    return days


def actual_rows(call_model, *, org_id=None, since=None, until=None) -> Iterator[dict[str, Any]]:
    calls = _scope(call_model.objects.all(), org_field="organization_id", time_field="created_at",
                   org_id=org_id, since=since, until=until)
    for row in rollups.aggregate(calls).iterator(chunk_size=BATCH):
        yield rollups.as_rollup_values(row)


def _compare(stored_rows, key_fields: tuple[str, ...], compared: tuple[str, ...],
             actual: dict[tuple, dict[str, Any]]) -> list[Drift]:
    drift = []
    for s in stored_rows.iterator(chunk_size=BATCH):
        key = tuple(s[k] for k in key_fields)
        a = actual.pop(key, None)
        if a is None:
            if any(s[k] for k in rollups.SUM_FIELDS):
                drift.append(Drift(dict(zip(key_fields, key, strict=True)), s, None))
            continue
        if any(s[k] != a[k] for k in compared):
            drift.append(Drift(dict(zip(key_fields, key, strict=True)), s, a))
    for key, a in actual.items():
        drift.append(Drift(dict(zip(key_fields, key, strict=True)), None, a))
    return drift


def _models(call_model, rollup_model, day_model):
    """The models to work on. Given only an hourly model (a migration's historical one, from
    before the daily rollups), there are no daily rollups to check or build."""
    if rollup_model is None:
        return call_model or Call, CallRollup, day_model or CallDayRollup
    return call_model or Call, rollup_model, day_model


def check(*, org_id: int | None = None, since: datetime | None = None, until: datetime | None = None,
          call_model=None, rollup_model=None, day_model=None) -> list[Drift]:
    """Every tuple whose stored counters differ from the calls' (a row of zeros equals no row)."""
    call_model, rollup_model, day_model = _models(call_model, rollup_model, day_model)
    since, until = day_bounds(since, until) if day_model else hour_bounds(since, until)
    hours = list(actual_rows(call_model, org_id=org_id, since=since, until=until))
    actual = {tuple(r[k] for k in rollups.KEY_FIELDS): r for r in hours}
    stored = _scope(rollup_model.objects.all(), org_field="organization_id", time_field="hour",
                    org_id=org_id, since=since, until=until).values(*rollups.KEY_FIELDS, *COMPARED)
    drift = _compare(stored, rollups.KEY_FIELDS, COMPARED, actual)
    if day_model:
        stored_days = _scope(day_model.objects.all(), org_field="organization_id", time_field="day",
                             org_id=org_id, since=since, until=until).values(*rollups.DAY_KEY_FIELDS, *DAY_COMPARED)
        drift += _compare(stored_days, rollups.DAY_KEY_FIELDS, DAY_COMPARED, by_day(hours))
    return drift


def _bulk_write(model, rows) -> int:
    written, chunk = 0, []
    for values in rows:
        chunk.append(model(**values))
        if len(chunk) >= BATCH:
            model.objects.bulk_create(chunk)
            written += len(chunk)
            chunk = []
    model.objects.bulk_create(chunk)
    return written + len(chunk)


def rebuild(*, org_id: int | None = None, since: datetime | None = None, until: datetime | None = None,
            call_model=None, rollup_model=None, day_model=None) -> int:
    """Replace the rollups in scope by the calls' counts; returns how many tuples were written
    (hourly and daily).

    On PostgreSQL the rollup tables are locked (EXCLUSIVE: reads go on, writes wait) before the
    calls are read, so a status change either committed before the read and is counted in it, or
    waits for the rebuild and adds its delta to the rebuilt counters: none is lost or counted twice.
    """
    call_model, rollup_model, day_model = _models(call_model, rollup_model, day_model)
    since, until = day_bounds(since, until) if day_model else hour_bounds(since, until)
    tables = [m for m in (rollup_model, day_model) if m is not None]
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # SQL because the ORM cannot lock a table: writers wait while the counts are redone.
            # Both tables in one statement, in the order a status change writes them.
            with connection.cursor() as cur:
                names = ", ".join(f'"{m._meta.db_table}"' for m in tables)
                cur.execute(f"LOCK TABLE {names} IN EXCLUSIVE MODE")
        for model, field in zip(tables, ("hour", "day"), strict=False):
            _scope(model.objects.all(), org_field="organization_id", time_field=field, org_id=org_id,
                   since=since, until=until).delete()
        days: dict[tuple, dict[str, Any]] = {}

        def counted(rows):
            # Each hourly row, added to its day on its way to the table (the days are a 24th of them).
            for values in rows:
                if day_model is not None:
                    by_day([values], days)
                yield values

        written = _bulk_write(rollup_model, counted(actual_rows(call_model, org_id=org_id, since=since, until=until)))
        if day_model is not None:
            written += _bulk_write(day_model, days.values())
        return written
