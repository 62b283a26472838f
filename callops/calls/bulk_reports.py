"""Applying many provider reports in one transaction: how a sync job brings a backlog up to date.

A call moved by `services.apply_status` costs its own transaction: about ten statements (read the
status, lock and snapshot the row for the rollups, the conditional UPDATE, read it back, two rollup
UPDATEs, the timeline INSERT) and a commit, and every call of one agent, hour and status updates
the same two rollup rows. `apply_reports` applies a job's reports together instead:

- one SELECT ... FOR UPDATE of all the calls (in pk order, as every multi-row write locks them),
  so each report is judged against the row as it is and nobody moves it until the commit: the
  same forward-only rule as apply_status, decided under the lock rather than by a conditional
  UPDATE that may lose a race;
- the common change (a live call moving forward to another live status) is written with one
  UPDATE per set of changed columns and one INSERT for all the timeline rows; its side effects
  (the webhook event of ringing and answered, the answered-call cap) run per call, as in
  apply_status, inside the transaction;
- anything else (a terminal status with its cost, duration and extraction; an ignored or stale
  report; a raw-status change within one rank) goes through `status_sync.apply_provider_report`,
  in the same transaction;
- the rollup deltas of the whole transaction are added up and written just before the commit,
  one UPDATE per distinct rollup tuple (`rollups.deferred`).

If the transaction fails (a deadlock, a bad report), nothing of it is kept and every report is
applied again on its own, each in its own transaction, so one bad call costs the others nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from callops.providers.base import StatusReport

from . import rollups
from . import services as call_services
from .models import ACTIVE, RANK, TERMINAL, Call, CallEvent, CallStatus

log = logging.getLogger(__name__)

Applier = Callable[[Call, StatusReport], Call]


def apply_reports(items: Sequence[tuple[Call, StatusReport]], *, source: str,
                  one: Applier) -> dict[int, Call | Exception]:
    """Apply each (call, report) pair; returns {call id: the call as written, or the error}.

    `one(call, report)` applies a single report the long way (status_sync.apply_provider_report,
    passed in because status_sync imports this module). Calls that no longer exist are left out.
    """
    if not items:
        return {}
    try:
        with transaction.atomic(), rollups.deferred():
            return dict(_apply_together(items, source=source, one=one))
    except Exception:
        log.warning("applying %d reports together failed; applying them one by one", len(items), exc_info=True)
    done: dict[int, Call | Exception] = {}
    for call, report in items:
        try:
            done[call.pk] = one(call, report)
        except Call.DoesNotExist:
            continue
        except Exception as exc:  # this call stays due (its lease runs out) and is polled again
            log.exception("applying the report for call %s failed", call.pk)
            done[call.pk] = exc
    return done


def _apply_together(items: Sequence[tuple[Call, StatusReport]], *, source: str, one: Applier):
    pks = sorted({call.pk for call, _ in items})
    locked = {c.pk: c for c in Call.objects.select_related("agent", "organization", "provider_account")
              .select_for_update(of=("self",)).filter(pk__in=pks).order_by("pk")}
    now = timezone.now()
    moved: list[tuple[Call, str, str]] = []   # (call, from, to) written in bulk
    events: list[CallEvent] = []
    by_columns: dict[tuple[str, ...], list[Call]] = {}
    for call, report in items:
        fresh = locked.get(call.pk)
        if fresh is None:
            continue
        update = _simple_move(fresh, report, now)
        if update is None:
            yield fresh.pk, one(fresh, report)
            continue
        current = fresh.status
        for name, value in update.items():
            setattr(fresh, name, value)
        by_columns.setdefault(tuple(sorted(update)), []).append(fresh)
        events.append(CallEvent(call=fresh, created_at=report.occurred_at or now, source=source,
                                from_status=current, status=report.status, raw_status=(report.raw_status or "")[:100],
                                reason=report.reason or "", note="", payload=report.payload))
        moved.append((fresh, current, report.status))
    for columns, calls in by_columns.items():
        # Through the Call queryset, so the rollups see the change (their deltas wait in `deferred`).
        Call.objects.bulk_update(calls, list(columns))
    CallEvent.objects.bulk_create(events)
    for fresh, old, new in moved:
        call_services.after_status_change(fresh, old, new)
        yield fresh.pk, fresh


def _simple_move(call: Call, report: StatusReport, now) -> dict[str, Any] | None:
    """The columns a report writes when it moves a live call forward to another live status, or
    None when it is not that simple case (apply_status then judges it)."""
    new = report.status
    if call.status not in ACTIVE or new not in ACTIVE or new in TERMINAL or RANK[new] <= RANK[call.status]:
        return None
    details = call_services.detail_values(call_services.report_fields(call, report), report.raw_status or "",
                                          report.reason or "")
    if details.keys() & call_services.BILLING_FIELDS:
        return None  # a cost figure: cost.settle decides what it replaces
    at = report.occurred_at or now
    update: dict[str, Any] = dict(details, status=CallStatus(new), updated_at=now)
    # As apply_status's Coalesce(F(...), at), judged here because the row is locked.
    if new in call_services.RANG and call.started_at is None:
        update["started_at"] = at
    if new == CallStatus.IN_PROGRESS and call.answered_at is None:
        update["answered_at"] = at
    return update
