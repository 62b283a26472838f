"""Running a batch: calling windows, pacing, retries, the circuit breaker, and the tick that applies them.

A tick (one batch, under its row lock) does, in order:
1. starts a scheduled batch whose time has come;
2. reaps finished attempts: a recipient whose call ended either gets another attempt at a due
   time (retry policy) or is done with that outcome;
3. checks the circuit breaker and pauses the batch, saying why, when too many calls fail;
4. dispatches due recipients whose calling window is open in their own time zone, as many as the
   concurrency cap and the pacing token bucket allow: each dispatch is a new Call row (attempt n,
   retry_of the previous attempt) created in the same transaction that marks the recipient dialing;
5. completes the batch when no recipient is waiting or dialing.

Why no recipient is dialed twice: a recipient attempt becomes a Call row exactly once (the
conditional UPDATE on the recipient's state and attempt count), and a Call row is dialed at most
once (`services.claim_for_dialing`). Jobs only carry ids; if Redis or a worker is lost, the
sweep finds the rows again: ticks run in the sweeper itself (jobs.sweep_batches), and an
attempt whose placement job was lost is re-enqueued by the next tick (`_lost_placements`).

A tick only writes rows; the jobs it calls for (placements, a provider batch's reservation and
reads) are enqueued by its caller, `jobs.tick_batch`, so this module needs no queue.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from callops.accounts.services import audit
from callops.calls import services
from callops.calls.models import TERMINAL, Call, CallStatus, EventSource
from callops.lib import number_zones, redisconn
from callops.rules import gate
from callops.rules import policy as calling_policy
from callops.rules.gate import CallRefused, NumberBusy

from . import provider_mode, provider_sync
from .models import Batch, BatchRecipient, BatchStatus, RecipientState
from .signals import announce

log = logging.getLogger(__name__)

DISPATCH_LIMIT = 500  # attempts created per tick; the next tick continues
REAP_LIMIT = 5000
BURST_SECONDS = 5.0  # the token bucket holds at most this many seconds of pacing
LOST_AFTER_SECONDS = 10  # a queued attempt not claimed by then had its placement job lost


# --- calling windows --------------------------------------------------------------------------------

def recipient_zones(batch: Batch, zones: str) -> list[ZoneInfo]:
    """The zones a recipient's window is read in: its own (at most MAX_ZONES of them),
    else the batch's default zone (callops.lib.number_zones.window_zones)."""
    return number_zones.window_zones(zones, batch.default_timezone)


def _zone(name: str, default="UTC"):
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return ZoneInfo(default) if default else None


def window_hours(batch: Batch) -> int:
    if batch.window_start_hour is None:
        return 24
    assert batch.window_end_hour is not None  # the window's two hours are set together (batch_settings)
    return batch.window_end_hour - batch.window_start_hour


def window_open(batch: Batch, zones: str, now: datetime) -> bool:
    """Is `now` inside the batch's calling window for a recipient with these zones?

    A number on a zone border (a few zones) is called only when the window is open in each of its
    zones, so nobody is rung too early or too late. When its zones are so far apart that no hour
    is inside the window in all of them (a 1-hour window across a 1-hour border), the batch's
    default zone decides instead: a recipient must always get some open hours, or the batch
    would never finish.
    """
    if batch.window_start_hour is None and not batch.window_days:
        return True
    tzs = recipient_zones(batch, zones)
    if len(tzs) > 1:
        # An aware datetime always has an offset.
        offsets = [cast(timedelta, now.astimezone(tz).utcoffset()).total_seconds() for tz in tzs]
        if (max(offsets) - min(offsets)) / 3600 >= window_hours(batch):
            tzs = [_zone(batch.default_timezone)]
    for tz in tzs:
        local = now.astimezone(tz)
        if batch.window_days and local.isoweekday() not in batch.window_days:
            return False
        if batch.window_start_hour is not None and not (
                batch.window_start_hour <= local.hour < cast(int, batch.window_end_hour)):
            return False
    return True


