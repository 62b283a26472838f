"""Per-call options (prompt, language, voicemail_action, tools) reach the providers that take them,
and the billing each provider reports is stored on the call."""

from __future__ import annotations

import httpx
import pytest

from callops.calls.status_sync import sync_call
from callops.providers.emulators.core import Outcome

from .conftest import place, step_clock

pytestmark = pytest.mark.django_db
NUMBER = "+14155550123"
TOOL = {"type": "builtin", "name": "end_call", "description": "Hang up", "policy": "read", "builtin": "end_call",
        "parameters": {"type": "object", "properties": {}, "required": [], "additionalProperties": False}}


def _until_terminal(pk, clock, rounds=500):
    from callops.calls.models import Call

    for _ in range(rounds):
        sync_call(pk)
        call = Call.objects.get(pk=pk)
        if call.is_terminal:
            return call
        step_clock(clock)
    raise AssertionError(f"call still {call.status} after {rounds} status reads")


def test_callingbox_prompt_based_create_sends_the_sdk_fields(emulators, make_agent, clock):
    emu = emulators("callingbox")
    agent = make_agent("callingbox", emu, agent_id="")  # no CallingBox agent: the prompt-based create
    call = place(agent, NUMBER, instructions="Confirm the 3pm visit.", returns={"confirmed": "boolean"},
                 language="es", voicemail_action="leave_message", tools=[TOOL], context={"name": "Ana"})
    assert call.status == "queued" and call.provider_call_id
    sent = emu.calls[call.provider_call_id].request
    assert {k: v for k, v in sent.items() if k != "webhook_url"} == {
        "to": NUMBER, "prompt": "Confirm the 3pm visit.", "returns": {"confirmed": "boolean"}, "language": "es",
        "voicemail_action": "leave_message", "tools": [TOOL], "context": {"name": "Ana"}}
    # The URL names the call, so an interrupted placement can be found (no metadata on this create).
    assert sent["webhook_url"] == f"{agent.provider_account.callback_url}?callops_call_id={call.public_id}"
    assert call.reservation_status == "reserved"  # what CallingBox answered the create with

    call = _until_terminal(call.pk, clock)
    assert call.status == "completed" and call.duration_seconds
    assert call.billed_duration_seconds == call.duration_seconds
    assert call.billing_amount_milli_cents == call.duration_seconds * 150
    assert call.reservation_status == "settled"


def test_callingbox_agent_based_create_sends_no_per_call_settings(emulators, make_agent):
    emu = emulators("callingbox")
    agent = make_agent("callingbox", emu)
    call = place(agent, NUMBER, instructions="Other words.")
    sent = emu.calls[call.provider_call_id].request
    assert sent["agent_id"] == agent.provider_agent_id and sent["instructions"] == "Other words."
    assert not {"prompt", "language", "voicemail_action", "tools", "returns"} & set(sent)


def test_callingbox_emulator_refuses_agent_settings_per_call(emulators, make_agent):
    """What the API refuses before writing, CallingBox's agent-based create refuses too."""
    emu = emulators("callingbox")
    agent = make_agent("callingbox", emu)
    r = httpx.post(f"{emu.url}/v1/calls", headers={"Authorization": f"Bearer {emu.api_key}"},
                   json={"agent_id": agent.provider_agent_id, "to": NUMBER, "tools": [TOOL]})
    assert r.status_code == 400 and r.json() == {"error": "tools is an agent setting; it cannot be set per call"}


def test_bolna_total_cost_becomes_milli_cents(emulators, make_agent, clock):
    emu = emulators("bolna")
    emu.script(NUMBER, Outcome([(0, "in-progress"), (2, "completed")], "completed", {"conversation_duration": 30}))
    call = _until_terminal(place(make_agent("bolna", emu), NUMBER).pk, clock)
    assert call.status == "completed"
    assert call.billing_amount_milli_cents == 12500  # Bolna's total_cost 12.5 cents
    assert call.billed_duration_seconds is None and call.reservation_status == ""
