"""Every write to webhook endpoints, secrets and redeliveries; used by the API and the dashboard.

Input is validated before anything is written (`WebhookInputError` carries a message and a
per-field map). Secrets are stored encrypted; an endpoint's is returned once, at creation and
rotation; the organization's per-call secret is returned by an audited reveal and by rotation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from callops.accounts.services import audit
from callops.lib import netguard, standard_webhooks
from callops.lib.queue import enqueue
from callops.webhooks import call_summary, endpoint_health, events, jobs
from callops.webhooks import headers as header_rules
from callops.webhooks.models import (
    DeliveryStatus,
    Notification,
    OrgWebhookSecret,
    RecoveryJob,
    Trigger,
    WebhookDelivery,
    WebhookEndpoint,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from callops.accounts.models import Organization
    from callops.accounts.services import Actor

MAX_HEADERS = 20


class WebhookInputError(Exception):
    def __init__(self, message: str, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


# --- Validation ------------------------------------------------------------------------------------
def _clean_url(value: object) -> str:
    if not isinstance(value, str):
        raise WebhookInputError("url must be a string", {"url": "must be a string"})
    url = value.strip()
    problem = netguard.check_url(url)
    if problem:
        raise WebhookInputError(f"url: {problem}", {"url": problem})
    return url


def _clean_events(value: object) -> list[str]:
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


def _clean_headers(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        raise WebhookInputError("headers must be an object of header names to string values",
                                {"headers": "must be an object"})
    if len(value) > MAX_HEADERS:
        raise WebhookInputError(f"headers: at most {MAX_HEADERS} custom headers", {"headers": "too many"})
    out: dict[str, str] = {}
    for name, val in value.items():
        if not header_rules.allowed(name):
            raise WebhookInputError(f"headers: {name!r} is not an allowed header name (headers that frame or "
                                    f"route the request, Proxy-*, webhook-* and CallingBox-* are set by callops)",
                                    {"headers": f"{name!r} is not allowed"})
        if not isinstance(val, str) or len(val) > 1000 or "\r" in val or "\n" in val:
            raise WebhookInputError(f"headers: value of {name!r} must be a single-line string of at most 1000 "
                                    f"characters", {"headers": f"bad value for {name!r}"})
        out[name] = val
    return out


def _clean_description(value: object) -> str:
    if not isinstance(value, str) or len(value) > 500:
        raise WebhookInputError("description must be a string of at most 500 characters",
                                {"description": "must be at most 500 characters"})
    return value.strip()


def _clean(data: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
    allowed = {"url", "description", "enabled_events", "headers", "enabled", "paused", "max_in_flight", "status"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise WebhookInputError(f"unknown field(s): {', '.join(unknown)}", {k: "unknown field" for k in unknown})
    if not partial and "url" not in data:
        raise WebhookInputError("url is required", {"url": "is required"})
    clean: dict[str, Any] = {}
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
    if "status" in data:
        # The CallingBox form of `enabled` (what its SDK's update_endpoint sends).
        if data["status"] not in ENDPOINT_STATUSES:
            raise WebhookInputError(f"status must be one of {', '.join(ENDPOINT_STATUSES)}",
                                    {"status": f"unknown value {data['status']!r}"})
        enabled = data["status"] == "enabled"
        if clean.get("enabled", enabled) != enabled:
            raise WebhookInputError("status and enabled disagree", {"status": "disagrees with enabled"})
        clean["enabled"] = enabled
    if "max_in_flight" in data:
        v = data["max_in_flight"]
        if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 50:
            raise WebhookInputError("max_in_flight must be an integer from 1 to 50",
                                    {"max_in_flight": "must be 1..50"})
        clean["max_in_flight"] = v
    return clean


# --- Endpoints -------------------------------------------------------------------------------------
ENDPOINT_STATUSES = ("enabled", "disabled")


def create_endpoint(org: Organization, data: Mapping[str, Any], *, actor: Actor = None) -> tuple[WebhookEndpoint, str]:
    """Create an endpoint; returns it and its signing secret (shown once)."""
    clean = _clean(data, partial=False)
    secret = standard_webhooks.generate_secret()
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


def update_endpoint(endpoint: WebhookEndpoint, data: Mapping[str, Any], *, actor: Actor = None) -> WebhookEndpoint:
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


def delete_endpoint(endpoint: WebhookEndpoint, *, actor: Actor = None) -> None:
    with transaction.atomic():
        # The endpoint row first, as the delivery writer locks it before it records an attempt
        # (delivery.record.record_many's lock order): a worker recording one of its deliveries now either
        # commits before the deletion reads them, or waits and finds them gone. Without the lock
        # its attempt could land between the deletion's removal of attempts and of deliveries,
        # and the deletion failed on the attempt's foreign key.
        if not WebhookEndpoint.objects.select_for_update().filter(pk=endpoint.pk).exists():
            return  # deleted meanwhile by another request
        audit(endpoint.organization, "webhook_endpoint.deleted", actor=actor, target=endpoint.url,
              detail={"endpoint": str(endpoint.public_id)})
        # Its deliveries go with it, so calls it kept from `delivered` are summarised again.
        call_ids = call_summary.calls_touched_by(Q(endpoint=endpoint))
        endpoint.delete()
        call_summary.sync_call_status(call_ids)


def rotate_secret(endpoint: WebhookEndpoint, *, actor: Actor = None) -> str:
    """A new secret; each retired one keeps being signed with for 24 hours (at most 10 at once)."""
    secret = standard_webhooks.generate_secret()
    with transaction.atomic():
        endpoint.set_secret(secret, keep_previous=True)
        endpoint.updated_at = timezone.now()
        endpoint.save(update_fields=["secret_encrypted", "old_secrets", "updated_at"])
        audit(endpoint.organization, "webhook_endpoint.secret_rotated", actor=actor, target=endpoint.url,
              detail={"endpoint": str(endpoint.public_id)})
    return secret


def set_enabled(endpoint: WebhookEndpoint, enabled: bool, *, actor: Actor = None, reason: str = "") -> WebhookEndpoint:
    if enabled:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            enabled=True, disabled_reason="", disabled_at=None, failing_since=None, failing_notified=False,
            consecutive_failures=0, updated_at=timezone.now())
        audit(endpoint.organization, "webhook_endpoint.enabled", actor=actor, target=endpoint.url)
    else:
        default = f"disabled by {actor}" if isinstance(actor, str) and actor else "disabled by a user"
        endpoint_health.disable(endpoint, reason or default, notify_org=False)
        audit(endpoint.organization, "webhook_endpoint.disabled", actor=actor, target=endpoint.url)
    endpoint.refresh_from_db()
    return endpoint


def set_paused(endpoint: WebhookEndpoint, paused: bool, *, actor: Actor = None) -> WebhookEndpoint:
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(paused=paused, updated_at=timezone.now())
    audit(endpoint.organization, "webhook_endpoint.paused" if paused else "webhook_endpoint.resumed",
          actor=actor, target=endpoint.url)
    endpoint.refresh_from_db()
    if not paused:
        _kick()
    return endpoint


def send_test(endpoint: WebhookEndpoint, *, actor: Actor = None) -> WebhookDelivery:
    with transaction.atomic():
        delivery = events.emit_test_event(endpoint)
    return delivery


# --- Organization secret for per-call / agent URLs -----------------------------------------------
def org_secret(org_or_id: Organization | int) -> OrgWebhookSecret:
    org_id = cast(int, getattr(org_or_id, "pk", org_or_id))
    row = OrgWebhookSecret.objects.filter(organization_id=org_id).first()
    if row is not None:
        return row
    row = OrgWebhookSecret(organization_id=org_id)
    row.set_secret(standard_webhooks.generate_secret(), keep_previous=False)
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:  # another process created it first (unique organization)
        return OrgWebhookSecret.objects.get(organization_id=org_id)
    return row


def org_secret_row(org: Organization) -> OrgWebhookSecret | None:
    """The organization's secret row for display (dates only), without creating it."""
    return OrgWebhookSecret.objects.filter(organization=org).first()