def open_zones(batch: Batch, now: datetime) -> list[str] | None:
    """Recipient zone strings whose window is open now; None when every zone is open."""
    zones = batch.timezones or [""]
    allowed = [z for z in zones if window_open(batch, z, now)]
    return None if len(allowed) == len(zones) else allowed


@dataclass
class Tick:
    """What one tick did (`result`, the job's return value) and the work it leaves for jobs, which
    the caller enqueues once the tick's transaction has committed (jobs.tick_batch)."""

    result: dict
    new_calls: list[int] = field(default_factory=list)  # attempts to place
    reserve: bool = False  # a provider batch's list is to be reserved and submitted
    sync: bool = False  # a provider batch is due to be read back


def tick(batch_id: int, *, now: datetime | None = None) -> Tick:
    """One pass over a batch under its row lock (see the module docstring)."""
    now = now or timezone.now()
    done = Tick({"reaped": 0, "dispatched": 0})
    result = done.result
    with transaction.atomic():
        # FOR NO KEY UPDATE: the tick changes no key of the batch row, and the stronger FOR UPDATE
        # blocked the foreign key check (FOR KEY SHARE) that a status change of one of the batch's
        # calls runs at its commit (Django's foreign keys are deferred). That change holds the
        # rollup rows the tick's new calls count in, so the two deadlocked
        # (tests/batches/test_tick_lock_order.py).
        batch = Batch.objects.select_for_update(no_key=True).filter(pk=batch_id).first()
        if batch is None:
            return done
        if batch.status == BatchStatus.SCHEDULED and (batch.start_at is None or batch.start_at <= now):
            Batch.objects.filter(pk=batch.pk).update(status=BatchStatus.RUNNING, started_at=now, pace_updated_at=now,
                                                     pace_tokens=1.0, updated_at=now)
            batch.refresh_from_db()
            announce(batch, "batch.started")
        if batch.status not in (BatchStatus.RUNNING, BatchStatus.PAUSED, BatchStatus.STOPPED) or batch.finished_at:
            return done
        result["reaped"] = _reap(batch, now)
        provider = batch.mode == Batch.Mode.PROVIDER
        if batch.status == BatchStatus.RUNNING and not _trip_breaker(batch, now):
            if provider_mode.needs_reservation(batch):
                # A whole list can be 100,000 calls: reserved by a job, chunk by chunk, never here
                # under this lock in the sweeper.
                done.reserve = True
            else:
                done.new_calls = _dispatch(batch, now)
                result["dispatched"] = len(done.new_calls)
        if batch.status in (BatchStatus.RUNNING, BatchStatus.PAUSED):
            done.new_calls += _lost_placements(batch, now)
        done.sync = provider and batch.provider_batch_id not in ("", provider_mode.PENDING) and \
            batch.status in (BatchStatus.RUNNING, BatchStatus.PAUSED, BatchStatus.STOPPED) and \
            provider_sync.due_for_sync(batch)
        result["status"] = _maybe_finish(batch, now)
    return done


def _retry_delay(batch: Batch, attempts_made: int) -> float:
    intervals = batch.retry_intervals or [300]
    return float(intervals[min(attempts_made - 1, len(intervals) - 1)])


def _reap(batch: Batch, now: datetime) -> int:
    """Recipients whose live attempt ended: schedule the next attempt or mark them done."""
    rows = list(BatchRecipient.objects.filter(batch=batch, state=RecipientState.DIALING,
                                              last_call__status__in=list(TERMINAL))
                .values_list("pk", "attempts", "last_call__status")[:REAP_LIMIT])
    done: dict[str, list[int]] = {}
    retry: dict[int, list[int]] = {}
    may_retry = batch.status != BatchStatus.STOPPED
    for pk, attempts, status in rows:
        if may_retry and status in (batch.retry_on or []) and attempts < batch.max_attempts:
            retry.setdefault(attempts, []).append(pk)
        else:
            done.setdefault(status, []).append(pk)
    for status, pks in done.items():
        BatchRecipient.objects.filter(pk__in=pks, state=RecipientState.DIALING).update(
            state=RecipientState.DONE, outcome=status)
    for attempts, pks in retry.items():
        BatchRecipient.objects.filter(pk__in=pks, state=RecipientState.DIALING).update(
            state=RecipientState.PENDING, next_attempt_at=now + timedelta(seconds=_retry_delay(batch, attempts)))
    return len(rows)


