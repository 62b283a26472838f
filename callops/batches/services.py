"""Batch services: every write to a batch. Import (and its preview), lifecycle actions, redial.

The API and the dashboard call these same functions. Settings are validated by
callops.batches.batch_settings, lists read by recipient_lists and checked by
recipient_validation; running a batch (pacing, windows, retries, the circuit breaker) is
callops.batches.dispatch.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.utils import timezone

from callops.calls import services as call_services
from callops.calls.models import Call, CallStatus, EventSource
from callops.lib.queue import enqueue
from callops.rules import suppressions

from . import jobs, provider_mode
from .batch_settings import BatchSettings
from .models import Batch, BatchRecipient, BatchRejection, BatchStatus, RecipientState
from .recipient_lists import CsvError
from .recipient_validation import Recipient, Screening
from .signals import announce

if TYPE_CHECKING:
    from callops.accounts.models import Organization
    from callops.calls.models import Agent, RoutingProfile

    from .recipient_lists import Row

# A recipient as insert_recipients writes it: (row_number, phone, context, tz).
type RecipientRow = tuple[int, str, dict[str, Any], str]

CHUNK = 5000  # recipients and rejections written per statement
PREVIEW_ROWS = 20


class BatchActionError(Exception):
    """An action the batch's state does not allow (409 in the API)."""


# --- preview and import ---------------------------------------------------------------------------

def preview(rows: Iterable[Row], *, default_region: str = "", limit: int = PREVIEW_ROWS,
            org: Organization | None = None) -> dict[str, Any]:
    """Validate without writing: counts plus the first `limit` valid and rejected rows.

    With `org`, numbers on its suppression list are rejected rows with the reason."""
    screening = Screening(rows, default_region, suppressions.refusals(org) if org is not None else None)
    valid: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    for result in screening:
        if isinstance(result, Recipient):
            if len(valid) < limit:
                valid.append({"row": result.number, "phone": result.phone, "context": result.context,
                              "timezone": result.tz})
        elif len(rejected) < limit:
            rejected.append({"row": result.number, "phone": result.phone, "reason": result.reason})
    return {**screening.counts(), "valid_rows": valid, "rejected_rows": rejected}


def create_batch(*, org: Organization, agent: Agent, settings: BatchSettings, rows: Iterable[Row], columns: list[str], phone_column: str = "",
                 created_by: str = "", start: bool = True, now: datetime | None = None,
                 routing_profile: RoutingProfile | None = None) -> Batch:
    """Store a batch and its recipients in one transaction; nothing is kept if no row is valid.

    Rows are validated as they stream and written in chunks (insert_recipients), so memory stays
    flat and there is no query per row. Starting (when asked) happens after the import.
    """
    screening = Screening(rows, settings.default_region, suppressions.refusals(org))
    zones: set[str] = set()
    with transaction.atomic():
        batch = Batch.objects.create(organization=org, agent=agent, created_by=created_by[:200],
                                     routing_profile=routing_profile,
                                     columns=[c for c in columns if c], phone_column=phone_column,
                                     **settings.as_fields())
        ok: list[RecipientRow] = []
        bad: list[BatchRejection] = []
        for result in screening:
            if isinstance(result, Recipient):
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
        counts = screening.counts()
        if counts["total_rows"] == 0:
            raise CsvError("there are no rows after the header")
        if counts["valid"] == 0:
            raise CsvError(f"none of the {counts['total_rows']} rows has a valid phone number; first problem: "
                           + (BatchRejection.objects.filter(batch=batch).order_by("row_number")
                              .values_list("reason", flat=True).first() or "unknown"))
        Batch.objects.filter(pk=batch.pk).update(
            total_rows=counts["total_rows"], recipient_count=counts["valid"], rejected_count=counts["rejected"],
            duplicate_count=counts["duplicates"], timezones=sorted(zones))
        batch.refresh_from_db()
        if start:
            start_batch(batch, now=now)
    return batch


