"""Builds webhook events from call and batch changes, inside the transaction of the change.

Call and batch events arrive as `callops.calls.signals.call_event` and
`callops.batches.signals.batch_event` (connected in `WebhooksConfig.ready`), so neither app imports
this one.

The event and one delivery row per destination are written in the caller's transaction, so a
status change and the webhook it owes commit (or roll back) together. Delivery is enqueued only
after the commit; if that enqueue is lost, the sweep finds the due rows anyway.
"""

from __future__ import annotations

import json

from django.db import transaction
from django.utils import timezone

from callops.batches.representations import batch_to_dict
from callops.calls.representations import call_to_dict
from callops.calls.signals import CALL_EVENT_TYPES
from callops.lib.isotime import format as _iso
from callops.webhooks import call_summary, jobs
from callops.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent

BATCH_EVENT_TYPES = ("batch.started", "batch.paused", "batch.completed", "batch.canceled")
EVENT_TYPES = CALL_EVENT_TYPES + BATCH_EVENT_TYPES + ("webhook.test",)


# The envelope's `api_version`: the date this envelope shape took effect (integer `created`,
# `api_version` and ISO `timestamp` added for CallingBox SDK receivers). A fixed string, changed only
# when the envelope or a payload changes incompatibly, so receivers can branch on it.
API_VERSION = "2026-12-07"


def _body(event: WebhookEvent, data: dict) -> str:
    # Both receivers' shapes at once: `created` is Unix seconds (the CallingBox SDK does int() on it),
    # `timestamp` the same moment in ISO 8601.
    envelope = {"id": event.webhook_id, "type": event.type, "created": int(event.created_at.timestamp()),
                "api_version": API_VERSION, "timestamp": _iso(event.created_at), "data": data}
    return json.dumps(envelope, separators=(",", ":"), default=str)


def call_payload(call) -> dict:
    # The API's call shape, so a webhook and GET /v1/calls/{id} never disagree.
    return call_to_dict(call)


def batch_payload(batch) -> dict:
    # The API's batch shape, so a webhook and GET /v1/batches/{id} never disagree.
    return batch_to_dict(batch)


def _fan_out(org, event: WebhookEvent, *, call_url: str = "", call=None) -> list[int]:
    now = timezone.now()
    rows = []
    if call_url:
        rows.append(WebhookDelivery(organization=org, event=event, call=call, url=call_url, next_attempt_at=now))
    for endpoint in WebhookEndpoint.objects.filter(organization=org):
        if not endpoint.matches(event.type):
            continue
        if not endpoint.enabled:
            # Kept, never dropped: a disabled endpoint's events can be re-sent after it is fixed.
            rows.append(WebhookDelivery(organization=org, event=event, endpoint=endpoint, call=call,
                                        url=endpoint.url, status=DeliveryStatus.SKIPPED,
                                        last_error="endpoint disabled"))
        else:
            rows.append(WebhookDelivery(organization=org, event=event, endpoint=endpoint, call=call,
                                        url=endpoint.url, next_attempt_at=now))
    for row in rows:
        row.save()  # not bulk_create: ids are needed on every backend
    if call is not None and rows:
        # The new deliveries are now their destinations' latest: the call's summary changes with
        # them, in this transaction (call_summary locks the call row before it reads).
        call.webhook_status, call.webhook_error = call_summary.sync_call_status([call.pk])[call.pk]
    due = [r.pk for r in rows if r.status == DeliveryStatus.PENDING]
    if due:
        transaction.on_commit(lambda: _enqueue(due))
    return due


def _enqueue(ids: list[int]) -> None:
    jobs.kick()


def on_call_event(sender, *, call, event_type: str, **kwargs) -> None:
    """Receiver of `calls.signals.call_event`."""
    emit_call_event(call, event_type)


def emit_call_event(call, event_type: str) -> WebhookEvent:
    """Record `event_type` for `call` with one delivery per destination (per-call URL, endpoints)."""
    event = WebhookEvent(organization_id=call.organization_id, type=event_type, call=call)
    event.body = _body(event, {"call": call_payload(call)})
    event.save()
    _fan_out(call.organization, event, call_url=call.webhook_url, call=call)
    return event


def on_batch_event(sender, *, batch, event_type: str, **kwargs) -> None:
    """Receiver of `batches.signals.batch_event`."""
    emit_batch_event(batch, event_type)


def emit_batch_event(batch, event_type: str) -> WebhookEvent:
    """Record a batch event; it goes to the org's endpoints (batches have no per-call URL)."""
    event = WebhookEvent(organization_id=batch.organization_id, type=event_type, batch=batch)
    event.body = _body(event, {"batch": batch_payload(batch)})
    event.save()
    _fan_out(batch.organization, event)
    return event


def emit_test_event(endpoint) -> WebhookDelivery:
    """A `webhook.test` event to one endpoint only."""
    event = WebhookEvent(organization_id=endpoint.organization_id, type="webhook.test")
    event.body = _body(event, {"message": "test event from callops", "endpoint_id": str(endpoint.public_id)})
    event.save()
    delivery = WebhookDelivery.objects.create(organization_id=endpoint.organization_id, event=event,
                                              endpoint=endpoint, url=endpoint.url, next_attempt_at=timezone.now())
    transaction.on_commit(lambda: _enqueue([delivery.pk]))
    return delivery
