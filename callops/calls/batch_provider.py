"""Provider-native batches (Bolna, Trillet): the provider dials the list, callops keeps the record.

Submission happens in two steps so a crash can never submit a list twice:
1. `reserve` (inside the tick's transaction): every waiting recipient gets its first attempt as a
   Call row, claimed for dialing at once (the placement guard), and the batch is marked
   `provider_batch_id = "pending"`. This commits before any request is sent.
2. `submit_reserved` (after the commit): one request uploads the list. On success the provider's
   batch id is stored; on a refusal the claimed calls fail with the provider's reason. If the
   process dies in between, the batch stays "pending" and is never submitted again; its claimed
   calls are failed by the stale-call sweep rather than risk a second dial.

The provider's results come back through `sync_job`, which reads the provider's batch and applies
one status report per recipient through the ordinary lifecycle function, matched by phone
number (unique within a batch). Retries after the provider's pass go through callops' own
single-call fan-out, as new attempts.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import services
from .models import Batch, BatchRecipient, BatchStatus, Call, CallStatus, EventSource, RecipientState

log = logging.getLogger(__name__)

PENDING = "pending"
PHONE_COLUMN = {"bolna": "contact_number", "trillet": "phone_number"}
# Bolna refuses a schedule less than two minutes ahead; its batches only start when scheduled.
BOLNA_MIN_LEAD = timedelta(seconds=150)


def reserve(batch: Batch, now: datetime) -> list[int]:
    """Step 1, inside the tick's transaction: create and claim every first attempt."""
    created = []
    for r in BatchRecipient.objects.filter(batch=batch, state=RecipientState.PENDING, attempts=0).order_by("id"):
        won = BatchRecipient.objects.filter(pk=r.pk, state=RecipientState.PENDING, attempts=0).update(
            state=RecipientState.DIALING, attempts=1, next_attempt_at=None)
        if not won:
            continue
        call = services.create_call(org=batch.organization, agent=batch.agent, to_number=r.phone,
                                    source=EventSource.SYSTEM, context=r.context, batch=batch,
                                    metadata={"batch_id": str(batch.public_id), "batch_row": r.row_number})
        BatchRecipient.objects.filter(pk=r.pk).update(last_call=call)
        created.append(call.pk)
    Call.objects.filter(pk__in=created, dial_claimed_at__isnull=True).update(dial_claimed_at=now)
    Batch.objects.filter(pk=batch.pk).update(provider_batch_id=PENDING, updated_at=now)
    batch.provider_batch_id = PENDING
    return created


def submit_reserved(batch_id: int) -> str:
    """Step 2, after the commit: upload the reserved list once."""
    from callops.providers.base import ProviderError
    from callops.providers.registry import adapter_for

    batch = Batch.objects.select_related("agent", "agent__provider_account").get(pk=batch_id)
    if batch.provider_batch_id != PENDING:
        return batch.provider_batch_id
    calls = list(Call.objects.filter(batch=batch, attempt=1, provider_call_id="").order_by("pk"))
    kind = batch.agent.provider
    column = PHONE_COLUMN[kind]
    contacts = [{column: c.to_number, **{k: str(v) for k, v in (c.context or {}).items()}} for c in calls]
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
        with transaction.atomic():
            for call in calls:
                services.apply_status(call, CallStatus.FAILED, source=EventSource.SYSTEM, reason=exc.message,
                                      fields={"error_code": exc.code or "batch_refused",
                                              "error_message": exc.message})
            Batch.objects.filter(pk=batch.pk).update(
                status=BatchStatus.FAILED, provider_batch_id="", finished_at=timezone.now(), updated_at=timezone.now(),
                pause_reason=f"{kind} refused the batch: {exc.message}"[:500])
        return ""
    with transaction.atomic():
        Batch.objects.filter(pk=batch.pk, provider_batch_id=PENDING).update(provider_batch_id=provider_batch_id)
        for call in calls:
            services.record_event(call, source=EventSource.SYSTEM,
                                  note=f"submitted in {kind} batch {provider_batch_id}")
            services.apply_status(call, CallStatus.INITIATED, source=EventSource.SYSTEM,
                                  note=f"handed to {kind} in batch {provider_batch_id}")
    return provider_batch_id


def _sync_key(batch_id: int) -> str:
    return f"callops:batch-provider-sync:{batch_id}"


def due_for_sync(batch: Batch) -> bool:
    """At most one provider read per poll interval per batch (the provider's rate limit is shared)."""
    import django_rq

    from callops.providers.registry import adapter_for

    interval = adapter_for(batch.agent.provider_account).poll_interval / max(
        float(getattr(settings, "PROVIDER_SYNC_SPEED", 1.0) or 1.0), 1e-6)
    try:
        return bool(django_rq.get_connection("calls").set(_sync_key(batch.pk), "1", nx=True,
                                                            px=max(int(interval * 1000), 1)))
    except Exception:
        return False


def sync_job(batch_id: int) -> int:
    """Read the provider's batch and apply each recipient's report to its call."""
    from callops.providers.base import ProviderError
    from callops.providers.registry import adapter_for
    from callops.providers.sync import apply_provider_report

    batch = Batch.objects.select_related("agent", "agent__provider_account").filter(pk=batch_id).first()
    if batch is None or batch.provider_batch_id in ("", PENDING):
        return 0
    adapter = adapter_for(batch.agent.provider_account)
    try:
        data = adapter.fetch_batch(batch.provider_batch_id)
    except ProviderError as exc:
        log.info("batch %s: reading %s batch failed (%s); next tick retries", batch.public_id, batch.agent.provider,
                 exc.code)
        return 0
    calls = {c.to_number: c for c in Call.objects.filter(batch=batch, attempt=1)}
    applied = 0
    for report in data.get("reports", []):
        payload = report.payload or {}
        phone = payload.get("phone_number") or (payload.get("telephony_data") or {}).get("to_number") or ""
        call = calls.get(phone)
        if call is None:
            continue
        ids = {}
        if report.provider_call_id and not call.provider_call_id:
            ids["provider_call_id"] = report.provider_call_id
        job = (report.fields or {}).get("provider_job_id")
        if job and batch.agent.provider == "trillet":
            # The per-call status read of a Trillet batch job needs both ids.
            ids["provider_job_id"] = f"{batch.provider_batch_id}/{job}"
            report.fields.pop("provider_job_id", None)
        if ids:
            Call.objects.filter(pk=call.pk).update(**ids)
            for k, v in ids.items():
                setattr(call, k, v)
        if report.status != call.status or report.raw_status != call.provider_status:
            apply_provider_report(call, report, source=EventSource.POLL)
            applied += 1
    return applied


def stop(batch: Batch) -> None:
    """Ask the provider to stop its batch; what it had not dialed comes back canceled."""
    from callops.providers.base import ProviderError
    from callops.providers.registry import adapter_for

    if batch.provider_batch_id in ("", PENDING):
        return
    try:
        adapter_for(batch.agent.provider_account).stop_batch(batch.provider_batch_id)
    except ProviderError as exc:
        log.warning("batch %s: %s did not stop its batch: %s", batch.public_id, batch.agent.provider, exc.message)
