"""Keeping the call rollups (rollup_models: CallRollup per hour, CallDayRollup per day) equal to
the calls they count.

Every write that can change a counted field of a call (its status, cause fields, result and
webhook state, times, duration, cost, or the row itself) goes through the Call queryset
(`CallQuerySet`), which reads the rows' counted fields under a row lock, writes, reads them again
and hands both to `apply`. `apply` turns them into -1 for the old tuple and +1 for the new one and
adds them with F() updates, inserting a missing tuple in a savepoint and updating again when a
concurrent insert won (the unique constraint decides): in the same transaction as the write, so
a rollup is never ahead of or behind a committed call. Each hourly delta is also added to its
UTC day's tuple, after the hours, in the same transaction.

The same dimensions are written twice, in Python (`key_of`, for a changed row) and in SQL
(`annotated`, for --check and --rebuild over many rows); `manage.py rollups --check` compares
the two and tests/calls/test_rollups.py checks them after real status changes.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, models, transaction
from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    Count,
    F,
    Func,
    IntegerField,
    Max,
    Min,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Greatest, Least, Substr, TruncHour

# Statuses triage groups as call failures (canceled: when a calling rule canceled it); hangup cause
# and provider reason are kept only for them.
CAUSE_STATUSES = ("failed", "no_answer", "busy", "canceled")
REASON_CHARS = 120
# The kind of a failed extraction, read from the start of `result_error` (first match wins).
EXTRACTION_CAUSES = (
    ("empty transcript", "empty_transcript"),
    ("the call ended before any conversation", "no_conversation"),
    ("llm extractor", "llm_failed"),
    ("provider extractor", "provider_failed"),
    ("rules extractor", "rules_failed"),
    ("no return field", "nothing_parsed"),
)
OTHER_CAUSE = "other"

# Talk time histogram of answered calls: bucket i counts durations in [EDGES[i], EDGES[i + 1]), the
# last bucket everything from 1200 s up. Fixed edges, so any percentile is read from summed counters
# without the calls: its resolution is the bucket width, 10 s below 30 s, 15 s to 1 min, 30 s to
# 2 min, 1 min to 3 min, 2 min to 5 min, 5 min to 10 min, 10 min to 20 min (the comparison view
# reports the upper edge of the bucket holding the percentile, the lower edge for the last one).
TALK_EDGES = (0, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200)
TALK_BUCKETS = tuple(f"talk_b{i:02d}" for i in range(len(TALK_EDGES)))

KEY_FIELDS = ("organization_id", "hour", "provider_account_pk", "provider", "agent_pk", "batch_pk",
              "routing_profile_pk", "status", "error_code", "hangup_cause", "reason_key", "result_status",
              "extraction_cause", "webhook_status", "currency")
# The daily rollups' tuple: the same dimensions under the UTC day instead of the hour.
DAY_KEY_FIELDS = ("organization_id", "day", *KEY_FIELDS[2:])
SUM_FIELDS = ("n", "answered", "timed", "talk_seconds", "billed", "cost_milli_cents", "estimated", "failovers",
              "answer_waited", "answer_wait_seconds", "answered_talk_seconds", *TALK_BUCKETS)
# The call fields the dimensions and sums are computed from: an update naming none of them leaves
# the rollups as they are and costs nothing extra.
SOURCE_FIELDS = ("pk", "organization_id", "created_at", "provider_account_id", "provider", "agent_id", "batch_id",
                 "routing_profile_id", "status", "error_code", "hangup_cause", "provider_reason", "result_status",
                 "result_error", "webhook_status", "started_at", "answered_at", "ended_at", "duration_seconds",
                 "billing_amount_milli_cents", "billing_currency", "billing_estimated", "routing")
TRACKED = frozenset(f.removesuffix("_id") for f in SOURCE_FIELDS if f != "pk") | frozenset(
    f for f in SOURCE_FIELDS if f.endswith("_id"))


def touches(names: Iterable[str]) -> bool:
    return any(name in TRACKED for name in names)


def hour_of(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def day_of(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def day_key(key: tuple) -> tuple:
    """The daily tuple (DAY_KEY_FIELDS) of an hourly one (KEY_FIELDS)."""
    return (key[0], day_of(key[1]), *key[2:])


def extraction_cause_of(status: str, result_status: str, result_error: str) -> str:
    if status != "completed" or result_status != "failed":
        return ""
    for prefix, cause in EXTRACTION_CAUSES:
        if (result_error or "").startswith(prefix):
            return cause
    return OTHER_CAUSE


def key_of(row: dict[str, Any]) -> tuple:
    """The rollup tuple of one call, from its SOURCE_FIELDS."""
    problem = row["status"] in CAUSE_STATUSES
    return (
        row["organization_id"], hour_of(row["created_at"]), row["provider_account_id"], row["provider"],
        row["agent_id"], row["batch_id"] or 0, row["routing_profile_id"] or 0, row["status"], row["error_code"],
        row["hangup_cause"] if problem else "",
        (row["provider_reason"] or "")[:REASON_CHARS] if problem and not row["error_code"] else "",
        row["result_status"], extraction_cause_of(row["status"], row["result_status"], row["result_error"]),
        row["webhook_status"], row["billing_currency"] if row["billing_amount_milli_cents"] is not None else "",
    )


def talk_bucket(seconds: int) -> int:
    return bisect_right(TALK_EDGES, seconds) - 1


def answer_wait_of(started: datetime | None, answered: datetime | None) -> int | None:
    """Whole seconds from ringing to answer: between the two times truncated to the second (what
    `_EpochSecond` computes in SQL, so both sides agree to the second)."""
    if started is None or answered is None:
        return None
    return max(0, int(answered.timestamp()) - int(started.timestamp()))


def sums_of(row: dict[str, Any]) -> tuple[int, ...]:
    duration, cost = row["duration_seconds"], row["billing_amount_milli_cents"]
    answered = row["answered_at"] is not None
    talked = answered and duration is not None
    wait = answer_wait_of(row["started_at"], row["answered_at"])
    routing = row["routing"]
    histogram = [0] * len(TALK_BUCKETS)
    if talked:
        histogram[talk_bucket(duration)] = 1
    return (1, int(answered), int(duration is not None), duration or 0,
            int(cost is not None), cost or 0, int(cost is not None and row["billing_estimated"]),
            # A failover: the placement took more than one routing attempt.
            int(isinstance(routing, list) and len(routing) > 1),
            int(wait is not None), wait or 0, duration if talked else 0, *histogram)


class _EpochSecond(Func):
    """Seconds since 1970 of a timestamp, truncated to the whole second (PostgreSQL and SQLite)."""

    output_field = BigIntegerField()

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="EXTRACT(EPOCH FROM DATE_TRUNC('second', %(expressions)s))::bigint",
                           **extra)

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="CAST(STRFTIME('%%%%s', %(expressions)s) AS INTEGER)",
                           **extra)


def annotated(qs):
    """Calls annotated with their rollup dimensions in SQL (the same rules as `key_of`)."""
    problem = Q(status__in=CAUSE_STATUSES)
    talked = Q(answered_at__isnull=False, duration_seconds__isnull=False)
    return qs.annotate(
        r_hour=TruncHour("created_at", tzinfo=UTC),
        r_batch=Coalesce("batch_id", 0),
        r_profile=Coalesce("routing_profile_id", 0),
        r_currency=Case(When(billing_amount_milli_cents__isnull=False, then=F("billing_currency")),
                        default=Value(""), output_field=CharField()),
        r_estimated=Case(When(billing_amount_milli_cents__isnull=False, billing_estimated=True, then=1),
                         default=0, output_field=IntegerField()),
        # `routing -> 1 IS NOT NULL`: the list has a second entry.
        r_failover=Case(When(routing__1__isnull=False, then=1), default=0, output_field=IntegerField()),
        r_waited=Case(When(started_at__isnull=False, answered_at__isnull=False, then=1), default=0,
                      output_field=IntegerField()),
        r_wait=Case(When(started_at__isnull=False, answered_at__isnull=False,
                         then=Greatest(_EpochSecond("answered_at") - _EpochSecond("started_at"), 0)),
                    default=0, output_field=BigIntegerField()),
        r_talk=Case(When(talked, then=F("duration_seconds")), default=0, output_field=BigIntegerField()),
        **{f"r_{name}": Case(When(talked, duration_seconds__gte=lo, **(
            {"duration_seconds__lt": TALK_EDGES[i + 1]} if i + 1 < len(TALK_EDGES) else {}), then=1),
            default=0, output_field=IntegerField()) for i, (name, lo) in enumerate(zip(TALK_BUCKETS, TALK_EDGES, strict=True))},
        r_hangup=Case(When(problem, then=F("hangup_cause")), default=Value(""), output_field=CharField()),
        r_reason=Case(When(problem & Q(error_code=""), then=Substr("provider_reason", 1, REASON_CHARS)),
                      default=Value(""), output_field=CharField()),
        r_cause=Case(*[When(status="completed", result_status="failed", result_error__startswith=prefix,
                            then=Value(cause)) for prefix, cause in EXTRACTION_CAUSES],
                     When(status="completed", result_status="failed", then=Value(OTHER_CAUSE)),
                     default=Value(""), output_field=CharField()),
    )


# SQL aggregate of each rollup column over annotated calls, in KEY_FIELDS + SUM_FIELDS order.
GROUP_BY = ("organization_id", "r_hour", "provider_account_id", "provider", "agent_id", "r_batch", "r_profile",
            "status", "error_code", "r_hangup", "r_reason", "result_status", "r_cause", "webhook_status",
            "r_currency")


def aggregate(qs):
    """One row per rollup tuple of the calls in `qs`, with every column a CallRollup holds."""
    return (annotated(qs).values(*GROUP_BY).annotate(
        n=Count("pk"), answered=Count("answered_at"), timed=Count("duration_seconds"),
        talk_seconds=Coalesce(Sum("duration_seconds"), 0), billed=Count("billing_amount_milli_cents"),
        cost_milli_cents=Coalesce(Sum("billing_amount_milli_cents"), 0),
        estimated=Sum("r_estimated"), failovers=Sum("r_failover"), answer_waited=Sum("r_waited"),
        answer_wait_seconds=Sum("r_wait"), answered_talk_seconds=Sum("r_talk"),
        **{name: Sum(f"r_{name}") for name in TALK_BUCKETS},
        first_ended_at=Min("ended_at"), last_ended_at=Max("ended_at")).order_by())


def as_rollup_values(row: dict[str, Any]) -> dict[str, Any]:
    """An `aggregate` row as CallRollup field values."""
    values = dict(zip(KEY_FIELDS, (row[k] for k in GROUP_BY), strict=True))
    values.update({k: row[k] for k in (*SUM_FIELDS, "first_ended_at", "last_ended_at")})
    return values


@dataclass
class Delta:
    sums: list[int] = field(default_factory=lambda: [0] * len(SUM_FIELDS))
    added_ends: list[datetime] = field(default_factory=list)
    removed_ends: list[datetime] = field(default_factory=list)

    def empty(self) -> bool:
        return not any(self.sums) and not self.added_ends and not self.removed_ends


def apply(before: Sequence[dict[str, Any]], after: Sequence[dict[str, Any]]) -> None:
    """Move the counters from the rows as they were (`before`) to the rows as they are (`after`).

    Both are SOURCE_FIELDS dicts read inside the caller's transaction, `before` under a row lock.
    """
    deltas: dict[tuple, Delta] = {}
    old = {r["pk"]: r for r in before}
    new = {r["pk"]: r for r in after}
    for pk in old.keys() | new.keys():
        was, now = old.get(pk), new.get(pk)
        if was is not None and now is not None and key_of(was) == key_of(now) and sums_of(was) == sums_of(now) \
                and was["ended_at"] == now["ended_at"]:
            continue
        for row, sign in ((was, -1), (now, 1)):
            if row is None:
                continue
            d = deltas.setdefault(key_of(row), Delta())
            d.sums = [a + sign * b for a, b in zip(d.sums, sums_of(row), strict=True)]
            if row["ended_at"] is not None:
                (d.added_ends if sign > 0 else d.removed_ends).append(row["ended_at"])
    pending = _deferred.get()
    if pending is not None:
        # Inside `deferred()`: added up with the transaction's other deltas, written at its end.
        for key, d in deltas.items():
            _merge(pending.setdefault(key, Delta()), d)
        return
    _write(deltas)


def _write(deltas: dict[tuple, Delta]) -> None:
    # Not at the top: the cycle calls.rollups <-> calls.models (see _add).
    from .models import CallDayRollup

    # Always in the same order (the hours, then the days, each sorted), so two transactions moving
    # calls between the same tuples lock the rollup rows in one order and cannot deadlock on them.
    for key in sorted(deltas, key=_sort_key):
        if not deltas[key].empty():
            _add(key, deltas[key])
    days: dict[tuple, list[int]] = {}
    for key, d in deltas.items():
        day = days.setdefault(day_key(key), [0] * len(SUM_FIELDS))
        day[:] = [a + b for a, b in zip(day, d.sums, strict=True)]
    for key in sorted(days, key=_sort_key):
        if any(days[key]):
            _upsert(CallDayRollup, DAY_KEY_FIELDS, key, days[key])


def _merge(into: Delta, d: Delta) -> None:
    into.sums = [a + b for a, b in zip(into.sums, d.sums, strict=True)]
    into.added_ends += d.added_ends
    into.removed_ends += d.removed_ends


# The deltas of the innermost `deferred()` block of this thread (None outside one).
_deferred: ContextVar[dict[tuple, Delta] | None] = ContextVar("rollup_deltas", default=None)


@contextmanager
def deferred() -> Iterator[None]:
    """Add up every rollup delta of the block and write them when it ends: one UPDATE per distinct
    tuple, however many calls moved, taking each rollup row's lock only just before the commit.

    Use inside the transaction of the block's writes (the deltas are written in it, so a rollup is
    still never ahead of or behind a committed call). All the calls of one agent, hour and status
    share a rollup row, so a job moving 50 of them queued -> initiated makes 2 UPDATEs instead of
    100, and concurrent jobs wait on that row only for the moment between their flush and their
    commit, not for the whole job. On an exception nothing is written (the transaction rolls back
    with the calls). Nested blocks join the outermost one.
    """
    if _deferred.get() is not None:
        yield
        return
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("rollups.deferred() outside a transaction would write the deltas after the calls commit")
    pending: dict[tuple, Delta] = {}
    token = _deferred.set(pending)
    try:
        yield
    finally:
        _deferred.reset(token)
    _write(pending)


def _sort_key(key: tuple) -> tuple:
    return tuple(v.isoformat() if isinstance(v, datetime) else v for v in key)


def _upsert(model, key_fields: Sequence[str], key: tuple, sums: Sequence[int], more: dict[str, Any] | None = None,
            **first: Any):
    """Add `sums` (and the `more` updates) to the tuple's row, inserting it when missing; returns
    the row's queryset. `first`: the inserted row's other values."""
    where = dict(zip(key_fields, key, strict=True))
    change: dict[str, Any] = {name: F(name) + v for name, v in zip(SUM_FIELDS, sums, strict=True) if v}
    change.update(more or {})
    rows = model.objects.filter(**where)
    if change and not rows.update(**change):
        try:
            with transaction.atomic():
                model.objects.create(**where, **dict(zip(SUM_FIELDS, sums, strict=True)), **first)
        except IntegrityError:
            # Inserted by a concurrent transaction that has committed since: add to its row.
            rows.update(**change)
    return rows


def _add(key: tuple, d: Delta) -> None:
    # Not at the top: callops.calls.models imports this module (CallQuerySet), the cycle
    # calls.rollups <-> calls.models.
    from .models import CallRollup

    ends: dict[str, Any] = {}
    if d.added_ends:
        lo = Value(min(d.added_ends), output_field=models.DateTimeField())
        hi = Value(max(d.added_ends), output_field=models.DateTimeField())
        # Coalesce first: on SQLite LEAST/GREATEST of a NULL is NULL.
        ends = {"first_ended_at": Least(Coalesce(F("first_ended_at"), lo), lo),
                "last_ended_at": Greatest(Coalesce(F("last_ended_at"), hi), hi)}
    rows = _upsert(CallRollup, KEY_FIELDS, key, d.sums, ends,
                   first_ended_at=min(d.added_ends, default=None), last_ended_at=max(d.added_ends, default=None))
    if d.removed_ends:
        first, last = rows.values_list("first_ended_at", "last_ended_at").first() or (None, None)
        if any(end in (first, last) for end in d.removed_ends):
            # A call at an extreme left the tuple: only the calls can say what the extreme is now.
            # Read after this transaction's own call writes and under the rollup row's lock, so
            # every committed change to this tuple is visible (read committed: a new snapshot).
            _recompute_ends(key)


def _recompute_ends(key: tuple) -> None:
    # Not at the top: the cycle calls.rollups <-> calls.models (see _add).
    from .models import Call, CallRollup

    where = dict(zip(KEY_FIELDS, key, strict=True))
    hour = where["hour"]
    calls = annotated(Call.objects.filter(organization_id=where["organization_id"], created_at__gte=hour,
                                          created_at__lt=hour + timedelta(hours=1)))
    matching = dict(zip(GROUP_BY[2:], key[2:], strict=True))
    ends = calls.filter(**matching).aggregate(first=Min("ended_at"), last=Max("ended_at"))
    CallRollup.objects.filter(**where).update(first_ended_at=ends["first"], last_ended_at=ends["last"])


def snapshot(qs) -> list[dict[str, Any]]:
    return list(qs.values(*SOURCE_FIELDS))


def in_transaction(using: str | None = None) -> transaction.Atomic:
    """A transaction for a write and its deltas: the caller's own when there is one (no savepoint:
    any error fails the whole write, as it must, and a status change saves two round trips)."""
    return transaction.atomic(using=using, savepoint=False)


class CallQuerySet(models.QuerySet):
    """Call rows whose writes keep the rollups in step (see the module docstring)."""

    def update(self, **kwargs: Any) -> int:
        if not touches(kwargs):
            return super().update(**kwargs)
        with in_transaction(self.db):
            before = snapshot(self.order_by("pk").select_for_update())
            if not before:
                return 0
            # Only the rows locked above: a row that came to match the filter since has no `before`.
            locked = self.filter(pk__in=[r["pk"] for r in before])
            done = models.QuerySet.update(locked, **kwargs)
            apply(before, snapshot(self.model._default_manager.filter(pk__in=[r["pk"] for r in before])))
            return done

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list[Any]:
        with in_transaction(self.db):
            made = super().bulk_create(objs, *args, **kwargs)
            pks = [o.pk for o in made if o.pk is not None]
            apply([], snapshot(self.model._default_manager.filter(pk__in=pks)))
            return made

    def delete(self) -> tuple[int, dict[str, int]]:
        with in_transaction(self.db):
            before = snapshot(self.order_by("pk").select_for_update())
            done = super().delete()
            apply(before, [])
            return done
