"""JSON shapes of calls, their timeline entries and agents: the API answers with them and webhook
payloads carry the same call shape, so the two can never disagree."""

from types import SimpleNamespace

from django.db.models import F

from callops.extraction.transcript import canonical_turns
from callops.lib.isotime import format as _iso

from .models import Call, CallEvent

# The columns the call object shows. Lists read only these: the transcript and the provider's
# payloads can be large and are not part of the object.
CALL_COLUMNS = (
    "id", "public_id", "organization_id", "agent_id", "batch_id", "retry_of_id", "attempt", "direction", "to_number",
    "from_number", "status", "answered_by", "instructions", "context", "metadata", "returns", "result",
    "result_status", "result_error", "result_evidence", "webhook_url", "webhook_status", "webhook_error", "error_code", "error_message",
    "hangup_cause", "provider", "provider_call_id", "provider_status", "provider_reason", "created_at", "updated_at",
    "scheduled_at", "started_at", "answered_at", "ended_at", "duration_seconds", "language", "voicemail_action",
    "tools", "billed_duration_seconds", "billing_amount_milli_cents", "reservation_status", "billing_currency",
    "billing_estimated", "routing", "routing_profile_id",
)


def for_api(qs):
    """`qs` narrowed to the call object's columns, with the related public ids joined in.

    Cheaper than select_related: the joins bring one UUID each instead of whole rows (retry_of
    would be a second full call row).
    """
    return qs.only(*CALL_COLUMNS).annotate(agent_pid=F("agent__public_id"), batch_pid=F("batch__public_id"),
                                          retry_of_pid=F("retry_of__public_id"),
                                          routing_profile_pid=F("routing_profile__public_id"))


def rows_for_api(qs) -> list:
    """The calls of `qs` as light rows (attribute access like a Call) for call_to_dict.

    Lists build no model instances: for a page of calls that was most of the time spent in
    Python. Rows carry `pk` and every column call_to_dict reads.
    """
    columns = qs.values(*CALL_COLUMNS, agent_pid=F("agent__public_id"), batch_pid=F("batch__public_id"),
                        retry_of_pid=F("retry_of__public_id"), routing_profile_pid=F("routing_profile__public_id"))
    return [SimpleNamespace(pk=row["id"], **row) for row in columns]


def _ref(call: Call, name: str) -> str | None:
    """The public id of a related object: annotated by for_api, else read from the relation."""
    if not getattr(call, f"{name}_id"):
        return None
    pid = getattr(call, f"{name}_pid", None)
    return str(pid if pid is not None else getattr(call, name).public_id)


def _blank_to_none(value):
    return value if value not in ("", None) else None


def _metadata(call) -> dict:
    """The call's metadata; with its language under `language` too, because the CallingBox SDK
    reads a call's language from there (types/call.py). A key the caller set wins."""
    if call.language and "language" not in call.metadata:
        return {"language": call.language, **call.metadata}
    return call.metadata


def _routing_entry(entry: dict) -> dict:
    return {"agent_id": entry.get("agent_id"), "provider": entry.get("provider"),
            "provider_account": entry.get("provider_account"), "outcome": entry.get("outcome"),
            "error_code": entry.get("error_code"), "at": entry.get("at")}


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
    """The call object. Related objects are named by public id: from for_api's annotations, or
    from the relations (select_related them to avoid a query each)."""
    data = {
        "id": str(call.public_id),
        "object": "call",
        "agent_id": _ref(call, "agent"),
        "batch_id": _ref(call, "batch"),
        "retry_of": _ref(call, "retry_of"),
        "attempt": call.attempt,
        "direction": call.direction,
        "to_number": call.to_number,
        "from_number": _blank_to_none(call.from_number),
        "status": call.status,
        "answered_by": _blank_to_none(call.answered_by),
        "instructions": call.instructions,
        # CallingBox's name for instructions: its SDK reads `prompt`.
        "prompt": call.instructions,
        "language": _blank_to_none(call.language),
        "voicemail_action": _blank_to_none(call.voicemail_action),
        "tools": call.tools or [],
        "context": call.context,
        "metadata": _metadata(call),
        "returns": call.returns,
        "result": call.result,
        "result_status": _blank_to_none(call.result_status),
        "result_error": _blank_to_none(call.result_error),
        "result_evidence": call.result_evidence or None,
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
        "billed_duration_seconds": call.billed_duration_seconds,
        "billing_amount_milli_cents": call.billing_amount_milli_cents,
        "reservation_status": _blank_to_none(call.reservation_status),
        # The currency of billing_amount_milli_cents, and whether callops estimated it from the
        # account's price table (true) or the provider reported it (false); null with no amount.
        "billing_currency": (call.billing_currency or None) if call.billing_amount_milli_cents is not None else None,
        "billing_estimated": call.billing_estimated if call.billing_amount_milli_cents is not None else None,
        "routing_profile_id": _ref(call, "routing_profile"),
        # The placement's routing steps in order; one entry for a call placed on its first agent.
        "routing": [_routing_entry(e) for e in (call.routing or [])],
    }
    if timeline:
        events = events if events is not None else call.events.all()
        data["timeline"] = [event_to_dict(e) for e in events]
    return data


def transcript_segments(call) -> list[dict]:
    """The call's transcript as CallingBox transcript segments, from what the provider gave.

    Stored turns carry no times, so `started_at`/`ended_at`/`duration_ms` are null unless a turn
    has them; `source` says the text came from the provider's transcript.
    """
    raw = call.transcript
    if isinstance(raw, str):  # Bolna's "assistant: … / user: …" lines
        items = canonical_turns(raw)
    else:
        items = [i for i in raw if isinstance(i, dict)] if isinstance(raw, list) else []
    segments: list[dict] = []
    for item in items:
        text = item.get("text") or item.get("content") or item.get("message") or ""
        role = item.get("role") or item.get("speaker")
        canonical = canonical_turns([{"role": role, "text": text}])
        if not canonical:
            continue
        started, ended = item.get("started_at"), item.get("ended_at")
        duration = item.get("duration_ms")
        segments.append({
            "sequence_no": len(segments) + 1,
            "role": canonical[0]["role"],
            "text": canonical[0]["text"],
            "started_at": started if isinstance(started, str) else None,
            "ended_at": ended if isinstance(ended, str) else None,
            "duration_ms": duration if isinstance(duration, int) and not isinstance(duration, bool) else None,
            "source": "provider",
        })
    return segments


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
        "is_default": agent.is_default,
        "created_at": _iso(agent.created_at),
    }