def reveal_org_secret(org: Organization, *, actor: Actor = None) -> str:
    """The current per-call signing secret; every reveal is on the audit log."""
    secret = org_secret(org).secret
    if actor is not None:
        audit(org, "webhook_secret.revealed", actor=actor, target="per-call webhook secret")
    return secret


def rotate_org_secret(org: Organization, *, actor: Actor = None) -> str:
    """A new per-call signing secret (returned once); retired ones keep signing for 24 hours."""
    secret = standard_webhooks.generate_secret()
    with transaction.atomic():
        org_secret(org)  # created if it never was, so the rotation has something to retire
        row = OrgWebhookSecret.objects.select_for_update().get(organization=org)
        row.set_secret(secret, keep_previous=True)
        row.rotated_at = timezone.now()
        row.save(update_fields=["secret_encrypted", "old_secrets", "rotated_at"])
        audit(org, "webhook_secret.rotated", actor=actor, target="per-call webhook secret")
    return secret


# --- Redelivery ------------------------------------------------------------------------------------
def _kick(ids: list[int] | None = None) -> None:
    transaction.on_commit(lambda: enqueue(jobs.deliver_job, ids, queue="webhooks"))


def redeliver(delivery: WebhookDelivery, actor: Actor = None, *, trigger: str = Trigger.MANUAL) -> WebhookDelivery:
    """Queue one manual attempt with the same webhook-id. It never reschedules itself: on failure the
    delivery keeps whatever automatic schedule it had."""
    now = timezone.now()
    with transaction.atomic():
        counted = {"manual_retry_count": F("manual_retry_count") + 1} if trigger == Trigger.MANUAL else {}
        WebhookDelivery.objects.filter(pk=delivery.pk).update(manual_requested_at=now, manual_trigger=trigger,
                                                              updated_at=now, **counted)
        if actor is not None:
            audit(delivery.organization, "webhook_delivery.redeliver", actor=actor,
                  target=str(delivery.public_id))
        _kick([delivery.pk])
    delivery.refresh_from_db()
    return delivery


