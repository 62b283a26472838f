"""Status sync: poll live calls through their adapter and apply what the provider says.

Adapters only report (`fetch_status` returns a `StatusReport`); this module, in `calls`, applies
the reports to calls, so `providers` never imports the call services. Inbound callbacks apply
theirs through `apply_provider_report` too (`callops.calls.provider_callbacks`).

A call being synced carries `next_sync_at` (design rule 1: the row says when work is due). The
sweep enqueues due polls (PolyAI first, because its status expires ~2 h after the call ends);
`sync_calls` polls them, applies each report through `apply_report(source="poll")` and sets the
next due time from the provider's cadence, backing off on errors and honouring Retry-After.
Every poll takes a token from the account's request budget (`ratelimit`, shared by all workers);
polls without a token, or on an account a provider 429 has paused, move to when one is free.

A terminal call whose provider said details are still coming (CallingBox `result_status:
pending`) keeps a `next_sync_at` for a bounded follow-up: it is read again until the details are
final or DETAILS_FOLLOW_SECONDS have passed since it ended.

Calls stuck past their provider's maximum call length get one reconcile poll and are then
failed with error_code `stale`. The clock starts when the provider started the call: at
placement for a call placed on its own, but for a call in a provider-run batch (Bolna, Trillet)
only when the provider reports dialing it, because a long list keeps calls waiting at the
provider for hours.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Case, IntegerField, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from callops.lib.queue import enqueue
from callops.providers.base import ProviderAdapter, ProviderError, StatusReport, _sync_speed
from callops.providers.registry import KINDS, adapter_class, adapter_for

from . import bulk_reports
from . import results as extraction
from . import services as call_services
from .models import ACTIVE, RANK, Call, CallEvent, CallStatus, EventSource

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 300
# While a poll job is queued its row is leased this long, so sweeps do not enqueue it again;
# if the job is lost with Redis the lease runs out and the sweep re-enqueues it.
LEASE_SECONDS = 30
# Calls per sync job: enough to amortise the job's SELECT and UPDATE over many polls. At a
# provider's usual 100-300 ms per request a full chunk takes 5-15 s, inside the lease above;
# more workers, not bigger chunks, keep PolyAI's 2-5 s cadence when many calls are live.
SYNC_CHUNK = 50
# How long after a call ended its provider's pending details are still fetched (provider time).
DETAILS_FOLLOW_SECONDS = 300
# A call in a provider-run batch that the provider has not started after this long (from the
# batch's start) is given up on: the provider's list is not moving.
PROVIDER_BATCH_MAX_WAIT_SECONDS = 24 * 3600


def _backoff(interval: float, failures: int, retry_after: float | None) -> float:
    delay = min(interval * (2 ** min(failures, 10)), MAX_BACKOFF_SECONDS)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def sync_call(call_id: int, *, reconcile: bool = False) -> str:
    """Poll one live call. Returns what happened (for logs, tests and the benchmark)."""
    return sync_calls([call_id], reconcile=reconcile).get(call_id, "done")


def sync_calls(call_ids: list[int], *, reconcile: bool = False) -> dict[int, str]:
    """Poll several calls in one job; returns {call id: what happened}.

    Polls are sequential, but the bookkeeping is shared: one SELECT for the batch, one adapter
    and one budget round trip per account, and one UPDATE for all the calls whose provider had
    nothing new (the common case), so a poll costs little more than its HTTP request.
    A reconcile (a stale call's last look) skips the budget: it happens once per call.
    """
    results: dict[int, str] = {}
    changed: list[tuple[Call, StatusReport, ProviderAdapter]] = []   # (call, report with news, adapter)
    calls = list(Call.objects.select_related("provider_account", "agent").filter(pk__in=call_ids).order_by("pk"))
    quiet: dict[float, list[int]] = {}   # next-poll delay -> calls with nothing new
    now = timezone.now()
    groups: dict[int, list[Call]] = {}
    for call in calls:
        if call.is_terminal and (call.next_sync_at is None or reconcile):
            results[call.pk] = "done"
        else:
            groups.setdefault(call.provider_account_id, []).append(call)
    for group in groups.values():
        adapter = adapter_for(group[0].provider_account)
        if reconcile:
            adapter.prepay("read", len(group))
            granted, wait = len(group), 0.0
        else:
            granted, wait = adapter.reserve_requests("read", len(group))
        for call in group:
            paused = adapter.pause_remaining()
            if granted <= 0 or paused > 0:
                # No token (or the provider told us to back off): poll when the budget allows.
                delay = max(wait, paused, 0.05)
                Call.objects.filter(pk=call.pk).update(next_sync_at=now + timedelta(seconds=delay))
                results[call.pk] = "rate_limited"
                continue
            granted -= 1
            if call.is_terminal:
                results[call.pk] = _follow_details(call, adapter, now)
            else:
                report = _poll(call, adapter, now, quiet)
                if isinstance(report, str):
                    results[call.pk] = report
                else:
                    changed.append((call, report, adapter))
    # Every poll is in: the reports with news are applied together, in one transaction.
    applied = bulk_reports.apply_reports([(call, report) for call, report, _ in changed], source=EventSource.POLL,
                                         one=lambda call, report: apply_provider_report(call, report,
                                                                                        source=EventSource.POLL))
    for call, report, adapter in changed:
        fresh = applied.get(call.pk)
        if fresh is None:
            results[call.pk] = "gone"
        elif isinstance(fresh, Exception):
            # Not applied: the call keeps the sweep's lease and is polled again when it runs out.
            results[call.pk] = "error:apply"
        elif fresh.status in ACTIVE:
            quiet.setdefault(adapter.next_poll_delay(fresh), []).append(fresh.pk)
            results[call.pk] = fresh.status
        else:
            follow = _follow_until(fresh, report, adapter, now)
            Call.objects.filter(pk=fresh.pk).update(last_synced_at=now, sync_failures=0, next_sync_at=follow)
            results[call.pk] = fresh.status
    for delay, pks in quiet.items():
        Call.objects.filter(pk__in=pks, status__in=ACTIVE).update(
            next_sync_at=now + timedelta(seconds=delay), last_synced_at=now, sync_failures=0)
    return results


def _poll(call: Call, adapter, now, quiet: dict) -> str | StatusReport:
    """Read one live call: what happened, or the report to apply when the provider has news."""
    if not call.provider_call_id and not call.provider_job_id:
        # Not handed to the provider (yet): placement owns it; nothing to poll. (A Trillet batch
        # job has only its job id until it finishes.)
        Call.objects.filter(pk=call.pk, provider_call_id="", provider_job_id="").update(next_sync_at=None)
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
        # last_synced_at stays at the last successful read: it is when we last saw the call live.
        Call.objects.filter(pk=call.pk).update(
            sync_failures=min(failures, 32000), next_sync_at=now + timedelta(seconds=delay))
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
    return report


def _follow_until(call: Call, report, adapter, now):
    """When to read a terminal call again for details its provider is still preparing, or None."""
    if not report.details_pending:
        return None
    ended = call.ended_at or now
    if (now - ended).total_seconds() >= DETAILS_FOLLOW_SECONDS / _sync_speed():
        return None
    return now + timedelta(seconds=adapter.next_poll_delay(call))


def _follow_details(call: Call, adapter, now) -> str:
    """Read a terminal call again for the details its provider was still preparing."""
    try:
        report = adapter.fetch_status(call)
    except (ProviderError, ValueError) as exc:
        failures = call.sync_failures + 1
        give_up = failures > 5 or (now - (call.ended_at or now)).total_seconds() >= \
            DETAILS_FOLLOW_SECONDS / _sync_speed()
        delay = _backoff(adapter.next_poll_delay(call), failures, getattr(exc, "retry_after", None))
        Call.objects.filter(pk=call.pk).update(
            sync_failures=failures, next_sync_at=None if give_up else now + timedelta(seconds=delay))
        if give_up:
            extraction.details_arrived(call.pk)
        return "details_error"
    call = apply_provider_report(call, report, source=EventSource.POLL)
    follow = _follow_until(call, report, adapter, now)
    Call.objects.filter(pk=call.pk).update(next_sync_at=follow, last_synced_at=now, sync_failures=0)
    if follow is None:
        # Final (or given up on): extraction waiting for these details can run now.
        extraction.details_arrived(call.pk)
        return "details_final" if not report.details_pending else "details_timeout"
    return "details_pending"


def apply_provider_report(call: Call, report, *, source: str) -> Call:
    """apply_report, plus keeping the raw words current when they change within one rank.

    Bolna `scheduled` -> `queued` or `in-progress` -> `call-disconnected` do not move the canonical
    status, but the raw status shown beside it should say what the provider says now.
    """
    had_details = call.provider_result is not None, bool(call.transcript)
    transition = call_services.apply_report(call, report, source=source)
    fresh = transition.call
    if (not transition.accepted and fresh.status in ACTIVE and RANK.get(report.status) == RANK[fresh.status]
            and report.raw_status and report.raw_status != fresh.provider_status):
        Call.objects.filter(pk=fresh.pk, status=fresh.status).update(
            provider_status=report.raw_status[:100], provider_reason=report.reason or fresh.provider_reason)
        fresh.provider_status = report.raw_status[:100]
    if (not transition.accepted and fresh.status == CallStatus.COMPLETED
            and (fresh.provider_result is not None, bool(fresh.transcript)) != had_details):
        # Details landed after the call completed (a late callback, a follow-up read): an
        # extraction run waiting for them can go now instead of at its grace deadline.
        extraction.details_arrived(fresh.pk)
    return fresh


def sweep_due_syncs(limit: int = 2000, chunk: int = SYNC_CHUNK) -> int:
    """Enqueue polls whose `next_sync_at` has passed, PolyAI first.

    That is live calls, plus terminal ones still waiting for details (see `_follow_until`). Due
    calls go out in jobs of up to `chunk` calls of one provider account, in due order, so PolyAI
    jobs sit at the head of the queue.
    """
    # Not at the top: callops.calls.jobs imports this module (cycle calls.jobs -> calls.status_sync).
    from .jobs import sync_calls_job

    now = timezone.now()
    due = list(
        Call.objects.filter(next_sync_at__lte=now)
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
    with transaction.atomic():
        call = Call.objects.select_for_update().filter(pk=call_id).first()
        if call is None or call.is_terminal:
            return result
        # Judged again under the row lock, not taken from the sweep that enqueued this job: in
        # between, an interrupted placement may have been released to be placed again (its claim
        # cleared), and failing it then would end a call nobody dialed. reconcile_placement's
        # release is conditional on this row, so it waits for the lock and then sees the outcome.
        single, batched = stale_calls(call.provider)
        if not (single.filter(pk=call_id).exists() or batched.filter(pk=call_id).exists()):
            return "not stale"
        call_services.apply_status(call, CallStatus.FAILED, source=EventSource.SYSTEM, reason="no final status "
                                   "from the provider within its maximum call length",
                                   fields={"error_code": "stale", "error_message": "call exceeded the provider's "
                                           "maximum call length without a final status"})
    return "stale"


def _in_provider_batch() -> Q:
    """Calls whose provider holds them in a submitted batch list (not pending, not refused)."""
    return Q(batch__mode="provider") & ~Q(batch__provider_batch_id__in=["", "pending"])


def stale_calls(kind: str, now=None):
    """Live calls of `kind` that have run past their provider's maximum call length.

    The clock starts when the provider started the call. A call placed on its own was handed over
    at its dial claim. A call in a provider-run batch starts when the provider first reports it
    dialing (ringing sets started_at; an earlier `initiated` is on the timeline as a poll or
    callback report), not when the whole list was reserved: calls waiting their turn in a long
    list are not stuck. One the provider never starts is given up on after
    PROVIDER_BATCH_MAX_WAIT_SECONDS from the batch's start. A reserved list that never reached
    the provider ("pending" after a crash) keeps the dial-claim clock, so its calls are failed.
    """
    now = now or timezone.now()
    speed = _sync_speed()
    cutoff = now - timedelta(seconds=adapter_class(kind).call_deadline_seconds())
    live = Call.objects.filter(provider=kind, status__in=ACTIVE)
    single = live.filter(dial_claimed_at__lt=cutoff).filter(
        Q(batch__isnull=True) | ~Q(batch__mode="provider") | Q(batch__provider_batch_id__in=["", "pending"]))
    first_dialing = (CallEvent.objects.filter(
        call=OuterRef("pk"), source__in=[EventSource.POLL, EventSource.CALLBACK],
        status__in=[CallStatus.INITIATED, CallStatus.RINGING, CallStatus.IN_PROGRESS])
        .order_by("created_at").values("created_at")[:1])
    wait = float(getattr(settings, "PROVIDER_BATCH_MAX_WAIT_SECONDS", PROVIDER_BATCH_MAX_WAIT_SECONDS)) / speed
    wait_cutoff = now - timedelta(seconds=wait)
    batched = (live.filter(_in_provider_batch())
               .annotate(handed=Coalesce("started_at", Subquery(first_dialing)))
               .filter(Q(handed__lt=cutoff)
                       | Q(handed__isnull=True, dial_claimed_at__lt=wait_cutoff)
                       & (Q(batch__start_at__isnull=True) | Q(batch__start_at__lt=wait_cutoff))))
    return single, batched


def sweep_stale_calls(limit: int = 500) -> int:
    """Enqueue reconciliation of live calls that ran past their provider's maximum length."""
    # Not at the top: callops.calls.jobs imports this module (cycle calls.jobs -> calls.status_sync).
    from .jobs import reconcile_stale_job

    now = timezone.now()
    found = 0
    for kind in KINDS:
        single, batched = stale_calls(kind, now)
        stale = list(single.values_list("pk", flat=True)[:limit])
        stale += list(batched.values_list("pk", flat=True)[:limit])
        for pk in stale:
            enqueue(reconcile_stale_job, pk, queue="calls", job_id=f"reconcile-stale-{pk}")
        found += len(stale)
    return found
