"""Provider-native batches (Bolna, Trillet): the provider dials the list, callops keeps the record.

Submission happens in two steps so a crash can never submit a list twice:
1. `reserve` (the body of a queued job, never the sweeper): every waiting recipient gets its first
   attempt as a Call row, claimed for dialing at once (the placement guard). It works in chunks of
   RESERVE_CHUNK recipients, each chunk its own short transaction under the batch row lock, so a
   100,000-row list never sits in one huge transaction and the sweeper's ticks stay short. The
   chunk that reserves the last recipient marks the batch `provider_batch_id = "pending"`.
2. `submit_reserved` (after that commit): one request uploads the list. On success the provider's
   batch id is stored; on a refusal the claimed calls fail with the provider's reason and the
   batch fails (`batch.failed`). If the process dies in between, the batch stays "pending" and is
   never submitted again; its claimed calls are failed by the stale-call sweep rather than risk a
   second dial.

What the providers cannot do is refused when the batch is created (`unsupported_settings`): they
have no calling window, pacing, concurrency cap or circuit breaker for a batch, and no pause
(`pause_refusal` refuses while the provider is dialing; before submission, or once its pass is
over, callops pauses on its own side). `stop` asks the provider to stop its batch.

The provider's results come back through `callops.batches.provider_sync`. Retries after the
provider's pass go through callops' own single-call fan-out, as new attempts.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from callops.calls import services
from callops.calls.models import TERMINAL, Call, CallStatus, EventSource
from callops.lib import redisconn
from callops.providers.base import ProviderError
from callops.providers.registry import adapter_for
from callops.rules import gate
from callops.rules.gate import CallRefused

from .models import Batch, BatchRecipient, BatchStatus, RecipientState
from .signals import announce

log = logging.getLogger(__name__)

PENDING = "pending"
PHONE_COLUMN = {"bolna": "contact_number", "trillet": "phone_number"}
# Bolna refuses a schedule less than two minutes ahead; its batches only start when scheduled.
BOLNA_MIN_LEAD = timedelta(seconds=150)
RESERVE_CHUNK = 500  # first attempts created per transaction
RESERVE_BUDGET_SECONDS = 20.0  # one reserve job's share of a worker; the next tick continues
WRITE_CHUNK = 500  # calls marked handed over (or failed) per transaction after a submission

# Settings a provider batch cannot honour, with the words the refusal uses. Each is refused by
# name when given with mode=provider: accepting them silently would promise what nobody enforces.
UNSUPPORTED = {
    "window_start_hour": ("window", "a calling window"),
    "window_end_hour": ("window", "a calling window"),
    "window_days": ("window_days", "calling days"),
    "max_concurrency": ("max_concurrency", "a concurrency cap"),
    "calls_per_minute": ("calls_per_minute", "pacing (calls per minute)"),
    "breaker_threshold": ("breaker_threshold", "a circuit breaker"),
    "breaker_min_calls": ("breaker_min_calls", "a circuit breaker"),
    "breaker_window_seconds": ("breaker_window_seconds", "a circuit breaker"),
}


def unsupported_settings(data: dict, provider: str) -> dict[str, str]:
    """Errors (field → message) for settings given with mode=provider that `provider` cannot honour."""
    errors: dict[str, str] = {}
    for key, (field, words) in UNSUPPORTED.items():
        if data.get(key) in (None, "", []) or field in errors:
            continue
        errors[field] = (f"{provider} dials a provider batch on its own terms and cannot honour {words}; "
                         "leave it out or use mode fanout")
    return errors


# --- step 1: reservation, in chunks -----------------------------------------------------------------

def _reserve_key(batch_id: int) -> str:
    return f"callops:batch-reserve:{batch_id}"


def needs_reservation(batch: Batch) -> bool:
    return batch.mode == Batch.Mode.PROVIDER and batch.status == BatchStatus.RUNNING and not batch.provider_batch_id


def reserve_chunk(batch: Batch, now: datetime, limit: int | None = None) -> tuple[list[int], bool]:
    """Inside a transaction holding the batch row lock: create and claim up to `limit` (default
    RESERVE_CHUNK) first attempts. Returns (call ids, finished); the chunk that finishes marks the
    batch pending."""
    limit = limit or RESERVE_CHUNK
    created = []
    todo = list(BatchRecipient.objects.filter(batch=batch, state=RecipientState.PENDING, attempts=0)
                .order_by("id")[:limit + 1])
    for r in todo[:limit]:
        won = BatchRecipient.objects.filter(pk=r.pk, state=RecipientState.PENDING, attempts=0).update(
            state=RecipientState.DIALING, attempts=1, next_attempt_at=None)
        if not won:
            continue
        # Created holding its dial claim: the provider dials it, never a callops worker.
        call = services.create_call(org=batch.organization, agent=batch.agent, to_number=r.phone,
                                    source=EventSource.SYSTEM, context=r.context, batch=batch, claim=True,
                                    metadata={"batch_id": str(batch.public_id), "batch_row": r.row_number})
        BatchRecipient.objects.filter(pk=r.pk).update(last_call=call)
        created.append(call.pk)
    finished = len(todo) <= limit
    if finished:
        Batch.objects.filter(pk=batch.pk).update(provider_batch_id=PENDING, updated_at=now)
        batch.provider_batch_id = PENDING
    return created, finished


def reserve(batch_id: int, budget_seconds: float = RESERVE_BUDGET_SECONDS) -> int:
    """Reserve a provider batch's first attempts chunk by chunk, then submit the list once (the
    body of jobs.reserve_provider_batch_job).

    One job at a time per batch (a Redis lease); a lost or timed-out job is replaced by the next
    tick, and the chunks it committed stay reserved.
    """
    conn = redisconn.client()
    key = _reserve_key(batch_id)
    try:
        if not conn.set(key, "1", nx=True, ex=int(budget_seconds) + 30):
            return 0  # another worker is reserving this batch
    except Exception:
        return 0  # Redis is down: the next tick enqueues this again
    reserved, finished = 0, False
    deadline = time.monotonic() + budget_seconds
    try:
        while True:
            with transaction.atomic():
                # Only the batch row is locked (of=self), not the agent or organization it joins.
                batch = Batch.objects.select_for_update(no_key=True, of=("self",)).select_related(
                    "agent__provider_account", "organization").filter(pk=batch_id).first()
                if batch is None or not needs_reservation(batch):
                    break
                created, finished = reserve_chunk(batch, timezone.now())
                reserved += len(created)
            if finished or time.monotonic() >= deadline:
                break
    finally:
        try:
            conn.delete(key)
        except Exception:
            pass  # the lease expires
    if finished:
        submit_reserved(batch_id)
    return reserved


# --- step 2: one submission ---------------------------------------------------------------------------

def _claimed_unsent(batch: Batch):
    return Call.objects.filter(batch=batch, attempt=1, provider_call_id="", status=CallStatus.QUEUED)


def submit_reserved(batch_id: int) -> str:
    """Step 2, after the commit that finished the reservation: upload the reserved list once."""
    with transaction.atomic():
        batch = Batch.objects.select_for_update(no_key=True).filter(pk=batch_id).first()
        if batch is None or batch.provider_batch_id != PENDING:
            return batch.provider_batch_id if batch else ""
        if batch.status == BatchStatus.STOPPED:
            # Stopped before the list left: nothing to submit, and nobody to call.
            Batch.objects.filter(pk=batch.pk).update(provider_batch_id="")
            batch.provider_batch_id = ""
            stopped_before_submission = True
        else:
            stopped_before_submission = False
    batch = Batch.objects.select_related("agent", "agent__provider_account", "organization").get(pk=batch_id)
    if stopped_before_submission:
        cancel_reserved(batch)
        return ""
    rows = _screen(batch, list(_claimed_unsent(batch).order_by("pk").values_list("pk", "to_number", "context")))
    if not rows:
        # Every reserved recipient was held back by the calling rules: nothing to upload. The
        # batch stays "pending" (never submitted again) and the fan-out calls the deferred ones.
        return PENDING
    kind = batch.agent.provider
    column = PHONE_COLUMN[kind]
    contacts = [{column: phone, **{k: str(v) for k, v in (context or {}).items()}} for _, phone, context in rows]
    adapter = adapter_for(batch.agent.provider_account)
    now = timezone.now()
    when = None
    if kind == "bolna":
        when = max(now + BOLNA_MIN_LEAD, batch.start_at or now)
    try:
        provider_batch_id = adapter.place_batch(batch.agent.provider_agent_id, contacts, scheduled_at=when)
        if not provider_batch_id:
            raise ProviderError(f"{kind} answered without a batch id", permanent=True, code="bad_response")
    except ProviderError as exc:
        log.warning("batch %s: %s refused the batch: %s", batch.public_id, kind, exc.message)
        _fail_submission(batch, kind, exc, [pk for pk, _, _ in rows])
        return ""
    Batch.objects.filter(pk=batch.pk, provider_batch_id=PENDING).update(provider_batch_id=provider_batch_id)
    batch.provider_batch_id = provider_batch_id
    # Each handed-over call gets its timeline lines in short transactions: one per call would be
    # slow, one for 100,000 calls would hold locks for minutes.
    ids = [pk for pk, _, _ in rows]
    for i in range(0, len(ids), WRITE_CHUNK):
        with transaction.atomic():
            for call in Call.objects.filter(pk__in=ids[i:i + WRITE_CHUNK]).order_by("pk"):
                services.record_event(call, source=EventSource.SYSTEM,
                                      note=f"submitted in {kind} batch {provider_batch_id}")
                services.apply_status(call, CallStatus.INITIATED, source=EventSource.SYSTEM,
                                      note=f"handed to {kind} in batch {provider_batch_id}")
    if Batch.objects.filter(pk=batch.pk, status=BatchStatus.STOPPED).exists():
        stop(batch)  # stopped while the list was on its way: tell the provider now
    return provider_batch_id


def _screen(batch: Batch, rows: list[tuple[int, str, dict]]) -> list[tuple[int, str, dict]]:
    """The calling rules at dial time, as for any other call: the rows the provider may dial.

    The provider dials the whole list on its own schedule, so this is the last moment callops can
    refuse a number. A suppressed one is canceled (error_code suppressed); one at a frequency cap
    or outside the calling hours is canceled with that code and its recipient waits for the time
    the rule allows, when callops' own fan-out calls it as the next attempt.
    """
    by_pk = {pk: (pk, phone, context) for pk, phone, context in rows}
    allowed: set[int] = set()
    calls = Call.objects.select_related("organization").filter(pk__in=list(by_pk)).order_by("to_number", "pk")
    ordered = list(calls)
    # In number order, a chunk per transaction: each admission holds its number's lock until commit.
    for i in range(0, len(ordered), WRITE_CHUNK):
        refused: list[tuple[Call, CallRefused]] = []
        with transaction.atomic():
            for call in ordered[i:i + WRITE_CHUNK]:
                try:
                    gate.admit(batch.organization, call.to_number, call_public_id=call.public_id,
                               fallback_zone=batch.default_timezone)
                    allowed.add(call.pk)
                except CallRefused as exc:
                    refused.append((call, exc))
        for call, why in refused:
            with transaction.atomic():
                services.cancel_refused(call, why, source=EventSource.SYSTEM)
                if why.retry_at is None:
                    BatchRecipient.objects.filter(batch=batch, last_call_id=call.pk).update(
                        state=RecipientState.DONE, outcome=CallStatus.CANCELED)
                else:
                    BatchRecipient.objects.filter(batch=batch, last_call_id=call.pk).update(
                        state=RecipientState.PENDING, next_attempt_at=why.retry_at)
    return [by_pk[pk] for pk, _, _ in rows if pk in allowed]


def _fail_submission(batch: Batch, kind: str, exc, call_ids: list[int]) -> None:
    for i in range(0, len(call_ids), WRITE_CHUNK):
        with transaction.atomic():
            for call in Call.objects.filter(pk__in=call_ids[i:i + WRITE_CHUNK]).order_by("pk"):
                services.apply_status(call, CallStatus.FAILED, source=EventSource.SYSTEM, reason=exc.message,
                                      fields={"error_code": exc.code or "batch_refused",
                                              "error_message": exc.message})
    now = timezone.now()
    with transaction.atomic():
        BatchRecipient.objects.filter(batch=batch, state=RecipientState.DIALING).update(
            state=RecipientState.DONE, outcome=CallStatus.FAILED)
        won = Batch.objects.filter(pk=batch.pk, provider_batch_id=PENDING,
                                   status__in=[BatchStatus.RUNNING, BatchStatus.PAUSED]).update(
            status=BatchStatus.FAILED, provider_batch_id="", finished_at=now, updated_at=now,
            pause_reason=f"{kind} refused the batch: {exc.message}"[:500])
        if won:
            batch.refresh_from_db()
            announce(batch, "batch.failed")
        else:  # stopped meanwhile: it stays stopped, and finishes on its next tick
            Batch.objects.filter(pk=batch.pk, provider_batch_id=PENDING).update(provider_batch_id="")


def cancel_reserved(batch: Batch) -> int:
    """Cancel first attempts reserved but never handed to the provider (the batch was stopped).

    They are claimed by the reservation, so no worker can dial them; canceling is only bookkeeping.
    """
    canceled = 0
    ids = list(_claimed_unsent(batch).values_list("pk", flat=True))
    for i in range(0, len(ids), WRITE_CHUNK):
        with transaction.atomic():
            for pk in ids[i:i + WRITE_CHUNK]:
                t = services.apply_status(pk, CallStatus.CANCELED, source=EventSource.SYSTEM,
                                          note="canceled: the batch was stopped before it was handed to the provider")
                canceled += t.accepted
    return canceled


# --- pause ---------------------------------------------------------------------------------------------

def pause_refusal(batch: Batch) -> str:
    """Why a provider batch cannot be paused right now ("" when callops can pause it itself).

    Neither Bolna nor Trillet can pause a batch they are dialing (Bolna can only stop it, Trillet
    only cancel it), so a pause is refused while the provider holds the list instead of pretending.
    """
    if batch.provider_batch_id == "":
        return ""  # nothing handed over yet: callops holds the list and simply waits
    kind = batch.agent.provider
    if batch.provider_batch_id == PENDING:
        return f"the list is being handed to {kind} right now; try again in a moment, or stop the batch"
    provider_pass_over = not Call.objects.filter(batch=batch, attempt=1).exclude(status__in=list(TERMINAL)).exists()
    if provider_pass_over:
        return ""  # only callops' own retries are left, and those callops can hold
    return (f"{kind} has no API to pause a batch it is dialing; stop the batch instead (calls in progress "
            "finish, the rest are canceled)")


def stop(batch: Batch) -> None:
    """Ask the provider to stop its batch; what it had not dialed comes back canceled.

    Before submission there is nothing at the provider: the reserved first attempts are canceled
    here (a submission already in flight sees the stop and cancels them itself).
    """
    if batch.provider_batch_id == PENDING:
        return
    if batch.provider_batch_id == "":
        cancel_reserved(batch)
        return
    try:
        adapter_for(batch.agent.provider_account).stop_batch(batch.provider_batch_id)
    except ProviderError as exc:
        log.warning("batch %s: %s did not stop its batch: %s", batch.public_id, batch.agent.provider, exc.message)
