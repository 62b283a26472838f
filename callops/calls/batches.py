"""Batch services: settings validation, import, lifecycle actions, progress and redial.

The API and the dashboard call these same functions. Dispatching (pacing, windows, retries, the
circuit breaker) is in callops.calls.batch_jobs; parsing is in callops.calls.batch_csv.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import transaction
from django.db.models import Avg, Count
from django.utils import timezone

from . import batch_csv
from .models import (
    TERMINAL,
    Batch,
    BatchRecipient,
    BatchRejection,
    BatchStatus,
    Call,
    CallStatus,
    EventSource,
    RecipientState,
)
from .validation import ValidationFailed, parse_when

log = logging.getLogger(__name__)

CHUNK = 5000
MAX_ROWS = 500_000
RETRYABLE = ("no_answer", "busy", "failed")
PREVIEW_ROWS = 20


class BatchActionError(Exception):
    """An action the batch's state does not allow (409 in the API)."""


@dataclass
class BatchSettings:
    name: str = ""
    start_at: datetime | None = None
    default_region: str = ""
    default_timezone: str = "UTC"
    window_start_hour: int | None = None
    window_end_hour: int | None = None
    window_days: list | None = None
    max_concurrency: int = 10
    calls_per_minute: int = 60
    max_attempts: int = 1
    retry_intervals: list | None = None
    retry_on: list | None = None
    breaker_threshold: float | None = None
    breaker_min_calls: int = 20
    breaker_window_seconds: int = 300
    mode: str = Batch.Mode.FANOUT

    def as_fields(self) -> dict:
        return {
            "name": self.name, "start_at": self.start_at, "default_region": self.default_region,
            "default_timezone": self.default_timezone, "window_start_hour": self.window_start_hour,
            "window_end_hour": self.window_end_hour, "window_days": self.window_days or [],
            "max_concurrency": self.max_concurrency, "calls_per_minute": self.calls_per_minute,
            "max_attempts": self.max_attempts, "retry_intervals": self.retry_intervals or [],
            "retry_on": self.retry_on if self.retry_on is not None else list(RETRYABLE),
            "breaker_threshold": self.breaker_threshold, "breaker_min_calls": self.breaker_min_calls,
            "breaker_window_seconds": self.breaker_window_seconds, "mode": self.mode,
        }


def _int(data, key, errors, *, lo, hi, default):
    value = data.get(key, default)
    if value is None or value == "":
        return default
    try:
        if isinstance(value, bool) or float(value) != int(float(value)):
            raise ValueError
        value = int(float(value))
    except (TypeError, ValueError):
        errors[key] = "must be a whole number"
        return default
    if not lo <= value <= hi:
        errors[key] = f"must be between {lo} and {hi}"
    return value


