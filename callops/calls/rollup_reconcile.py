"""Comparing the call rollups with the calls (`manage.py rollups --check`) and recomputing them
(`--rebuild`), for every organization or one, over every hour or a range of hours."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction

from . import rollups
from .models import Call, CallRollup

COMPARED = (*rollups.SUM_FIELDS, "first_ended_at", "last_ended_at")
BATCH = 2000


@dataclass(frozen=True)
class Drift:
    key: dict[str, Any]
    stored: dict[str, Any] | None  # None: no rollup row
    actual: dict[str, Any] | None  # None: no calls in this tuple

    def describe(self) -> str:
        key = " ".join(f"{k}={v.isoformat() if isinstance(v, datetime) else v!r}" for k, v in self.key.items()
                       if v not in ("", 0) or k in ("organization_id", "hour"))
        diffs = ", ".join(f"{k} {(self.stored or {}).get(k, 0)} -> {(self.actual or {}).get(k, 0)}"
                          for k in COMPARED if (self.stored or {}).get(k) != (self.actual or {}).get(k))
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


def hour_bounds(since: datetime | None, until: datetime | None) -> tuple[datetime | None, datetime | None]:
    """A range widened to whole UTC hours: a rollup counts all of its hour or nothing."""
    start = rollups.hour_of(since) if since else None
    end = rollups.hour_of(until) if until else None
    if end is not None and until is not None and end < until:
        end += timedelta(hours=1)
    return start, end


def actual_rows(call_model, *, org_id=None, since=None, until=None) -> Iterator[dict[str, Any]]:
    calls = _scope(call_model.objects.all(), org_field="organization_id", time_field="created_at",
                   org_id=org_id, since=since, until=until)
    for row in rollups.aggregate(calls).iterator(chunk_size=BATCH):
        yield rollups.as_rollup_values(row)


def check(*, org_id: int | None = None, since: datetime | None = None, until: datetime | None = None,
          call_model=None, rollup_model=None) -> list[Drift]:
    """Every tuple whose stored counters differ from the calls' (a row of zeros equals no row)."""
    call_model, rollup_model = call_model or Call, rollup_model or CallRollup
    since, until = hour_bounds(since, until)
    actual = {tuple(r[k] for k in rollups.KEY_FIELDS): r for r in
              actual_rows(call_model, org_id=org_id, since=since, until=until)}
    stored_rows = _scope(rollup_model.objects.all(), org_field="organization_id", time_field="hour",
                         org_id=org_id, since=since, until=until).values(*rollups.KEY_FIELDS, *COMPARED)
    drift = []
    for s in stored_rows.iterator(chunk_size=BATCH):
        key = tuple(s[k] for k in rollups.KEY_FIELDS)
        a = actual.pop(key, None)
        if a is None:
            if any(s[k] for k in rollups.SUM_FIELDS):
                drift.append(Drift(dict(zip(rollups.KEY_FIELDS, key, strict=True)), s, None))
            continue
        if any(s[k] != a[k] for k in COMPARED):
            drift.append(Drift(dict(zip(rollups.KEY_FIELDS, key, strict=True)), s, a))
    for key, a in actual.items():
        drift.append(Drift(dict(zip(rollups.KEY_FIELDS, key, strict=True)), None, a))
    return drift


def rebuild(*, org_id: int | None = None, since: datetime | None = None, until: datetime | None = None,
            call_model=None, rollup_model=None) -> int:
    """Replace the rollups in scope by the calls' counts; returns how many tuples were written.

    On PostgreSQL the rollup table is locked (EXCLUSIVE: reads go on, writes wait) before the
    calls are read, so a status change either committed before the read and is counted in it, or
    waits for the rebuild and adds its delta to the rebuilt counters: none is lost or counted twice.
    """
    call_model, rollup_model = call_model or Call, rollup_model or CallRollup
    since, until = hour_bounds(since, until)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # SQL because the ORM cannot lock a table: writers wait while the counts are redone.
            with connection.cursor() as cur:
                cur.execute(f'LOCK TABLE "{rollup_model._meta.db_table}" IN EXCLUSIVE MODE')
        _scope(rollup_model.objects.all(), org_field="organization_id", time_field="hour", org_id=org_id,
               since=since, until=until).delete()
        written = 0
        chunk = []
        for values in actual_rows(call_model, org_id=org_id, since=since, until=until):
            chunk.append(rollup_model(**values))
            if len(chunk) >= BATCH:
                rollup_model.objects.bulk_create(chunk)
                written += len(chunk)
                chunk = []
        rollup_model.objects.bulk_create(chunk)
        return written + len(chunk)