def _trip_breaker(batch: Batch, now: datetime) -> bool:
    """Pause the batch when the failure rate over the rolling window passes the threshold."""
    if batch.breaker_threshold is None:
        return False
    since = now - timedelta(seconds=batch.breaker_window_seconds)
    for floor in (batch.breaker_reset_at, batch.started_at):
        if floor and floor > since:
            since = floor
    ended = Call.objects.filter(batch=batch, status__in=[CallStatus.COMPLETED, CallStatus.NO_ANSWER,
                                                         CallStatus.BUSY, CallStatus.FAILED],
                                ended_at__gte=since)
    agg = ended.aggregate(total=Count("id"), failed=Count("id", filter=Q(status=CallStatus.FAILED)))
    total, failed = agg["total"], agg["failed"]
    if total < batch.breaker_min_calls or failed / total <= batch.breaker_threshold:
        return False
    reason = (f"circuit breaker: {failed} of the last {total} calls failed ({100 * failed / total:.0f}%) within "
              f"{batch.breaker_window_seconds}s, over the {100 * batch.breaker_threshold:.0f}% threshold")
    Batch.objects.filter(pk=batch.pk).update(status=BatchStatus.PAUSED, pause_reason=reason[:500], updated_at=now)
    batch.refresh_from_db()
    log.warning("batch %s paused: %s", batch.public_id, reason)
    announce(batch, "batch.paused")
    return True