def clean_settings(data: dict, *, agent=None, now: datetime | None = None) -> BatchSettings:
    """Validate batch settings from a flat dict (API JSON or form); ValidationFailed lists every problem.

    Nested API objects (`window`, `retry`, `circuit_breaker`) are flattened by the caller.
    """
    errors: dict[str, str] = {}
    s = BatchSettings()
    s.name = str(data.get("name") or "").strip()[:200]
    if data.get("start_at"):
        try:
            s.start_at = parse_when(data["start_at"], now=now)
        except ValueError as exc:
            errors["start_at"] = str(exc).replace("scheduled_at", "start_at")
    region = str(data.get("default_country") or data.get("default_region") or "").strip().upper()
    if region:
        import phonenumbers

        if region not in phonenumbers.SUPPORTED_REGIONS:
            errors["default_country"] = f"{region!r} is not a two-letter country code such as US or GB"
        s.default_region = region
    tzname = str(data.get("timezone") or data.get("default_timezone") or "UTC").strip()
    try:
        ZoneInfo(tzname)
        s.default_timezone = tzname
    except (ZoneInfoNotFoundError, ValueError):
        errors["timezone"] = f"{tzname!r} is not an IANA time zone such as Europe/London"
    s.window_start_hour = _int(data, "window_start_hour", errors, lo=0, hi=23, default=None)
    s.window_end_hour = _int(data, "window_end_hour", errors, lo=1, hi=24, default=None)
    if (s.window_start_hour is None) != (s.window_end_hour is None):
        errors["window"] = "give both the start and the end hour of the calling window, or neither"
    elif s.window_start_hour is not None and s.window_start_hour >= (s.window_end_hour or 0):
        errors["window"] = "the calling window must end after it starts (hours 0-24, same day)"
    days = data.get("window_days") or []
    if isinstance(days, str):
        days = [d for d in days.replace(" ", "").split(",") if d]
    try:
        s.window_days = sorted({int(d) for d in days})
        if any(not 1 <= d <= 7 for d in s.window_days):
            raise ValueError
    except (TypeError, ValueError):
        errors["window_days"] = "must be ISO weekdays, 1 (Monday) to 7 (Sunday)"
    s.max_concurrency = _int(data, "max_concurrency", errors, lo=1, hi=1000, default=10)
    s.calls_per_minute = _int(data, "calls_per_minute", errors, lo=1, hi=100_000, default=60)
    s.max_attempts = _int(data, "max_attempts", errors, lo=1, hi=10, default=1)
    intervals = data.get("retry_intervals")
    if isinstance(intervals, str):
        intervals = [v for v in intervals.replace(" ", "").split(",") if v]
    try:
        s.retry_intervals = [int(v) for v in (intervals or [])] or [300]
        if any(not 0 <= v <= 7 * 86400 for v in s.retry_intervals):
            raise ValueError
    except (TypeError, ValueError):
        errors["retry_intervals"] = "must be seconds between attempts, 0 to 604800 each"
    retry_on = data.get("retry_on")
    if isinstance(retry_on, str):
        retry_on = [v for v in retry_on.replace(" ", "").split(",") if v]
    if retry_on is not None:
        if not isinstance(retry_on, list) or any(v not in RETRYABLE for v in retry_on):
            errors["retry_on"] = "must list outcomes among no_answer, busy, failed"
        else:
            s.retry_on = sorted(set(retry_on))
    threshold = data.get("breaker_threshold")
    if threshold not in (None, ""):
        try:
            s.breaker_threshold = float(threshold)
            if not 0 < s.breaker_threshold <= 1:
                raise ValueError
        except (TypeError, ValueError):
            errors["breaker_threshold"] = "must be a failure rate above 0 and at most 1 (0.5 = 50%)"
    s.breaker_min_calls = _int(data, "breaker_min_calls", errors, lo=1, hi=100_000, default=20)
    s.breaker_window_seconds = _int(data, "breaker_window_seconds", errors, lo=10, hi=86400, default=300)
    mode = str(data.get("mode") or Batch.Mode.FANOUT)
    if mode not in Batch.Mode.values:
        errors["mode"] = "must be fanout or provider"
    elif mode == Batch.Mode.PROVIDER and agent is not None:
        if not supports_provider_batches(agent):
            errors["mode"] = f"{agent.provider} has no batch API; use mode fanout"
        else:
            from . import batch_provider

            for key, message in batch_provider.unsupported_settings(data, agent.provider).items():
                errors.setdefault(key, message)
    s.mode = mode
    if errors:
        raise ValidationFailed(errors, "invalid batch settings: " + "; ".join(f"{k} {v}" for k, v in errors.items()))
    return s


def supports_provider_batches(agent) -> bool:
    """Whether the agent's provider has a batch API callops can hand a whole list to."""
    from callops.providers.registry import adapter_class

    try:
        return bool(getattr(adapter_class(agent.provider_account.kind), "supports_batches", False))
    except (KeyError, LookupError, ValueError):
        return False


# --- preview and import ---------------------------------------------------------------------------

def preview(rows, *, default_region: str = "", limit: int = PREVIEW_ROWS) -> dict:
    """Validate without writing: counts plus the first `limit` valid and rejected rows."""
    validator = batch_csv.Validator(default_region)
    valid, rejected = [], []
    total = 0
    for result in batch_csv.validate(rows, validator):
        total += 1
        if total > MAX_ROWS:
            raise batch_csv.CsvError(f"a batch holds at most {MAX_ROWS} rows")
        if isinstance(result, batch_csv.Recipient):
            if len(valid) < limit:
                valid.append({"row": result.number, "phone": result.phone, "context": result.context,
                              "timezone": result.tz})
        elif len(rejected) < limit:
            rejected.append({"row": result.number, "phone": result.phone, "reason": result.reason})
    return {"total_rows": total, "valid": validator.valid, "rejected": validator.rejected,
            "duplicates": validator.duplicates, "valid_rows": valid, "rejected_rows": rejected}