def insert_recipients(batch_id: int, rows: list[RecipientRow]) -> None:
    """Insert new recipients given as (row_number, phone, context, tz) tuples.

    On PostgreSQL through COPY, with no model instances: the import is bound by this write. With
    COPY the whole 100k-row import (reading and validating included) stored 44,742 rows/s, against
    22,182 rows/s for bulk_create of the same rows already validated: 2.0x (`make bench-batches`,
    bench/results.md, 2026-11-27).
    """
    if not rows:
        return
    if connection.vendor != "postgresql":
        BatchRecipient.objects.bulk_create([BatchRecipient(batch_id=batch_id, row_number=n, phone=p, context=c, tz=t)
                                            for n, p, c, t in rows])
        return
    table = BatchRecipient._meta.db_table
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f'COPY "{table}" (batch_id, row_number, phone, context, tz, state, attempts, '
                                "outcome) FROM STDIN") as copy:
            for n, p, c, t in rows:
                copy.write_row((batch_id, n, p, json.dumps(c), t, RecipientState.PENDING, 0, ""))


# --- lifecycle ------------------------------------------------------------------------------------

def _set_status(batch: Batch, allowed_from: Iterable[str], new: str, **fields: Any) -> bool:
    """Conditional UPDATE: only one of two racing actions wins."""
    now = timezone.now()
    won = Batch.objects.filter(pk=batch.pk, status__in=list(allowed_from)).update(status=new, updated_at=now, **fields)
    batch.refresh_from_db()
    return bool(won)


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
            announce(batch, "batch.started")
    _kick(batch)
    return batch


def _kick(batch: Batch) -> None:
    transaction.on_commit(lambda: enqueue(jobs.tick_batch_job, batch.pk, queue="calls"))


def pause_batch(batch: Batch, *, reason: str = "", by: str = "") -> Batch:
    with transaction.atomic():
        if batch.mode == Batch.Mode.PROVIDER:
            _pause_at_provider(batch)
        text = reason or (f"paused by {by}" if by else "paused")
        if not _set_status(batch, [BatchStatus.RUNNING, BatchStatus.SCHEDULED], BatchStatus.PAUSED,
                           pause_reason=text[:500]):
            raise BatchActionError(f"batch {batch.public_id} is {batch.status}; only a running or scheduled "
                                   "batch can be paused")
        announce(batch, "batch.paused")
    return batch


def _pause_at_provider(batch: Batch) -> None:
    """Refuse (BatchActionError) a pause the provider cannot carry out."""
    # Under the row lock, so a reservation finishing at the same moment is seen.
    current = Batch.objects.select_for_update(no_key=True, of=("self",)).select_related("agent__provider_account").get(pk=batch.pk)
    refusal = provider_mode.pause_refusal(current)
    if refusal:
        raise BatchActionError(f"batch {batch.public_id} cannot be paused: {refusal}")


def resume_batch(batch: Batch, *, now: datetime | None = None) -> Batch:
    """paused → running; or back to scheduled when it was paused before its start time came."""
    now = now or timezone.now()
    with transaction.atomic():
        current = Batch.objects.select_for_update(no_key=True).filter(pk=batch.pk).first()
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
            announce(batch, "batch.started")
    _kick(batch)
    return batch


def stop_batch(batch: Batch, *, by: str = "") -> Batch:
    """Stop for good: recipients not yet dialed are canceled; calls already dialing finish."""
    with transaction.atomic():
        if not _set_status(batch, [BatchStatus.CREATED, BatchStatus.SCHEDULED, BatchStatus.RUNNING,
                                   BatchStatus.PAUSED], BatchStatus.STOPPED,
                           pause_reason=(f"stopped by {by}" if by else "stopped")[:500]):
            raise BatchActionError(f"batch {batch.public_id} is already {batch.status}")
        BatchRecipient.objects.filter(batch=batch, state=RecipientState.PENDING).update(
            state=RecipientState.CANCELED, outcome="canceled")
        announce(batch, "batch.canceled")
    # Attempts created but not yet claimed by a worker are canceled through the placement guard,
    # so a worker that picks one up afterwards finds it claimed and leaves it alone.
    for call in Call.objects.filter(batch=batch, status=CallStatus.QUEUED, dial_claimed_at__isnull=True):
        try:
            call_services.cancel_call(call, source=EventSource.SYSTEM, actor_label="batch stop")
        except call_services.CallActionError:
            pass  # a worker dialed it first: it finishes like any call in progress
    if batch.mode == Batch.Mode.PROVIDER:
        provider_mode.stop(batch)
    _kick(batch)
    return batch


REDIAL_OUTCOMES = ("no_answer", "busy", "failed", "canceled")


def redial(batch: Batch, *, outcomes: Iterable[str], created_by: str = "", start: bool = True) -> Batch:
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
        rows: list[RecipientRow] = []
        zones: set[str] = set()
        n = 0
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
