"""Endpoint health: failing/recovered tracking, auto-disable, and notices to the organization.

Rules (from the Svix behaviour, with its gaps closed):
- the first failure starts `failing_since`; any success clears it;
- after a delivery's 4th failed automatic attempt the org is told the endpoint is failing (once
  per failing period), and told again when it recovers;
- a delivery that runs out of retries sends an "exhausted" notice (at most one an hour per endpoint);
- 410 Gone, or failing with no success for WEBHOOK_DISABLE_AFTER_SECONDS (5 days), disables the
  endpoint; its pending deliveries become `skipped` (kept, re-sendable), and the org is told.
Notices are Notification rows for the dashboard plus an email to owners and admins.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from callops.webhooks.models import DeliveryStatus, Notification, Trigger, WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)

FAILING_AFTER_ATTEMPTS = 4
EXHAUSTED_NOTICE_INTERVAL = timedelta(hours=1)


def recipients(org) -> list[str]:
    from callops.accounts.models import Membership, Role

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
        WebhookDelivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.SKIPPED, next_attempt_at=None, last_error="endpoint disabled", updated_at=now)
        endpoint.refresh_from_db()
        if notify_org:
            notify(endpoint, Notification.Kind.DISABLED, f"Webhook endpoint {endpoint.url} was disabled: {reason}")
    return True


def after_success(endpoint: WebhookEndpoint) -> None:
    """A delivery to `endpoint` succeeded (inside the attempt's transaction)."""
    now = timezone.now()
    if endpoint.failing_since is None and not endpoint.failing_notified:
        # The common case: one cheap UPDATE, no lock.
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(last_success_at=now)
        return
    locked = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint.pk).first()
    if locked is None:
        return
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None, failing_notified=False,
                                                          last_success_at=now)
    if locked.failing_notified:
        notify(locked, Notification.Kind.RECOVERED, f"Webhook endpoint {locked.url} is receiving deliveries again.")


def after_failure(delivery: WebhookDelivery, outcome, *, final_failure: bool, trigger: str) -> None:
    """A delivery attempt failed (inside the attempt's transaction)."""
    endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=delivery.endpoint_id).first()
    if endpoint is None:
        return
    now = timezone.now()
    if endpoint.failing_since is None:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=now)
        endpoint.failing_since = now
    if outcome.gone:
        disable(endpoint, f"the endpoint answered 410 Gone to delivery {delivery.public_id}")
        return
    if trigger == Trigger.AUTO and delivery.auto_attempts + 1 >= FAILING_AFTER_ATTEMPTS \
            and not endpoint.failing_notified:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_notified=True)
        notify(endpoint, Notification.Kind.FAILING,
               f"Deliveries to {endpoint.url} are failing (last error: {outcome.error[:300]}). "
               f"Retries continue; the endpoint is disabled after "
               f"{settings.WEBHOOK_DISABLE_AFTER_SECONDS // 86400 or 1} day(s) without a success.")
    if final_failure and (endpoint.exhausted_notified_at is None
                          or endpoint.exhausted_notified_at < now - EXHAUSTED_NOTICE_INTERVAL):
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(exhausted_notified_at=now)
        notify(endpoint, Notification.Kind.EXHAUSTED,
               f"A {delivery.event.type} delivery to {endpoint.url} failed after every retry "
               f"(last error: {outcome.error[:300]}). It can be re-sent from the dashboard or the API.")
    if endpoint.failing_since <= now - timedelta(seconds=settings.WEBHOOK_DISABLE_AFTER_SECONDS):
        disable(endpoint, "failing with no successful delivery for "
                          f"{settings.WEBHOOK_DISABLE_AFTER_SECONDS // 3600} hours")


def disable_long_failing() -> int:
    """Sweep step: disable endpoints whose failure streak outlived the window (even with no new attempts)."""
    cutoff = timezone.now() - timedelta(seconds=settings.WEBHOOK_DISABLE_AFTER_SECONDS)
    count = 0
    for endpoint in WebhookEndpoint.objects.filter(enabled=True, failing_since__lte=cutoff):
        count += disable(endpoint, "failing with no successful delivery for "
                                   f"{settings.WEBHOOK_DISABLE_AFTER_SECONDS // 3600} hours")
    return count