def create_batch(*, org, agent, settings: BatchSettings, rows, columns: list[str], phone_column: str = "",
                 created_by: str = "", start: bool = True, now: datetime | None = None) -> Batch:
    """Store a batch and its recipients in one transaction; nothing is kept if no row is valid.

    Rows are validated as they stream and written in chunks (insert_recipients), so memory stays
    flat and there is no query per row. Starting (when asked) happens after the import.
    """
    validator = batch_csv.Validator(settings.default_region)
    zones: set[str] = set()
    with transaction.atomic():
        batch = Batch.objects.create(organization=org, agent=agent, created_by=created_by[:200],
                                     columns=[c for c in columns if c], phone_column=phone_column,
                                     **settings.as_fields())
        ok, bad = [], []
        total = 0
        for result in batch_csv.validate(rows, validator):
            total += 1
            if total > MAX_ROWS:
                raise batch_csv.CsvError(f"a batch holds at most {MAX_ROWS} rows")
            if isinstance(result, batch_csv.Recipient):
                zones.add(result.tz)
                ok.append((result.number, result.phone, result.context, result.tz))
                if len(ok) >= CHUNK:
                    insert_recipients(batch.pk, ok)
                    ok = []
            else:
                bad.append(BatchRejection(batch=batch, row_number=result.number, phone=result.phone,
                                          reason=result.reason, row=result.raw))
                if len(bad) >= CHUNK:
                    BatchRejection.objects.bulk_create(bad)
                    bad = []
        insert_recipients(batch.pk, ok)
        BatchRejection.objects.bulk_create(bad)
        if total == 0:
            raise batch_csv.CsvError("there are no rows after the header")
        if validator.valid == 0:
            raise batch_csv.CsvError(f"none of the {total} rows has a valid phone number; first problem: "
                                     + (BatchRejection.objects.filter(batch=batch).order_by("row_number")
                                        .values_list("reason", flat=True).first() or "unknown"))
        Batch.objects.filter(pk=batch.pk).update(
            total_rows=total, recipient_count=validator.valid, rejected_count=validator.rejected,
            duplicate_count=validator.duplicates, timezones=sorted(zones))
        batch.refresh_from_db()
        if start:
            start_batch(batch, now=now)
    return batch


def insert_recipients(batch_id: int, rows: list[tuple]) -> None:
    """Insert new recipients given as (row_number, phone, context, tz) tuples.

    On PostgreSQL through COPY, with no model instances: the import is bound by this write, and
    COPY stores rows several times faster than bulk_create's multi-row INSERT (bench/batches.py).
    """
    if not rows:
        return
    from django.db import connection

    if connection.vendor != "postgresql":
        BatchRecipient.objects.bulk_create([BatchRecipient(batch_id=batch_id, row_number=n, phone=p, context=c, tz=t)
                                            for n, p, c, t in rows])
        return
    import json

    table = BatchRecipient._meta.db_table
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f'COPY "{table}" (batch_id, row_number, phone, context, tz, state, attempts, '
                                "outcome) FROM STDIN") as copy:
            for n, p, c, t in rows:
                copy.write_row((batch_id, n, p, json.dumps(c), t, RecipientState.PENDING, 0, ""))


# --- lifecycle ------------------------------------------------------------------------------------

def _set_status(batch: Batch, allowed_from, new: str, **fields) -> bool:
    """Conditional UPDATE: only one of two racing actions wins."""
    now = timezone.now()
    won = Batch.objects.filter(pk=batch.pk, status__in=list(allowed_from)).update(status=new, updated_at=now, **fields)
    batch.refresh_from_db()
    return bool(won)


def emit(batch: Batch, event_type: str) -> None:
    """Batch webhook event, inside the caller's transaction."""
    from callops.webhooks import events

    emitter = getattr(events, "emit_batch_event", None)
    if emitter is None:  # the webhooks app predates batch events
        return
    try:
        emitter(batch, event_type)
    except Exception:
        # An unknown event type must not undo a batch action; the action matters more.
        log.exception("batch %s: could not record webhook event %s", batch.pk, event_type)


