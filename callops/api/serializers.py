"""JSON shapes of API objects. Webhook payloads use the same call shape."""

from callops.calls.models import Call, CallEvent
from callops.lib.isotime import format as _iso


def _blank_to_none(value):
    return value if value not in ("", None) else None


def event_to_dict(event: CallEvent) -> dict:
    return {
        "at": _iso(event.created_at),
        "kind": event.kind,
        "status": _blank_to_none(event.status),
        "from_status": _blank_to_none(event.from_status),
        "source": event.source,
        "raw_status": _blank_to_none(event.raw_status),
        "reason": _blank_to_none(event.reason),
        "ignored": event.ignored,
        "note": _blank_to_none(event.note),
    }


def call_to_dict(call: Call, *, timeline: bool = False, events=None) -> dict:
    """The call object. Needs `agent`, `batch` and `retry_of` ids only (no extra queries when the
    caller used select_related or only reads *_id columns)."""
    data = {
        "id": str(call.public_id),
        "object": "call",
        "agent_id": str(call.agent.public_id),
        "batch_id": str(call.batch.public_id) if call.batch_id else None,
        "retry_of": str(call.retry_of.public_id) if call.retry_of_id else None,
        "attempt": call.attempt,
        "direction": call.direction,
        "to_number": call.to_number,
        "from_number": _blank_to_none(call.from_number),
        "status": call.status,
        "answered_by": _blank_to_none(call.answered_by),
        "instructions": call.instructions,
        "context": call.context,
        "metadata": call.metadata,
        "returns": call.returns,
        "result": call.result,
        "result_status": _blank_to_none(call.result_status),
        "result_error": _blank_to_none(call.result_error),
        "webhook_url": _blank_to_none(call.webhook_url),
        "webhook_status": _blank_to_none(call.webhook_status),
        "webhook_error": _blank_to_none(call.webhook_error),
        "error_code": _blank_to_none(call.error_code),
        "error_message": _blank_to_none(call.error_message),
        "hangup_cause": _blank_to_none(call.hangup_cause),
        "provider": call.provider,
        "provider_call_id": _blank_to_none(call.provider_call_id),
        "provider_status": _blank_to_none(call.provider_status),
        "provider_reason": _blank_to_none(call.provider_reason),
        "created_at": _iso(call.created_at),
        "updated_at": _iso(call.updated_at),
        "scheduled_at": _iso(call.scheduled_at),
        "started_at": _iso(call.started_at),
        "answered_at": _iso(call.answered_at),
        "ended_at": _iso(call.ended_at),
        "duration_seconds": call.duration_seconds,
    }
    if timeline:
        events = events if events is not None else call.events.all()
        data["timeline"] = [event_to_dict(e) for e in events]
    return data


def agent_to_dict(agent) -> dict:
    return {
        "id": str(agent.public_id),
        "object": "agent",
        "name": agent.name,
        "provider": agent.provider_account.kind,
        "provider_account": agent.provider_account.name,
        "from_number": _blank_to_none(agent.from_number),
        "instructions": agent.instructions,
        "returns": agent.returns,
        "webhook_url": _blank_to_none(agent.webhook_url),
        "created_at": _iso(agent.created_at),
    }
