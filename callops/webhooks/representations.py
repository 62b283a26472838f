"""JSON shapes of webhook objects, shared by the API and the dashboard. Secrets never appear here."""

import json

from callops.lib.isotime import format as _iso


def endpoint_to_dict(ep) -> dict:
    # Every field of the CallingBox SDK's WebhookEndpoint is here (org_id, status, disabled_reason,
    # disabled_at, consecutive_failures, updated_at), plus callops' own.
    return {
        "id": str(ep.public_id),
        "object": "webhook_endpoint",
        "org_id": str(ep.organization.public_id),
        "url": ep.url,
        "description": ep.description,
        "enabled_events": ep.enabled_events or ["*"],
        "headers": ep.headers or {},
        "status": ep.state,
        "enabled": ep.enabled,
        "paused": ep.paused,
        "disabled_reason": ep.disabled_reason or None,
        "disabled_at": _iso(ep.disabled_at),
        "consecutive_failures": ep.consecutive_failures,
        "max_in_flight": ep.max_in_flight,
        "failing_since": _iso(ep.failing_since),
        "last_success_at": _iso(ep.last_success_at),
        "previous_secret_expires_at": _iso(ep.previous_secret_expires_at),
        "old_secrets_expire_at": [_iso(t) for t in ep.old_secrets_expire_at],
        "created_at": _iso(ep.created_at),
        "updated_at": _iso(ep.updated_at),
    }


def attempt_to_dict(a) -> dict:
    return {
        "number": a.number,
        "trigger": a.trigger,
        "at": _iso(a.created_at),
        "url": a.url,
        "succeeded": a.succeeded,
        "request_headers": a.request_headers,
        "request_body": a.request_body,
        "response_status": a.response_status,
        "response_headers": a.response_headers,
        "response_body": a.response_body,
        "duration_ms": a.duration_ms,
        "error_kind": a.error_kind or None,
        "error": a.error or None,
    }


def delivery_to_dict(d, *, attempts=None) -> dict:
    data = {
        "id": str(d.public_id),
        "object": "webhook_delivery",
        "org_id": str(d.organization.public_id),
        "event_id": d.event.webhook_id,
        "event_type": d.event.type,
        "endpoint_id": str(d.endpoint.public_id) if d.endpoint_id else None,
        "call_id": str(d.call.public_id) if d.call_id else None,
        "url": d.url,
        "status": d.status,
        "attempt_count": d.attempt_count,
        "manual_retry_count": d.manual_retry_count,
        "next_attempt_at": _iso(d.next_attempt_at),
        "redelivery_requested_at": _iso(d.manual_requested_at),
        "last_response_status": d.last_response_status,
        "last_error": d.last_error or None,
        "delivered_at": _iso(d.delivered_at),
        "created_at": _iso(d.created_at),
        "updated_at": _iso(d.updated_at),
    }
    if attempts is not None:
        data["payload"] = json.loads(d.event.body)
        data["attempts"] = [attempt_to_dict(a) for a in attempts]
    return data


def recovery_to_dict(job) -> dict:
    return {
        "id": str(job.public_id),
        "object": "webhook_recovery",
        "endpoint_id": str(job.endpoint.public_id) if job.endpoint_id else ("inline" if job.inline_only else None),
        "event_type": job.event_type or None,
        "delivery_status": job.delivery_status or None,
        "since": _iso(job.since),
        "until": _iso(job.until),
        "status": job.status,
        "total": job.total,  # the count when the recovery started
        "marked": job.marked,  # rows it asked to re-send
        "done": job.done,  # re-sends actually made
        "delivered": job.delivered,  # ... and accepted by the receiver
        "failed": job.failed_again,
        "waiting": job.waiting,
        "created_at": _iso(job.created_at),
        "finished_at": _iso(job.finished_at),
    }


def org_secret_to_dict(row, *, secret: str | None = None) -> dict:
    data = {
        "object": "webhook_secret",
        "scope": "per-call and agent webhook URLs",
        "created_at": _iso(row.created_at),
        "rotated_at": _iso(row.rotated_at),
        "old_secrets_expire_at": [_iso(t) for t in row.old_secrets_expire_at],
    }
    if secret is not None:
        data["secret"] = secret
    return data