def start_batch(batch: Batch, *, now: datetime | None = None) -> Batch:
    """created → scheduled (a start time in the future) or running."""
    now = now or timezone.now()
    if batch.start_at and batch.start_at > now:
        if not _set_status(batch, [BatchStatus.CREATED], BatchStatus.SCHEDULED):
            raise BatchActionError(f"batch {batch.public_id} is {batch.status} and cannot be started")
    else:
        with transaction.atomic():
            if not _set_status(batch, [BatchStatus.CREATED, BatchStatus.SCHEDULED], BatchStatus.RUNNING,
                               started_at=now, pace_updated_at=now, pace_tokens=1.0):
                raise BatchActionError(f"batch {batch.public_id} is {batch.status} and cannot be started")
            emit(batch, "batch.started")
    _kick(batch)
    return batch


def _kick(batch: Batch) -> None:
    from callops.lib.queue import enqueue

    from . import batch_jobs

    transaction.on_commit(lambda: enqueue(batch_jobs.tick_batch_job, batch.pk, queue="calls"))


def pause_batch(batch: Batch, *, reason: str = "", by: str = "") -> Batch:
    with transaction.atomic():
        if batch.mode == Batch.Mode.PROVIDER:
            _pause_at_provider(batch)
        text = reason or (f"paused by {by}" if by else "paused")
        if not _set_status(batch, [BatchStatus.RUNNING, BatchStatus.SCHEDULED], BatchStatus.PAUSED,
                           pause_reason=text[:500]):
            raise BatchActionError(f"batch {batch.public_id} is {batch.status}; only a running or scheduled "
                                   "batch can be paused")
        emit(batch, "batch.paused")
    return batch


def _pause_at_provider(batch: Batch) -> None:
    """Refuse (BatchActionError) a pause the provider cannot carry out."""
    from . import batch_provider

    # Under the row lock, so a reservation finishing at the same moment is seen.
    current = Batch.objects.select_for_update(of=("self",)).select_related("agent__provider_account").get(pk=batch.pk)
    refusal = batch_provider.pause_refusal(current)
    if refusal:
        raise BatchActionError(f"batch {batch.public_id} cannot be paused: {refusal}")


def resume_batch(batch: Batch, *, now: datetime | None = None) -> Batch:
    """paused → running; or back to scheduled when it was paused before its start time came."""
    now = now or timezone.now()
    with transaction.atomic():
        current = Batch.objects.select_for_update().filter(pk=batch.pk).first()
        if current is None or current.status != BatchStatus.PAUSED:
            batch.refresh_from_db()
            raise BatchActionError(f"batch {batch.public_id} is {batch.status}; only a paused batch can be resumed")
        if current.started_at is None and current.start_at and current.start_at > now:
            # Paused while waiting for its start time: resuming must not start it early.
            _set_status(batch, [BatchStatus.PAUSED], BatchStatus.SCHEDULED, pause_reason="")
            return batch
        # A resumed batch starts the breaker's window afresh, or the failures that tripped it would
        # trip it again at once.
        _set_status(batch, [BatchStatus.PAUSED], BatchStatus.RUNNING, pause_reason="", breaker_reset_at=now,
                    pace_updated_at=now)
        if batch.started_at is None:
            Batch.objects.filter(pk=batch.pk).update(started_at=now)
            batch.started_at = now
            emit(batch, "batch.started")
    _kick(batch)
    return batch


def stop_batch(batch: Batch, *, by: str = "") -> Batch:
    """Stop for good: recipients not yet dialed are canceled; calls already dialing finish."""
    from . import services

    with transaction.atomic():
        if not _set_status(batch, [BatchStatus.CREATED, BatchStatus.SCHEDULED, BatchStatus.RUNNING,
                                   BatchStatus.PAUSED], BatchStatus.STOPPED,
                           pause_reason=(f"stopped by {by}" if by else "stopped")[:500]):
            raise BatchActionError(f"batch {batch.public_id} is already {batch.status}")
        BatchRecipient.objects.filter(batch=batch, state=RecipientState.PENDING).update(
            state=RecipientState.CANCELED, outcome="canceled")
        emit(batch, "batch.canceled")
    # Attempts created but not yet claimed by a worker are canceled through the placement guard,
    # so a worker that picks one up afterwards finds it claimed and leaves it alone.
    for call in Call.objects.filter(batch=batch, status=CallStatus.QUEUED, dial_claimed_at__isnull=True):
        try:
            services.cancel_call(call, source=EventSource.SYSTEM, actor_label="batch stop")
        except services.CallActionError:
            pass  # a worker dialed it first: it finishes like any call in progress
    if batch.mode == Batch.Mode.PROVIDER:
        from . import batch_provider

        batch_provider.stop(batch)
    _kick(batch)
    return batch


