"""Every write to webhook endpoints, secrets and redeliveries; used by the API and the dashboard.

Input is validated before anything is written (`WebhookInputError` carries a message and a
per-field map); secrets are returned once, at creation and rotation, and stored encrypted.
"""

from __future__ import annotations

import re
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from callops.accounts.services import audit
from callops.lib import netguard, signing
from callops.lib.queue import enqueue
from callops.webhooks import events, health
from callops.webhooks.models import (
    DeliveryStatus,
    Notification,
    OrgWebhookSecret,
    RecoveryJob,
    Trigger,
    WebhookDelivery,
    WebhookEndpoint,
)

MAX_HEADERS = 20
RESERVED_HEADERS = {"content-type", "content-length", "host", "user-agent", "transfer-encoding", "connection",
                    "webhook-id", "webhook-timestamp", "webhook-signature"}
HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")


class WebhookInputError(Exception):
    def __init__(self, message: str, fields: dict | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


# --- Validation ------------------------------------------------------------------------------------
def _clean_url(value) -> str:
    if not isinstance(value, str):
        raise WebhookInputError("url must be a string", {"url": "must be a string"})
    url = value.strip()
    problem = netguard.check_url(url)
    if problem:
        raise WebhookInputError(f"url: {problem}", {"url": problem})
    return url


def _clean_events(value) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise WebhookInputError("enabled_events must be a non-empty list of event types",
                                {"enabled_events": "must be a non-empty list of strings"})
    prefixes = {t.split(".")[0] + ".*" for t in events.EVENT_TYPES}
    bad = [v for v in value if v != "*" and v not in events.EVENT_TYPES and v not in prefixes]
    if bad:
        raise WebhookInputError(f"enabled_events: unknown event type(s) {', '.join(bad)}; use '*', a prefix such "
                                f"as 'call.*', or one of {', '.join(events.EVENT_TYPES)}",
                                {"enabled_events": f"unknown: {', '.join(bad)}"})
    return list(dict.fromkeys(value))


def _clean_headers(value) -> dict:
    if not isinstance(value, dict):
        raise WebhookInputError("headers must be an object of header names to string values",
                                {"headers": "must be an object"})
    if len(value) > MAX_HEADERS:
        raise WebhookInputError(f"headers: at most {MAX_HEADERS} custom headers", {"headers": "too many"})
    out = {}
    for name, val in value.items():
        if not HEADER_NAME.match(str(name)) or name.lower() in RESERVED_HEADERS:
            raise WebhookInputError(f"headers: {name!r} is not an allowed header name",
                                    {"headers": f"{name!r} is not allowed"})
        if not isinstance(val, str) or len(val) > 1000 or "\r" in val or "\n" in val:
            raise WebhookInputError(f"headers: value of {name!r} must be a single-line string of at most 1000 "
                                    f"characters", {"headers": f"bad value for {name!r}"})
        out[name] = val
    return out


def _clean_description(value) -> str:
    if not isinstance(value, str) or len(value) > 500:
        raise WebhookInputError("description must be a string of at most 500 characters",
                                {"description": "must be at most 500 characters"})
    return value.strip()


def _clean(data: dict, *, partial: bool) -> dict:
    allowed = {"url", "description", "enabled_events", "headers", "enabled", "paused", "max_in_flight"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise WebhookInputError(f"unknown field(s): {', '.join(unknown)}", {k: "unknown field" for k in unknown})
    if not partial and "url" not in data:
        raise WebhookInputError("url is required", {"url": "is required"})
    clean = {}
    if "url" in data:
        clean["url"] = _clean_url(data["url"])
    if "description" in data:
        clean["description"] = _clean_description(data["description"] or "")
    if "enabled_events" in data:
        clean["enabled_events"] = _clean_events(data["enabled_events"])
    if "headers" in data:
        clean["headers"] = _clean_headers(data["headers"] or {})
    for flag in ("enabled", "paused"):
        if flag in data:
            if not isinstance(data[flag], bool):
                raise WebhookInputError(f"{flag} must be true or false", {flag: "must be a boolean"})
            clean[flag] = data[flag]
    if "max_in_flight" in data:
        v = data["max_in_flight"]
        if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 50:
            raise WebhookInputError("max_in_flight must be an integer from 1 to 50",
                                    {"max_in_flight": "must be 1..50"})
        clean["max_in_flight"] = v
    return clean


# --- Endpoints -------------------------------------------------------------------------------------
def create_endpoint(org, data: dict, *, actor=None) -> tuple[WebhookEndpoint, str]:
    """Create an endpoint; returns it and its signing secret (shown once)."""
    clean = _clean(data, partial=False)
    secret = signing.generate_secret()
    enabled = clean.pop("enabled", True)
    endpoint = WebhookEndpoint(organization=org, enabled_events=clean.pop("enabled_events", ["*"]), **clean)
    endpoint.set_secret(secret, keep_previous=False)
    with transaction.atomic():
        endpoint.save()
        audit(org, "webhook_endpoint.created", actor=actor, target=endpoint.url,
              detail={"endpoint": str(endpoint.public_id)})
    if not enabled:
        set_enabled(endpoint, False, actor=actor)
    return endpoint, secret


def update_endpoint(endpoint: WebhookEndpoint, data: dict, *, actor=None) -> WebhookEndpoint:
    clean = _clean(data, partial=True)
    enabled = clean.pop("enabled", None)
    paused = clean.pop("paused", None)
    with transaction.atomic():
        for k, v in clean.items():
            setattr(endpoint, k, v)
        endpoint.updated_at = timezone.now()
        endpoint.save()
        audit(endpoint.organization, "webhook_endpoint.updated", actor=actor, target=endpoint.url,
              detail={"endpoint": str(endpoint.public_id), "fields": sorted(clean)})
    if enabled is not None:
        set_enabled(endpoint, enabled, actor=actor)
    if paused is not None:
        set_paused(endpoint, paused, actor=actor)
    endpoint.refresh_from_db()
    return endpoint


def delete_endpoint(endpoint: WebhookEndpoint, *, actor=None) -> None:
    with transaction.atomic():
        audit(endpoint.organization, "webhook_endpoint.deleted", actor=actor, target=endpoint.url,
              detail={"endpoint": str(endpoint.public_id)})
        endpoint.delete()


def rotate_secret(endpoint: WebhookEndpoint, *, actor=None) -> str:
    """A new secret; the previous one keeps being sent (a second signature) for 24 hours."""
    secret = signing.generate_secret()
    with transaction.atomic():
        endpoint.set_secret(secret, keep_previous=True)
        endpoint.updated_at = timezone.now()
        endpoint.save(update_fields=["secret_encrypted", "previous_secret_encrypted", "previous_secret_expires_at",
                                     "updated_at"])
        audit(endpoint.organization, "webhook_endpoint.secret_rotated", actor=actor, target=endpoint.url,
              detail={"endpoint": str(endpoint.public_id)})
    return secret


def set_enabled(endpoint: WebhookEndpoint, enabled: bool, *, actor=None, reason: str = "") -> WebhookEndpoint:
    if enabled:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            enabled=True, disabled_reason="", disabled_at=None, failing_since=None, failing_notified=False,
            updated_at=timezone.now())
        audit(endpoint.organization, "webhook_endpoint.enabled", actor=actor, target=endpoint.url)
    else:
        health.disable(endpoint, reason or "disabled by a user", notify_org=False)
        audit(endpoint.organization, "webhook_endpoint.disabled", actor=actor, target=endpoint.url)
    endpoint.refresh_from_db()
    return endpoint


def set_paused(endpoint: WebhookEndpoint, paused: bool, *, actor=None) -> WebhookEndpoint:
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(paused=paused, updated_at=timezone.now())
    audit(endpoint.organization, "webhook_endpoint.paused" if paused else "webhook_endpoint.resumed",
          actor=actor, target=endpoint.url)
    endpoint.refresh_from_db()
    if not paused:
        _kick()
    return endpoint


def send_test(endpoint: WebhookEndpoint, *, actor=None) -> WebhookDelivery:
    with transaction.atomic():
        delivery = events.emit_test_event(endpoint)
    return delivery


# --- Organization secret for per-call / agent URLs -----------------------------------------------
def org_secret(org_or_id) -> OrgWebhookSecret:
    org_id = getattr(org_or_id, "pk", org_or_id)
    row = OrgWebhookSecret.objects.filter(organization_id=org_id).first()
    if row is not None:
        return row
    row = OrgWebhookSecret(organization_id=org_id)
    row.set_secret(signing.generate_secret(), keep_previous=False)
    try:
        with transaction.atomic():
            row.save()
    except Exception:  # another process created it first (unique organization)
        return OrgWebhookSecret.objects.get(organization_id=org_id)
    return row


def reveal_org_secret(org) -> str:
    return org_secret(org).secret


def rotate_org_secret(org, *, actor=None) -> str:
    row = org_secret(org)
    secret = signing.generate_secret()
    row.set_secret(secret, keep_previous=True)
    row.save()
    audit(org, "webhook_secret.rotated", actor=actor, target="per-call webhook secret")
    return secret


# --- Redelivery ------------------------------------------------------------------------------------
def _kick(ids=None) -> None:
    from callops.webhooks import jobs

    transaction.on_commit(lambda: enqueue(jobs.deliver_job, ids, queue="webhooks"))


def redeliver(delivery: WebhookDelivery, actor=None, *, trigger: str = Trigger.MANUAL) -> WebhookDelivery:
    """Queue one manual attempt with the same webhook-id. It never reschedules itself: on failure the
    delivery keeps whatever automatic schedule it had."""
    now = timezone.now()
    with transaction.atomic():
        WebhookDelivery.objects.filter(pk=delivery.pk).update(manual_requested_at=now, manual_trigger=trigger,
                                                              updated_at=now)
        if actor is not None:
            audit(delivery.organization, "webhook_delivery.redeliver", actor=actor,
                  target=str(delivery.public_id))
        _kick([delivery.pk])
    delivery.refresh_from_db()
    return delivery


def recoverable(org, *, since: datetime, until: datetime | None = None, endpoint=None, event_type: str = ""):
    """Deliveries that failed or were skipped in the window, to every destination unless an endpoint is given."""
    qs = WebhookDelivery.objects.filter(organization=org, created_at__gte=since,
                                        status__in=[DeliveryStatus.FAILED, DeliveryStatus.SKIPPED])
    if until is not None:
        qs = qs.filter(created_at__lt=until)
    if endpoint is not None:
        qs = qs.filter(endpoint=endpoint)
    if event_type.endswith(".*"):
        qs = qs.filter(event__type__startswith=event_type[:-1])
    elif event_type:
        qs = qs.filter(event__type=event_type)
    return qs


def count_recoverable(org, **filters) -> int:
    return recoverable(org, **filters).count()


def start_recovery(org, *, since: datetime, until: datetime | None = None, endpoint=None, event_type: str = "",
                   actor=None) -> RecoveryJob:
    """Re-send everything recoverable in the window in the background; progress is on the row."""
    from callops.webhooks import jobs

    total = count_recoverable(org, since=since, until=until, endpoint=endpoint, event_type=event_type)
    with transaction.atomic():
        job = RecoveryJob.objects.create(organization=org, endpoint=endpoint, event_type=event_type, since=since,
                                         until=until or timezone.now(), total=total,
                                         created_by=actor if hasattr(actor, "get_username") else None)
        audit(org, "webhook_delivery.bulk_recover", actor=actor, target=str(job.public_id),
              detail={"total": total, "since": since.isoformat()})
        transaction.on_commit(lambda: enqueue(jobs.recovery_job, job.pk, queue="webhooks"))
    return job


# --- Notifications (dashboard) ---------------------------------------------------------------------
def unread_notifications(org):
    return Notification.objects.filter(organization=org, read=False).select_related("endpoint")


def mark_notifications_read(org, public_ids=None) -> int:
    """Mark the given notices (or all) of `org` read; ids of other organizations match nothing."""
    qs = Notification.objects.filter(organization=org, read=False)
    if public_ids is not None:
        qs = qs.filter(public_id__in=list(public_ids))
    return qs.update(read=True)
