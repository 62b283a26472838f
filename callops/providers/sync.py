"""Status sync: poll live calls through their adapter and apply what the provider says.

A call being synced carries `next_sync_at` (design rule 1: the row says when work is due). The
sweep enqueues due polls (PolyAI first, because its status expires ~2 h after the call ends);
`sync_call` polls one call, applies the report through `apply_report(source="poll")` and sets the
next due time from the provider's cadence, backing off on errors and honouring Retry-After.
Calls stuck past their provider's maximum call length get one reconcile poll and are then
failed with error_code `stale`.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db.models import Case, IntegerField, Value, When
from django.utils import timezone

from callops.calls import services as call_services
from callops.calls.models import ACTIVE, RANK, Call, CallStatus, EventSource
from callops.lib.queue import enqueue

from . import ratelimit
from .base import ProviderError
from .registry import _MODULES, adapter_class, adapter_for

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 300
# While a poll job is queued its row is leased this long, so sweeps do not enqueue it again;
# if the job is lost with Redis the lease runs out and the sweep re-enqueues it.
LEASE_SECONDS = 30
# Calls per sync job: enough to amortise the job's SELECT and UPDATE over many polls. At a
# provider's usual 100-300 ms per request a full chunk takes 5-15 s, inside the lease above;
# more workers, not bigger chunks, keep PolyAI's 2-5 s cadence when many calls are live.
SYNC_CHUNK = 50


def _backoff(interval: float, failures: int, retry_after: float | None) -> float:
    delay = min(interval * (2 ** min(failures, 10)), MAX_BACKOFF_SECONDS)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def sync_call(call_id: int, *, reconcile: bool = False) -> str:
    """Poll one live call. Returns what happened (for logs, tests and the benchmark)."""
    return sync_calls([call_id], reconcile=reconcile).get(call_id, "done")


def sync_calls(call_ids: list[int], *, reconcile: bool = False) -> dict[int, str]:
    """Poll several live calls in one job; returns {call id: what happened}.

    Polls are sequential, but the bookkeeping is shared: one SELECT for the batch, one adapter
    per account, and one UPDATE for all the calls whose provider had nothing new (the common
    case), so a poll costs little more than its HTTP request.
    """
    results: dict[int, str] = {}
    calls = list(Call.objects.select_related("provider_account", "agent").filter(pk__in=call_ids).order_by("pk"))
    adapters: dict[int, object] = {}
    quiet: dict[float, list[int]] = {}   # next-poll delay -> calls with nothing new
    now = timezone.now()
    live = [c for c in calls if not c.is_terminal]
    results.update({c.pk: "done" for c in calls if c.is_terminal})
    # Request budget per account, taken for the whole batch in one Redis round trip.
    budget: dict[int, list] = {}
    for call in live:
        budget.setdefault(call.provider_account_id, [0, 0.0, call.provider_account])[0] += 1
    for account_id, entry in budget.items():
        if reconcile:
            continue
        granted, wait = ratelimit.acquire_many(account_id, entry[2].rate_limit_per_minute, entry[0])
        entry[0], entry[1] = granted, wait
    for call in live:
        entry = budget[call.provider_account_id]
        if not reconcile:
            if entry[0] <= 0:
                Call.objects.filter(pk=call.pk).update(next_sync_at=now + timedelta(seconds=entry[1]))
                results[call.pk] = "rate_limited"
                continue
            entry[0] -= 1
        adapter = adapters.get(call.provider_account_id)
        if adapter is None:
            adapter = adapters[call.provider_account_id] = adapter_for(call.provider_account)
        results[call.pk] = _poll(call, adapter, now, quiet)
    for delay, pks in quiet.items():
        Call.objects.filter(pk__in=pks, status__in=ACTIVE).update(
            next_sync_at=now + timedelta(seconds=delay), last_synced_at=now, sync_failures=0)
    return results


def _poll(call: Call, adapter, now, quiet: dict) -> str:
    if not call.provider_call_id:
        # Not handed to the provider (yet): placement owns it; nothing to poll.
        Call.objects.filter(pk=call.pk, provider_call_id="").update(next_sync_at=None)
        return "not_placed"
    try:
        report = adapter.fetch_status(call)
    except ProviderError as exc:
        if exc.code == "status_expired":
            # The provider forgot the call before we saw it end (PolyAI, ~2 h after the end).
            call_services.apply_status(call, CallStatus.FAILED, source=EventSource.POLL, raw_status="404",
                                       reason=exc.message, fields={"error_code": "status_expired",
                                                                   "error_message": exc.message})
            return "expired"
        failures = call.sync_failures + 1
        delay = _backoff(adapter.next_poll_delay(call), failures, exc.retry_after)
        Call.objects.filter(pk=call.pk).update(
            sync_failures=min(failures, 32000), next_sync_at=now + timedelta(seconds=delay), last_synced_at=now)
        log.info("poll of call %s failed (%s, %s); next in %.1fs", call.pk, exc.code,
                 "permanent" if exc.permanent else "transient", delay)
        return f"error:{exc.code}"
    except ValueError as exc:  # a status word we do not know: keep polling, say so in the log
        log.warning("poll of call %s: %s", call.pk, exc)
        quiet.setdefault(adapter.next_poll_delay(call), []).append(call.pk)
        return "unknown_status"

    if report.status == call.status and report.raw_status == call.provider_status and not report.fields:
        # Nothing new. Repeating the observation would only flood the timeline with ignored
        # duplicates, so it is not applied; the next poll is set with the batch.
        quiet.setdefault(adapter.next_poll_delay(call), []).append(call.pk)
        return call.status
    call = apply_provider_report(call, report, source=EventSource.POLL)
    if call.status in ACTIVE:
        quiet.setdefault(adapter.next_poll_delay(call), []).append(call.pk)
    else:
        Call.objects.filter(pk=call.pk).update(last_synced_at=now, sync_failures=0)
    return call.status


def apply_provider_report(call: Call, report, *, source: str) -> Call:
    """apply_report, plus keeping the raw words current when they change within one rank.

    Bolna `scheduled` -> `queued` or `in-progress` -> `call-disconnected` do not move the canonical
    status, but the raw status shown beside it should say what the provider says now.
    """
    transition = call_services.apply_report(call, report, source=source)
    fresh = transition.call
    if (not transition.accepted and fresh.status in ACTIVE and RANK.get(report.status) == RANK[fresh.status]
            and report.raw_status and report.raw_status != fresh.provider_status):
        Call.objects.filter(pk=fresh.pk, status=fresh.status).update(
            provider_status=report.raw_status[:100], provider_reason=report.reason or fresh.provider_reason)
        fresh.provider_status = report.raw_status[:100]
    return fresh


def sweep_due_syncs(limit: int = 2000, chunk: int = SYNC_CHUNK) -> int:
    """Enqueue polls of live calls whose `next_sync_at` has passed, PolyAI first.

    Due calls go out in jobs of up to `chunk` calls of one provider account, in due order, so
    PolyAI jobs sit at the head of the queue.
    """
    from .jobs import sync_calls_job

    now = timezone.now()
    due = list(
        Call.objects.filter(next_sync_at__lte=now, status__in=ACTIVE)
        .annotate(first=Case(When(provider="polyai", then=Value(0)), default=Value(1), output_field=IntegerField()))
        .order_by("first", "next_sync_at").values_list("pk", "provider_account_id")[:limit]
    )
    if not due:
        return 0
    Call.objects.filter(pk__in=[pk for pk, _ in due]).update(next_sync_at=now + timedelta(seconds=LEASE_SECONDS))
    groups: dict[int, list[int]] = {}
    order: list[int] = []
    for pk, account_id in due:
        if account_id not in groups:
            groups[account_id] = []
            order.append(account_id)
        groups[account_id].append(pk)
    jobs = []
    for account_id in order:
        pks = groups[account_id]
        jobs += [pks[i:i + chunk] for i in range(0, len(pks), chunk)]
    for pks in jobs:
        enqueue(sync_calls_job, pks, queue="calls", job_id=f"sync-calls-{pks[0]}-{len(pks)}")
    return len(due)


def reconcile_stale(call_id: int) -> str:
    """One last poll of a call past its provider's maximum length; then fail it `stale`."""
    result = sync_call(call_id, reconcile=True)
    call = Call.objects.filter(pk=call_id).first()
    if call is None or call.is_terminal:
        return result
    call_services.apply_status(call, CallStatus.FAILED, source=EventSource.SYSTEM, reason="no final status from "
                               "the provider within its maximum call length",
                               fields={"error_code": "stale", "error_message": "call exceeded the provider's "
                                       "maximum call length without a final status"})
    return "stale"


def sweep_stale_calls(limit: int = 500) -> int:
    """Enqueue reconciliation of live calls placed longer ago than their provider allows."""
    from .jobs import reconcile_stale_job

    now = timezone.now()
    found = 0
    for kind in _MODULES:
        cutoff = now - timedelta(seconds=adapter_class(kind).call_deadline_seconds())
        stale = list(Call.objects.filter(provider=kind, status__in=ACTIVE, dial_claimed_at__lt=cutoff)
                     .values_list("pk", flat=True)[:limit])
        for pk in stale:
            enqueue(reconcile_stale_job, pk, queue="calls", job_id=f"reconcile-stale-{pk}")
        found += len(stale)
    return found
