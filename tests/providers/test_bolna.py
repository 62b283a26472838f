"""Bolna as its own code and pages describe it: `execution_id` pushes, zero-talk `completed`
decided from the hangup fields, the `format_messages` transcript, the wallet in cents, and the
emulator's own strictness (package `bolna`, Bolna's CLI, seeds/001)."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from django.test import Client
from django.utils import timezone

from callops.calls.models import Call
from callops.providers.registry import adapter_for

from .conftest import AGENT_IDS, place, submit

pytestmark = pytest.mark.usefixtures("clock")

NUMBER = "+14155550123"


def _post(account, body: bytes):
    return Client().post(f"/callbacks/bolna/{account.callback_token}/", body, content_type="application/json")


def _messages(emu, call_id):
    call = emu.calls[call_id]
    return [m for step in range(len(call.outcome.steps)) for m in emu.callback_messages(call, step)]


def test_call_state_pushes_keyed_execution_id_drive_the_call(emulators, make_agent):
    emu = emulators("bolna", push_id="execution_id")
    agent = make_agent("bolna", emu)
    call = place(agent, NUMBER)
    msgs = _messages(emu, call.provider_call_id)
    first = json.loads(msgs[0][1])
    assert "id" not in first
    assert (first["execution_id"], first["to_number"], first["provider"]) == (call.provider_call_id, NUMBER, "plivo")
    for _, body in msgs:
        response = _post(agent.provider_account, body)
        assert (response.status_code, response.json()) == (200, {"received": 1, "applied": 1, "unknown": 0})
    call = Call.objects.get(pk=call.pk)
    assert (call.status, call.provider_status, call.duration_seconds, call.answered_by) == (
        "completed", "completed", 30, "human")


def test_push_without_any_execution_id_is_unreadable(emulators, make_agent):
    agent = make_agent("bolna", emulators("bolna"))
    response = _post(agent.provider_account, json.dumps({"status": "completed"}).encode())
    assert (response.status_code, response.json()) == (
        400, {"error": "unreadable callback body: Bolna push without an execution id (`id` or `execution_id`)"})


@pytest.mark.parametrize(("outcome", "status", "hangup", "error_code"), [
    ("completed_zero", "no_answer", "Callee / rejected / 3020", ""),
    ("completed_zero_busy", "busy", "Carrier / Busy Line / 3010", ""),
    ("completed_zero_failed", "failed", "Carrier / Network error / 5000", "no_conversation"),
])
def test_completed_without_talk_is_decided_from_the_hangup_fields(outcome, status, hangup, error_code, emulators,
                                                                  make_agent, drive):
    emu = emulators("bolna")
    emu.script(NUMBER, outcome)
    call = submit(make_agent("bolna", emu), NUMBER)
    drive([call.pk])
    call = Call.objects.get(pk=call.pk)
    assert emu.expected_final(NUMBER) == status
    assert (call.status, call.provider_status, call.hangup_cause, call.duration_seconds, call.answered_by,
            call.error_code, call.billing_amount_milli_cents, call.transcript) == (
        status, "completed", hangup, 0, "", error_code, 12500, [])
    event = call.events.filter(status=status).get()
    assert (event.raw_status, event.reason) == ("completed", hangup)


def test_voicemail_with_talk_stays_completed_by_a_machine(emulators, make_agent, drive):
    emu = emulators("bolna")
    emu.script(NUMBER, "voicemail")
    call = submit(make_agent("bolna", emu), NUMBER)
    drive([call.pk])
    call = Call.objects.get(pk=call.pk)
    assert (call.status, call.answered_by, call.duration_seconds) == ("completed", "machine", 7)
    assert call.transcript == [{"role": "agent", "text": "Hi, this is Ava from Acme Dental calling about your "
                                                         "cleaning offer. Please call us back."}]


def test_transcript_follows_format_messages(emulators, make_agent, drive):
    emu = emulators("bolna")
    emu.script(NUMBER, "completed_tools")
    call = submit(make_agent("bolna", emu), NUMBER)
    drive([call.pk])
    # system and tool entries are not turns; content over two lines stays one message.
    assert Call.objects.get(pk=call.pk).transcript == [
        {"role": "agent", "text": "Hi, this is Ava from Acme Dental.\nWhich day suits you?"},
        {"role": "user", "text": "Tuesday, please."},
        {"role": "agent", "text": "You are booked for Tuesday."},
    ]


def test_create_body_has_only_bolna_fields(emulators, make_agent):
    emu = emulators("bolna")
    agent = make_agent("bolna", emu)
    call = place(agent, NUMBER, from_number="+14155550999", context={"first_name": "Ann", "visits": 3})
    assert call.status == "queued"
    assert emu.calls[call.provider_call_id].request == {
        "agent_id": AGENT_IDS["bolna"], "recipient_phone_number": NUMBER, "from_phone_number": "+14155550999",
        "user_data": {"first_name": "Ann", "visits": "3", "callops_call_id": str(call.public_id)}}


def test_connection_reads_the_wallet_in_cents(emulators, make_agent):
    emu = emulators("bolna")
    adapter = adapter_for(make_agent("bolna", emu).provider_account)
    assert adapter.test_connection() == "Bolna reachable; balance $99.30, concurrency 0/10"


def test_connection_without_a_wallet_says_so(emulators, make_agent, monkeypatch):
    emu = emulators("bolna")
    monkeypatch.setattr(emu, "me", lambda req: (200, {"balance": 5}, {}))
    adapter = adapter_for(make_agent("bolna", emu).provider_account)
    assert adapter.test_connection() == "Bolna reachable; balance not reported, concurrency not reported"


@pytest.mark.parametrize(("body", "message"), [
    ({"recipient_phone_number": NUMBER}, "agent_id is required"),
    ({"agent_id": "a"}, "recipient_phone_number is required"),
    ({"agent_id": "a", "recipient_phone_number": "4155550123"}, "recipient_phone_number must be in E.164 format"),
    ({"agent_id": "a", "recipient_phone_number": NUMBER, "metadata": {}}, "unknown field: metadata"),
    ({"agent_id": "a", "recipient_phone_number": NUMBER, "user_data": "x"}, "user_data is invalid"),
])
def test_emulator_rejects_create_bodies_like_bolna(body, message, emulators):
    emu = emulators("bolna")
    r = httpx.post(f"{emu.url}/call", json=body, headers={"Authorization": f"Bearer {emu.api_key}"})
    assert (r.status_code, r.json()) == (400, {"error": 1001, "message": message})
    assert emu.calls == {}


def test_emulator_checks_the_bearer_key_exactly(emulators):
    emu = emulators("bolna")
    body = {"agent_id": "a", "recipient_phone_number": NUMBER}
    for headers in ({"Authorization": f"Bearer {emu.api_key}x"}, {"Authorization": emu.api_key}, {}):
        r = httpx.post(f"{emu.url}/call", json=body, headers=headers)
        assert (r.status_code, r.json()) == (401, {"error": 1401, "message": "Access denied"})


def test_emulator_rejects_stray_batch_form_parts(emulators, make_agent):
    emu = emulators("bolna")
    auth = {"Authorization": f"Bearer {emu.api_key}"}
    r = httpx.post(f"{emu.url}/batches", headers=auth, data={"agent_id": "a", "name": "x"},
                   files={"file": ("c.csv", b"contact_number\n+14155550001\n", "text/csv")})
    assert (r.status_code, r.json()) == (400, {"error": 1001, "message": "unknown field: name"})
    adapter = adapter_for(make_agent("bolna", emu).provider_account)
    batch_id = adapter.place_batch("agent-1", [{"contact_number": "+14155550001"}],
                                   scheduled_at=timezone.now() + timedelta(minutes=5))
    assert emu.batches[batch_id]["status"] == "running"  # the adapter's schedule form passed
    r = httpx.post(f"{emu.url}/batches/{batch_id}/schedule", headers=auth,
                   files={"scheduled_at": (None, "2030-01-01T00:00:00+00:00"), "_": ("", b"")})
    assert (r.status_code, r.json()) == (400, {"error": 1001, "message": "unknown field: _"})
