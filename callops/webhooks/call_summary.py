"""A call's webhook state (`Call.webhook_status` / `webhook_error`), summarised over all its deliveries.

The rule, also in the README:
- every destination counts: the call's own webhook URL (per call or from its agent) and every
  endpoint that was sent one of its events;
- per destination, only the latest delivery counts: each event carries the whole call, so a
  receiver that got the latest one is up to date whatever happened to an older one;
- the call shows the worst of those: `failed` (failed, or held for a disabled endpoint) >
  `retrying` (an attempt failed, automatic retries are due) > `pending` (not tried yet) >
  `delivered`; blank when the call has no delivery at all;
- `webhook_error` is the last error of the delivery that set the state (blank when delivered).

The field is stored and indexed so the calls list and `GET /v1/calls?webhook_status=` filter on a
column instead of a per-row subquery; every writer that changes a delivery's status (fan-out,
recording attempts, disabling or deleting an endpoint) calls `sync_call_status` in its transaction.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Case, CharField, Q, TextField, Value, When

from callops.calls.models import Call, WebhookStatus
from callops.webhooks.models import DeliveryStatus, WebhookDelivery

# Worst first: the summary is the lowest rank among the destinations' latest deliveries.
RANK: dict[str, int] = {WebhookStatus.FAILED: 0, WebhookStatus.RETRYING: 1, WebhookStatus.PENDING: 2, WebhookStatus.DELIVERED: 3}


def delivery_state(status: str, attempt_count: int) -> str:
    """One delivery's contribution to its call's state."""
    if status == DeliveryStatus.DELIVERED:
        return WebhookStatus.DELIVERED
    if status == DeliveryStatus.PENDING:
        return WebhookStatus.RETRYING if attempt_count > 0 else WebhookStatus.PENDING
    return WebhookStatus.FAILED  # failed, or skipped (held for a disabled endpoint)


def summarize(rows: Iterable[tuple]) -> tuple[str, str]:
    """(state, error) from one call's deliveries as (id, endpoint_id, status, attempt_count, last_error).

    A pure function of plain values, so the backfill migration uses the same rule.
    """
    latest: dict[object, tuple] = {}
    for row in rows:
        dest = row[1]
        if dest not in latest or row[0] > latest[dest][0]:
            latest[dest] = row
    if not latest:
        return "", ""
    worst = min(latest.values(), key=lambda r: (RANK[delivery_state(r[2], r[3])], -r[0]))
    state = delivery_state(worst[2], worst[3])
    return state, "" if state == WebhookStatus.DELIVERED else (worst[4] or "")[:2000]


_FIELDS = ("call_id", "id", "endpoint_id", "status", "attempt_count", "last_error")


def sync_call_status(call_ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """Recompute the state of the given calls; returns {call pk: (state, error)}.

    The call rows are locked first (in id order), then their deliveries are read: a new event's
    deliveries (written under the same lock by the fan-out) cannot be overwritten by a result read
    before them.
    """
    ids = sorted(set(call_ids))
    if not ids:
        return {}
    current = {pk: (status, error) for pk, status, error in Call.objects.select_for_update().filter(
        pk__in=ids).order_by("pk").values_list("pk", "webhook_status", "webhook_error")}
    per_call: dict[int, list[tuple]] = {pk: [] for pk in current}
    for call_id, *rest in WebhookDelivery.objects.filter(call_id__in=ids).values_list(*_FIELDS):
        per_call[call_id].append(tuple(rest))
    out = {pk: summarize(rows) for pk, rows in per_call.items()}
    changed = {pk: state for pk, state in out.items() if state != current[pk]}
    if len(changed) == 1:
        ((pk, (state, error)),) = changed.items()
        Call.objects.filter(pk=pk).update(webhook_status=state, webhook_error=error)
    elif changed:
        # One UPDATE for every changed call, so the rollup rows they move between are taken in one
        # pass in key order (rollups.apply), the order every other rollup writer takes them in.
        # One UPDATE per call took them call by call, and a writer taking two of the same rows in
        # key order deadlocked with this one (tests/webhooks/test_record_lock_order.py).
        Call.objects.filter(pk__in=list(changed)).update(
            webhook_status=Case(*[When(pk=pk, then=Value(state)) for pk, (state, _) in changed.items()],
                                output_field=CharField()),
            webhook_error=Case(*[When(pk=pk, then=Value(error)) for pk, (_, error) in changed.items()],
                               output_field=TextField()))
    return out


def calls_touched_by(deliveries: Q) -> list[int]:
    """Ids of calls with a delivery matching `deliveries` whose state is not already `delivered`
    (removing or failing such a destination can change only those)."""
    return list(WebhookDelivery.objects.filter(deliveries, call__isnull=False).exclude(
        call__webhook_status=WebhookStatus.DELIVERED).values_list("call_id", flat=True).distinct())