# --- progress -------------------------------------------------------------------------------------

def progress(batch: Batch, *, now: datetime | None = None) -> dict:
    """Counts per recipient state and outcome, per call status, rate, ETA, average duration."""
    now = now or timezone.now()
    states = dict(BatchRecipient.objects.filter(batch=batch).values_list("state").annotate(n=Count("id"))
                  .values_list("state", "n"))
    outcomes = dict(BatchRecipient.objects.filter(batch=batch).exclude(outcome="").values_list("outcome")
                    .annotate(n=Count("id")).values_list("outcome", "n"))
    calls = Call.objects.filter(batch=batch)
    call_counts = dict(calls.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    avg = calls.filter(status=CallStatus.COMPLETED).aggregate(a=Avg("duration_seconds"))["a"]
    total = batch.recipient_count or sum(states.values())
    finished = states.get(RecipientState.DONE, 0) + states.get(RecipientState.CANCELED, 0)
    rate = eta = None
    if batch.started_at and finished:
        elapsed = max(((batch.finished_at or now) - batch.started_at).total_seconds(), 1.0)
        rate = finished / elapsed * 60.0  # recipients finished per minute
        remaining = total - finished
        if remaining and batch.status == BatchStatus.RUNNING:
            eta = now + timedelta(minutes=remaining / rate)
    return {
        "recipients": total,
        "finished": finished,
        "percent": round(100.0 * finished / total, 1) if total else 0.0,
        "states": {s: states.get(s, 0) for s in RecipientState.values},
        "outcomes": {s: outcomes.get(s, 0) for s in (*TERMINAL,)},
        "calls": {s: call_counts.get(s, 0) for s in CallStatus.values},
        "attempts": sum(call_counts.values()),
        "rate_per_minute": round(rate, 2) if rate else None,
        "eta": eta,
        "average_duration_seconds": round(avg, 1) if avg is not None else None,
    }


REDIAL_OUTCOMES = ("no_answer", "busy", "failed", "canceled")


def redial(batch: Batch, *, outcomes, created_by: str = "", start: bool = True) -> Batch:
    """A new batch, same settings, of the recipients whose final outcome is in `outcomes`."""
    outcomes = [o for o in outcomes if o in REDIAL_OUTCOMES]
    if not outcomes:
        raise BatchActionError("choose at least one outcome to redial: " + ", ".join(REDIAL_OUTCOMES))
    source = BatchRecipient.objects.filter(batch=batch, outcome__in=outcomes).order_by("row_number")
    if not source.exists():
        raise BatchActionError("no recipient of this batch ended " + " or ".join(outcomes))
    keep = ("default_region", "default_timezone", "window_start_hour", "window_end_hour", "window_days",
            "max_concurrency", "calls_per_minute", "max_attempts", "retry_intervals", "retry_on",
            "breaker_threshold", "breaker_min_calls", "breaker_window_seconds", "mode", "columns",
            "phone_column")
    with transaction.atomic():
        new = Batch.objects.create(organization=batch.organization, agent=batch.agent,
                                   name=f"Redial of {batch.name or batch.public_id}"[:200],
                                   created_by=created_by[:200], **{k: getattr(batch, k) for k in keep})
        rows, zones, n = [], set(), 0
        for r in source.values_list("row_number", "phone", "context", "tz").iterator(chunk_size=CHUNK):
            n += 1
            zones.add(r[3])
            rows.append(r)
            if len(rows) >= CHUNK:
                insert_recipients(new.pk, rows)
                rows = []
        insert_recipients(new.pk, rows)
        Batch.objects.filter(pk=new.pk).update(total_rows=n, recipient_count=n, timezones=sorted(zones))
        new.refresh_from_db()
        if start:
            start_batch(new)
    return new
