"""Endpoint health: failing/recovered tracking, auto-disable, and notices to the organization.

Rules (from the Svix behaviour, with its gaps closed):
- attempts are applied in the order they were made: a failure starts `failing_since`, any later
  success clears it (so a batch that holds a failure and then a success ends healthy);
- a failure more than STREAK_GAP after the previous one starts a new streak: one exhausted
  delivery followed by quiet days is not "failing for days";
- the org is told the endpoint is failing when it turns Failing (the first failure of a streak,
  the moment the Webhooks page starts saying so), once per failing period, and told again when it
  recovers; waiting for a delivery's 4th attempt left a page saying Failing for half an hour before
  anyone was told;
- a delivery that runs out of retries sends an "exhausted" notice (at most one an hour per
  endpoint); a receiver that answers `webhook-delivery: abort-message` chose to stop that message,
  which says nothing about the endpoint's health, so it neither counts as a failure nor notifies;
- when an endpoint recovers (an attempt succeeds after failures, and the endpoint is not failing
  again by the end of the batch), its deliveries waiting for a back-off are brought forward
  (`nudge_waiting`): spread at WEBHOOK_RECOVERY_NUDGE_PER_SECOND, at most NUDGE_MAX of them, never
  later than they already were, so the backlog goes out within seconds without a thundering herd;
- 410 Gone disables the endpoint; so does failing for WEBHOOK_DISABLE_AFTER_SECONDS (5 days) with
  no success: the most recent attempt failed, the streak began 5 days ago or more, and the endpoint
  is still being tried (an attempt within STREAK_GAP, or retries pending);
- a disabled endpoint's pending deliveries become `skipped` (kept, re-sendable), and the org is told.
Notices are Notification rows for the dashboard plus an email to owners and admins.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Case, DateTimeField, Exists, F, OuterRef, Q, Value, When
from django.db.models.functions import Least
from django.utils import timezone

from callops.accounts.models import Membership, Role
from callops.webhooks import call_summary
from callops.webhooks.models import (
    DeliveryStatus,
    Notification,
    WebhookDelivery,
    WebhookEndpoint,
    lock_in_id_order,
)

log = logging.getLogger(__name__)

EXHAUSTED_NOTICE_INTERVAL = timedelta(hours=1)
# The retry schedule never leaves more than 10 h between attempts, so a day without any attempt
# means nothing was being tried: the next failure starts a new streak.
STREAK_GAP = timedelta(days=1)
# Waiting deliveries one recovery brings forward (the rest keep their back-off, and a later bulk
# "retry now" or their own schedule sends them): 2 minutes of sending at the default pace.
NUDGE_MAX = 600


def disable_after() -> timedelta:
    return timedelta(seconds=settings.WEBHOOK_DISABLE_AFTER_SECONDS)


def _long_failing_reason() -> str:
    return f"failing with no successful delivery for {settings.WEBHOOK_DISABLE_AFTER_SECONDS // 3600} hours"


def recipients(org) -> list[str]:
    out = []
    for m in Membership.objects.filter(organization=org, role__in=[Role.OWNER, Role.ADMIN]).select_related("user"):
        address = m.user.email or (m.user.username if "@" in m.user.username else "")
        if address:
            out.append(address)
    return sorted(set(out))


def notify(endpoint: WebhookEndpoint, kind: str, message: str) -> Notification:
    note = Notification.objects.create(organization_id=endpoint.organization_id, endpoint=endpoint, kind=kind,
                                       message=message)
    org = endpoint.organization

    def _mail():
        to = recipients(org)
        if not to:
            return
        try:
            send_mail(f"[callops] Webhook endpoint {Notification.Kind(kind).label.lower()}: {endpoint.url}",
                      f"{message}\n\nEndpoint: {endpoint.url}\nOrganization: {org.name}\n",
                      settings.DEFAULT_FROM_EMAIL, to)
        except Exception:  # mail trouble must not undo the delivery bookkeeping
            log.warning("could not email webhook notice for endpoint %s", endpoint.pk, exc_info=True)

    transaction.on_commit(_mail)
    return note


def disable(endpoint: WebhookEndpoint, reason: str, *, notify_org: bool = True) -> bool:
    """Disable the endpoint (if still enabled); its pending deliveries become skipped."""
    now = timezone.now()
    with transaction.atomic():
        won = WebhookEndpoint.objects.filter(pk=endpoint.pk, enabled=True).update(
            enabled=False, disabled_reason=reason[:300], disabled_at=now, updated_at=now)
        if not won:
            return False
        held = Q(endpoint=endpoint, status=DeliveryStatus.PENDING)
        call_ids = call_summary.calls_touched_by(held)
        WebhookDelivery.objects.filter(held).update(
            status=DeliveryStatus.SKIPPED, next_attempt_at=None, last_error="endpoint disabled", updated_at=now)
        call_summary.sync_call_status(call_ids)
        endpoint.refresh_from_db()
        if notify_org:
            notify(endpoint, Notification.Kind.DISABLED, f"Webhook endpoint {endpoint.url} was disabled: {reason}")
    return True


@dataclass(slots=True)
class Result:
    """What one attempt says about its endpoint's health."""

    at: datetime
    ok: bool
    gone: bool = False
    aborted: bool = False
    final: bool = False  # the delivery ran out of automatic retries
    error: str = ""
    event_type: str = ""
    delivery_public_id: str = ""


