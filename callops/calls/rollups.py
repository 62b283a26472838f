"""Keeping the call rollups (models.CallRollup) equal to the calls they count.

Every write that can change a counted field of a call (its status, cause fields, result and
webhook state, times, duration, cost, or the row itself) goes through the Call queryset
(`CallQuerySet`), which reads the rows' counted fields under a row lock, writes, reads them again
and hands both to `apply`. `apply` turns them into -1 for the old tuple and +1 for the new one and
adds them with F() updates, inserting a missing tuple in a savepoint and updating again when a
concurrent insert won (the unique constraint decides): in the same transaction as the write, so
a rollup is never ahead of or behind a committed call.

The same dimensions are written twice, in Python (`key_of`, for a changed row) and in SQL
(`annotated`, for --check and --rebuild over many rows); `manage.py rollups --check` compares
the two and tests/calls/test_rollups.py checks them after real status changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, models, transaction
from django.db.models import Case, CharField, Count, F, Max, Min, Q, Sum, Value, When
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

KEY_FIELDS = ("organization_id", "hour", "provider_account_pk", "provider", "agent_pk", "batch_pk", "status",
              "error_code", "hangup_cause", "reason_key", "result_status", "extraction_cause", "webhook_status")
SUM_FIELDS = ("n", "answered", "timed", "talk_seconds", "billed", "cost_milli_cents")
# The call fields the dimensions and sums are computed from: an update naming none of them leaves
# the rollups as they are and costs nothing extra.
SOURCE_FIELDS = ("pk", "organization_id", "created_at", "provider_account_id", "provider", "agent_id", "batch_id",
                 "status", "error_code", "hangup_cause", "provider_reason", "result_status", "result_error",
                 "webhook_status", "answered_at", "ended_at", "duration_seconds", "billing_amount_milli_cents")
TRACKED = frozenset(f.removesuffix("_id") for f in SOURCE_FIELDS if f != "pk") | frozenset(
    f for f in SOURCE_FIELDS if f.endswith("_id"))


def touches(names: Iterable[str]) -> bool:
    return any(name in TRACKED for name in names)


def hour_of(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


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
        row["agent_id"], row["batch_id"] or 0, row["status"], row["error_code"],
        row["hangup_cause"] if problem else "",
        (row["provider_reason"] or "")[:REASON_CHARS] if problem and not row["error_code"] else "",
        row["result_status"], extraction_cause_of(row["status"], row["result_status"], row["result_error"]),
        row["webhook_status"],
    )


def sums_of(row: dict[str, Any]) -> tuple[int, ...]:
    duration, cost = row["duration_seconds"], row["billing_amount_milli_cents"]
    return (1, int(row["answered_at"] is not None), int(duration is not None), duration or 0,
            int(cost is not None), cost or 0)


def annotated(qs):
    """Calls annotated with their rollup dimensions in SQL (the same rules as `key_of`)."""
    problem = Q(status__in=CAUSE_STATUSES)
    return qs.annotate(
        r_hour=TruncHour("created_at", tzinfo=UTC),
        r_batch=Coalesce("batch_id", 0),
        r_hangup=Case(When(problem, then=F("hangup_cause")), default=Value(""), output_field=CharField()),
        r_reason=Case(When(problem & Q(error_code=""), then=Substr("provider_reason", 1, REASON_CHARS)),
                      default=Value(""), output_field=CharField()),
        r_cause=Case(*[When(status="completed", result_status="failed", result_error__startswith=prefix,
                            then=Value(cause)) for prefix, cause in EXTRACTION_CAUSES],
                     When(status="completed", result_status="failed", then=Value(OTHER_CAUSE)),
                     default=Value(""), output_field=CharField()),
    )


# SQL aggregate of each rollup column over annotated calls, in KEY_FIELDS + SUM_FIELDS order.
GROUP_BY = ("organization_id", "r_hour", "provider_account_id", "provider", "agent_id", "r_batch", "status",
            "error_code", "r_hangup", "r_reason", "result_status", "r_cause", "webhook_status")


def aggregate(qs):
    """One row per rollup tuple of the calls in `qs`, with every column a CallRollup holds."""
    return (annotated(qs).values(*GROUP_BY).annotate(
        n=Count("pk"), answered=Count("answered_at"), timed=Count("duration_seconds"),
        talk_seconds=Coalesce(Sum("duration_seconds"), 0), billed=Count("billing_amount_milli_cents"),
        cost_milli_cents=Coalesce(Sum("billing_amount_milli_cents"), 0),
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
    # Always in the same order, so two transactions moving calls between the same tuples lock the
    # rollup rows in one order and cannot deadlock on them.
    for key in sorted(deltas, key=_sort_key):
        if not deltas[key].empty():
            _add(key, deltas[key])


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


def _add(key: tuple, d: Delta) -> None:
    # Not at the top: callops.calls.models imports this module (CallQuerySet), the cycle
    # calls.rollups <-> calls.models.
    from .models import CallRollup

    where = dict(zip(KEY_FIELDS, key, strict=True))
    change: dict[str, Any] = {name: F(name) + v for name, v in zip(SUM_FIELDS, d.sums, strict=True) if v}
    if d.added_ends:
        lo = Value(min(d.added_ends), output_field=models.DateTimeField())
        hi = Value(max(d.added_ends), output_field=models.DateTimeField())
        # Coalesce first: on SQLite LEAST/GREATEST of a NULL is NULL.
        change["first_ended_at"] = Least(Coalesce(F("first_ended_at"), lo), lo)
        change["last_ended_at"] = Greatest(Coalesce(F("last_ended_at"), hi), hi)
    rows = CallRollup.objects.filter(**where)
    if not change or not rows.update(**change):
        created = False
        if change:
            try:
                with transaction.atomic():
                    CallRollup.objects.create(
                        **where, **dict(zip(SUM_FIELDS, d.sums, strict=True)),
                        first_ended_at=min(d.added_ends, default=None), last_ended_at=max(d.added_ends, default=None))
                created = True
            except IntegrityError:
                pass  # inserted by a concurrent transaction that has committed since: add to its row
        if not created and change:
            rows.update(**change)
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