# What a bulk recovery may re-send: failed and skipped deliveries, and those still waiting for an
# automatic retry after a failed attempt ("retrying": sending them now is the point after a
# receiver's outage ends; if the re-send fails too, their automatic schedule carries on).
RECOVERABLE_STATUSES = ("failed", "skipped", "retrying")


def recoverable_q(delivery_status: str = "") -> Q:
    """The deliveries a recovery with this `status` filter re-sends (blank: all three kinds)."""
    kinds = {
        "failed": Q(status=DeliveryStatus.FAILED),
        "skipped": Q(status=DeliveryStatus.SKIPPED),
        "retrying": Q(status=DeliveryStatus.PENDING, attempt_count__gt=0, next_attempt_at__isnull=False),
    }
    if delivery_status:
        return kinds[delivery_status]
    return kinds["failed"] | kinds["skipped"] | kinds["retrying"]


def clean_recovery_filters(*, event_type: object = "", delivery_status: object = "") -> tuple[str, str]:
    """Validate the filters a recovery accepts besides the window and destination."""
    if not isinstance(event_type, str) or (event_type and event_type not in events.EVENT_TYPES
                                          and event_type not in ("*", "call.*", "batch.*")):
        raise WebhookInputError(f"event_type must be one of {', '.join(events.EVENT_TYPES)}, 'call.*' or 'batch.*'",
                                {"event_type": "unknown event type"})
    if not isinstance(delivery_status, str) or (delivery_status and delivery_status not in RECOVERABLE_STATUSES):
        raise WebhookInputError("status must be 'failed', 'skipped' or 'retrying' (or omitted for all three)",
                                {"status": "must be failed, skipped or retrying"})
    return ("" if event_type == "*" else event_type), delivery_status


def recoverable(org: Organization, *, since: datetime, until: datetime | None = None,
                endpoint: WebhookEndpoint | None = None, inline_only: bool = False, event_type: str = "",
                delivery_status: str = "") -> QuerySet[WebhookDelivery]:
    """Deliveries that failed, were skipped or are waiting for a retry in the window, to every
    destination unless an endpoint (or only the per-call / agent URLs) is given."""
    qs = WebhookDelivery.objects.filter(recoverable_q(delivery_status), organization=org, created_at__gte=since)
    if until is not None:
        qs = qs.filter(created_at__lt=until)
    if endpoint is not None:
        qs = qs.filter(endpoint=endpoint)
    elif inline_only:
        qs = qs.filter(endpoint__isnull=True)
    if event_type.endswith(".*"):
        qs = qs.filter(event__type__startswith=event_type[:-1])
    elif event_type:
        qs = qs.filter(event__type=event_type)
    return qs


def count_recoverable_by_kind(org: Organization, **filters: Any) -> dict[str, int]:
    """{"failed": n, "skipped": n, "retrying": n}: what the confirm step tells before a recovery."""
    qs = recoverable(org, **filters)
    return qs.aggregate(**{kind: Count("pk", filter=recoverable_q(kind)) for kind in RECOVERABLE_STATUSES})


def count_recoverable(org: Organization, **filters: Any) -> int:
    return recoverable(org, **filters).count()


def start_recovery(org: Organization, *, since: datetime, until: datetime | None = None,
                   endpoint: WebhookEndpoint | None = None, inline_only: bool = False, event_type: str = "",
                   delivery_status: str = "", actor: Actor = None) -> RecoveryJob:
    """Re-send everything recoverable in the window in the background; progress is on the row.

    The window is frozen now (`until` defaults to this moment), so deliveries that fail later are
    not swept in. The job marks rows for a bulk re-send in chunks and the delivery workers send
    them; `done` counts re-sends actually made.
    """
    filters = {"since": since, "until": until or timezone.now(), "endpoint": endpoint, "inline_only": inline_only,
               "event_type": event_type, "delivery_status": delivery_status}
    total = count_recoverable(org, **filters)
    with transaction.atomic():
        created_by = cast("User | None", actor if hasattr(actor, "get_username") else None)
        job = RecoveryJob.objects.create(organization=org, created_by=created_by,
                                         total=total, **filters)
        audit(org, "webhook_delivery.bulk_recover", actor=actor, target=str(job.public_id),
              detail={"total": total, "since": since.isoformat(), "endpoint": str(endpoint.public_id) if endpoint
                      else ("inline" if inline_only else None), "event_type": event_type or None,
                      "status": delivery_status or None})
        transaction.on_commit(lambda: enqueue(jobs.recovery_job, job.pk, queue="webhooks",
                                              job_id=jobs.recovery_rq_id(job.pk)))
    return job


# --- Notifications (dashboard) ---------------------------------------------------------------------
def unread_notifications(org: Organization) -> QuerySet[Notification]:
    return Notification.objects.filter(organization=org, read=False).select_related("endpoint")


def mark_notifications_read(org: Organization, public_ids: Iterable[object] | None = None) -> int:
    """Mark the given notices (or all) of `org` read; ids of other organizations match nothing."""
    qs = Notification.objects.filter(organization=org, read=False)
    if public_ids is not None:
        qs = qs.filter(public_id__in=list(public_ids))
    return qs.update(read=True)