def lock(results: dict[int, list[Result]]) -> dict[int, WebhookEndpoint]:
    """First step, before the delivery rows are written: settle the common case and lock the rest.

    An endpoint with only successes whose row *in the database* shows no failure gets one
    conditional UPDATE (no stale in-memory row decides it). Every other endpoint is locked, in id
    order (so two writers cannot deadlock), and returned for `apply`.

    The lock is FOR NO KEY UPDATE, the mode an UPDATE of these columns takes anyway: it serialises
    the writers of an endpoint's health but lets a status change insert a delivery for the endpoint
    meanwhile (the foreign key check takes FOR KEY SHARE). A FOR UPDATE lock blocked that insert,
    and since a status change locks its call before it fans out and the recorder locks the calls
    after this, the two deadlocked (tests/webhooks/test_record_lock_order.py).
    """
    locked = {}
    for endpoint_id in sorted(results):
        rs = results[endpoint_id]
        if all(r.ok for r in rs):
            newest = max(r.at for r in rs)
            if WebhookEndpoint.objects.filter(pk=endpoint_id, failing_since__isnull=True,
                                              failing_notified=False).update(last_success_at=newest):
                continue
        endpoint = WebhookEndpoint.objects.select_for_update(no_key=True).filter(pk=endpoint_id).first()
        if endpoint is not None:
            locked[endpoint_id] = endpoint
    return locked


def apply(locked: dict[int, WebhookEndpoint], results: dict[int, list[Result]]) -> None:
    """Second step: walk each locked endpoint's attempts in the order they were made."""
    for endpoint_id, endpoint in locked.items():
        _walk(endpoint, sorted(results[endpoint_id], key=lambda r: r.at))


