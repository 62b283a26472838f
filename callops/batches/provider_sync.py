"""Reading a provider-native batch back: each recipient's report applied to its call.

At most one read per poll interval per batch (`due_for_sync`, a Redis lease), because the
provider's rate limit is shared with every other call on the account. Calls are matched by phone
number, unique within a batch, and each report goes through the ordinary lifecycle function.
"""

from __future__ import annotations

import logging

from django.conf import settings

from callops.calls.models import Call, EventSource
from callops.calls.status_sync import apply_provider_report
from callops.lib import redisconn
from callops.providers.base import ProviderError
from callops.providers.registry import adapter_for

from .models import Batch
from .provider_mode import PENDING

log = logging.getLogger(__name__)


def _sync_key(batch_id: int) -> str:
    return f"callops:batch-provider-sync:{batch_id}"


def due_for_sync(batch: Batch) -> bool:
    """At most one provider read per poll interval per batch (the provider's rate limit is shared)."""
    interval = adapter_for(batch.agent.provider_account).poll_interval / max(
        float(getattr(settings, "PROVIDER_SYNC_SPEED", 1.0) or 1.0), 1e-6)
    try:
        return bool(redisconn.client().set(_sync_key(batch.pk), "1", nx=True,
                                                            px=max(int(interval * 1000), 1)))
    except Exception:
        return False


def sync(batch_id: int) -> int:
    """Read the provider's batch and apply each recipient's report to its call (the body of
    jobs.sync_provider_batch_job)."""
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