def _dispatch(batch: Batch, now: datetime) -> list[int]:
    """Create the next attempts allowed by the concurrency cap, pacing and calling windows."""
    dialing = BatchRecipient.objects.filter(batch=batch, state=RecipientState.DIALING).count()
    slots = batch.max_concurrency - dialing
    rate = batch.calls_per_minute / 60.0
    elapsed = max((now - (batch.pace_updated_at or now)).total_seconds(), 0.0)
    tokens = min(max(1.0, rate * BURST_SECONDS), batch.pace_tokens + elapsed * rate)
    n = min(slots, int(tokens), DISPATCH_LIMIT)
    created: list[int] = []
    if n > 0:
        due = BatchRecipient.objects.filter(batch=batch, state=RecipientState.PENDING).filter(
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        zones = open_zones(batch, now)
        if zones is not None:
            due = due.filter(tz__in=zones)
        agent = batch.agent
        org = batch.organization
        rules = calling_policy.get(org)  # read once for the whole tick
        for r in _candidates(due, n, lambda: len(created)):
            try:
                # Closed hours first, before a call row is made only to be rolled back.
                gate.check_hours(org, r.phone, now, fallback_zone=batch.default_timezone, rules=rules)
            except CallRefused as closed:
                BatchRecipient.objects.filter(pk=r.pk, state=RecipientState.PENDING).update(
                    next_attempt_at=closed.retry_at)
                continue
            try:
                with transaction.atomic():
                    won = BatchRecipient.objects.filter(pk=r.pk, state=RecipientState.PENDING,
                                                        attempts=r.attempts).update(
                        state=RecipientState.DIALING, attempts=F("attempts") + 1, next_attempt_at=None)
                    if not won:
                        continue
                    call = services.create_call(
                        org=org, agent=agent, to_number=r.phone, source=EventSource.SYSTEM, context=r.context,
                        metadata={"batch_id": str(batch.public_id), "batch_row": r.row_number}, batch=batch,
                        retry_of=Call(pk=r.last_call_id) if r.last_call_id else None, attempt=r.attempts + 1,
                        routing_profile=batch.routing_profile)
                    # The calling rules' caps and hours; a number suppressed since the import is
                    # let through here and canceled at dial time, so its call's timeline says why.
                    # Without waiting for a number's lock: this tick holds the locks of the numbers
                    # it admitted until it commits, and two ticks waiting on each other would deadlock.
                    gate.admit(org, r.phone, call_public_id=call.public_id, now=now,
                               fallback_zone=batch.default_timezone, check_suppression=False, wait=False,
                               rules=rules)
            except NumberBusy:
                continue  # another call to the number is being admitted: the next tick asks again
            except CallRefused as refused:
                # Deferred, not rejected: the recipient waits, untouched, until the rule allows it.
                BatchRecipient.objects.filter(pk=r.pk, state=RecipientState.PENDING).update(
                    next_attempt_at=refused.retry_at)
                audit(org, "batch.recipient_deferred", target=r.phone,
                      detail={"code": refused.code, "message": refused.message, "batch_id": str(batch.public_id),
                              "row": r.row_number,
                              "retry_at": refused.retry_at.isoformat() if refused.retry_at else None})
                continue
            # No scheduled_at: the generic scheduled-call sweep would race the pacer with a job per
            # call; the tick re-enqueues lost placements itself (_lost_placements).
            BatchRecipient.objects.filter(pk=r.pk).update(last_call=call)
            created.append(call.pk)
    Batch.objects.filter(pk=batch.pk).update(pace_tokens=tokens - len(created), pace_updated_at=now)
    return created


def _candidates(due, n: int, made: Callable[[], int]) -> Iterator[BatchRecipient]:
    """Due recipients in id order, a page of n at a time until n attempts are made: the calling
    rules hold some back, and the next ones fill their places (at most DISPATCH_LIMIT read)."""
    last_pk, read = 0, 0
    while made() < n and read < DISPATCH_LIMIT:
        page = list(due.filter(pk__gt=last_pk).order_by("id")[:min(n - made(), DISPATCH_LIMIT - read)])
        if not page:
            return
        read += len(page)
        for r in page:
            last_pk = r.pk
            yield r


def _maybe_finish(batch: Batch, now: datetime) -> str:
    if BatchRecipient.objects.filter(batch=batch, state__in=[RecipientState.PENDING, RecipientState.DIALING]).exists():
        return batch.status
    if batch.status == BatchStatus.STOPPED:
        Batch.objects.filter(pk=batch.pk).update(finished_at=now, updated_at=now)
        return batch.status
    outcomes = set(BatchRecipient.objects.filter(batch=batch).values_list("outcome", flat=True).distinct())
    final = BatchStatus.FAILED if outcomes == {CallStatus.FAILED} else BatchStatus.COMPLETED
    won = Batch.objects.filter(pk=batch.pk, status__in=[BatchStatus.RUNNING, BatchStatus.PAUSED]).update(
        status=final, finished_at=now, updated_at=now,
        pause_reason="every call failed" if final == BatchStatus.FAILED else "")
    if won:
        batch.refresh_from_db()
        announce(batch, "batch.completed")
    return batch.status


def _lost_placements(batch: Batch, now: datetime) -> list[int]:
    """Attempts created a while ago and still neither claimed nor canceled: their job was lost
    (Redis restarted, a worker died before taking it). At most once per LOST_AFTER_SECONDS per
    batch, so a slow queue is not flooded with copies of jobs that are merely waiting."""
    ids = list(Call.objects.filter(batch=batch, status=CallStatus.QUEUED, dial_claimed_at__isnull=True,
                                   created_at__lt=now - timedelta(seconds=LOST_AFTER_SECONDS))
               # A call the calling rules deferred (scheduled_at ahead) is not lost: it is waiting.
               .filter(Q(scheduled_at__isnull=True) | Q(scheduled_at__lte=now))
               .values_list("pk", flat=True)[:DISPATCH_LIMIT])
    if not ids:
        return []
    try:
        first = redisconn.client().set(f"callops:batch-requeue:{batch.pk}", "1", nx=True,
                                                      ex=LOST_AFTER_SECONDS)
    except Exception:
        return []  # Redis is down: nothing could be enqueued anyway
    return ids if first else []