def _walk(endpoint: WebhookEndpoint, results: list[Result]) -> None:
    failing_since, notified = endpoint.failing_since, endpoint.failing_notified
    last_failure, last_success = endpoint.last_failure_at, endpoint.last_success_at
    exhausted_at = endpoint.exhausted_notified_at
    streak = endpoint.consecutive_failures
    notices: list[tuple[str, str]] = []
    disable_reason = ""
    recovered_at = None
    for r in results:
        if r.aborted and not r.gone:
            continue
        if r.ok:
            if streak or failing_since is not None:
                recovered_at = r.at
            last_success = r.at
            if notified:
                notices.append((Notification.Kind.RECOVERED,
                                f"Webhook endpoint {endpoint.url} is receiving deliveries again."))
            failing_since, notified, streak = None, False, 0
            continue
        streak += 1
        recovered_at = None  # failing again: the backlog waits for its back-off
        if failing_since is None or (last_failure is not None and r.at - last_failure > STREAK_GAP):
            failing_since, notified = r.at, False
        last_failure = r.at
        if r.gone:
            disable_reason = f"the endpoint answered 410 Gone to delivery {r.delivery_public_id}"
            break
        if not notified:
            notified = True
            notices.append((Notification.Kind.FAILING,
                            f"Deliveries to {endpoint.url} are failing (last error: {r.error[:300]}). "
                            f"Retries continue; the endpoint is disabled after "
                            f"{settings.WEBHOOK_DISABLE_AFTER_SECONDS // 86400 or 1} day(s) without a success."))
        if r.final and (exhausted_at is None or exhausted_at < r.at - EXHAUSTED_NOTICE_INTERVAL):
            exhausted_at = r.at
            notices.append((Notification.Kind.EXHAUSTED,
                            f"A {r.event_type} delivery to {endpoint.url} failed after every retry "
                            f"(last error: {r.error[:300]}). It can be re-sent from the dashboard or the API."))
        if failing_since <= r.at - disable_after():
            disable_reason = _long_failing_reason()
            break
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=failing_since, failing_notified=notified, last_failure_at=last_failure,
        last_success_at=last_success, exhausted_notified_at=exhausted_at, consecutive_failures=streak)
    for kind, message in notices:
        notify(endpoint, kind, message)
    if disable_reason:
        disable(endpoint, disable_reason)
    elif recovered_at is not None:
        nudge_waiting(endpoint.pk, recovered_at)


def nudge_waiting(endpoint_id: int, now: datetime, *, per_second: int | None = None,
                  limit: int = NUDGE_MAX) -> int:
    """Bring forward an endpoint's deliveries waiting for an automatic retry; returns how many moved.

    Soonest due first, `per_second` of them share each second from `now` on (the first ones are due
    at once); a delivery already due sooner keeps its time. Their place in the retry schedule is
    unchanged, so one that fails again backs off as it would have. Runs inside the recording
    transaction with the endpoint row locked, like the rest of the health bookkeeping.
    """
    per_second = max(1, per_second or settings.WEBHOOK_RECOVERY_NUDGE_PER_SECOND)
    ids = list(WebhookDelivery.objects.filter(
        endpoint_id=endpoint_id, status=DeliveryStatus.PENDING, attempt_count__gt=0, next_attempt_at__gt=now,
    ).order_by("next_attempt_at", "id").values_list("pk", flat=True)[:limit])
    if not ids:
        return 0
    slots = [When(pk__in=ids[i:i + per_second], then=Value(now + timedelta(seconds=i // per_second)))
             for i in range(0, len(ids), per_second)]
    lock_in_id_order(ids)
    # One statement whatever the backlog: each id's slot is a CASE branch.
    WebhookDelivery.objects.filter(pk__in=ids).update(
        next_attempt_at=Least(F("next_attempt_at"), Case(*slots, output_field=DateTimeField())), updated_at=now)
    log.info("endpoint %s recovered: %d waiting deliveries brought forward", endpoint_id, len(ids))
    return len(ids)


def long_failing():
    """Enabled endpoints that are failing, not merely quiet after failures (see the module docstring)."""
    now = timezone.now()
    retries_pending = WebhookDelivery.objects.filter(endpoint=OuterRef("pk"), status=DeliveryStatus.PENDING,
                                                     attempt_count__gt=0, next_attempt_at__isnull=False)
    return WebhookEndpoint.objects.filter(enabled=True, failing_since__lte=now - disable_after()).filter(
        Q(last_failure_at__gte=now - STREAK_GAP) | Exists(retries_pending))


def disable_long_failing() -> int:
    """Sweep step: disable endpoints whose failure streak outlived the window between two attempts."""
    count = 0
    for endpoint in long_failing():
        count += disable(endpoint, _long_failing_reason())
    return count
