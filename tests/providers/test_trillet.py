"""Trillet as its pages describe it: a failed job's `error` text tells busy and no answer apart,
callbacks come signed as `{event, data}` or unsigned as the flat job object (authenticated by the
callback URL's token), and the emulator's own strictness (seeds/003, providers.md 2.4)."""

from __future__ import annotations

import json

import httpx
import pytest
from django.test import Client

from callops.calls.models import Call
from callops.providers.callback_auth import hmac_hex
from callops.providers.emulators.trillet import BUSY_TEXT, NO_ANSWER_TEXT
from callops.providers.registry import adapter_for

from .conftest import AGENT_IDS, new_call, place, submit

pytestmark = pytest.mark.usefixtures("clock")

NUMBER = "+14155550123"
SECRET = "whsec_trillet"
NOWHERE = "http://127.0.0.1:9/"  # the emulator's own loop posts here and is refused; tests post themselves


def _post(account, body: bytes, headers: dict | None = None):
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()}
    return Client().post(f"/callbacks/trillet/{account.callback_token}/", body, content_type="application/json",
                         **extra)


def _messages(emu, call_id):
    call = emu.calls[call_id]
    return [m for step in range(len(call.outcome.steps)) for m in emu.callback_messages(call, step)]


@pytest.mark.parametrize(("outcome", "status", "reason", "error_code"), [
    ("busy", "busy", BUSY_TEXT, ""),
    ("no_answer", "no_answer", NO_ANSWER_TEXT, ""),
    ("failed", "failed", "Invalid phone number", "call_failed"),
])
def test_failed_error_text_decides_busy_and_no_answer(outcome, status, reason, error_code, emulators, make_agent,
                                                      drive):
    emu = emulators("trillet")
    emu.script(NUMBER, outcome)
    call = submit(make_agent("trillet", emu), NUMBER)
    drive([call.pk])
    call = Call.objects.get(pk=call.pk)
    assert emu.expected_final(NUMBER) == status
    assert (call.status, call.provider_status, call.error_code) == (status, "failed", error_code)
    event = call.events.filter(status=status).get()
    assert (event.raw_status, event.reason) == ("failed", reason)


def test_signed_envelope_with_busy_text_ends_busy(emulators, make_agent):
    emu = emulators("trillet", secret=SECRET)
    emu.script(NUMBER, "busy")
    agent = make_agent("trillet", emu, secret=SECRET)
    call = place(agent, NUMBER)
    (headers, body), = _messages(emu, call.provider_call_id)
    assert json.loads(body) == {"event": "call.failed", "data": {
        "callId": call.provider_call_id, "agentId": AGENT_IDS["trillet"], "status": "failed", "error": BUSY_TEXT,
        "answered_by_voicemail": False}}
    response = _post(agent.provider_account, body, headers)
    assert (response.status_code, response.json()) == (200, {"received": 1, "applied": 1, "unknown": 0})
    call = Call.objects.get(pk=call.pk)
    assert (call.status, call.provider_status) == ("busy", "failed")
    # The webhook page's SMS events are about no call: answered 200, nothing applied.
    sms = json.dumps({"event": "sms.delivered", "data": {"messageId": "m1", "to": NUMBER}}).encode()
    response = _post(agent.provider_account, sms, {"X-Trillet-Signature": hmac_hex(SECRET, sms)})
    assert (response.status_code, response.json()) == (200, {"received": 0, "applied": 0, "unknown": 0})


def test_flat_job_callbacks_for_a_call_placed_alone(emulators, make_agent):
    emu = emulators("trillet", callback_style="job", secret=SECRET)
    emu.script(NUMBER, "no_answer")
    agent = make_agent("trillet", emu, secret=SECRET)
    call = place(agent, NUMBER)
    msgs = _messages(emu, call.provider_call_id)
    bodies = [json.loads(b) for _, b in msgs]
    assert [h for h, _ in msgs] == [{}, {}]  # Trillet does not sign the job object
    assert [(b["jobId"], b["status"], b.get("error")) for b in bodies] == [
        (call.provider_call_id, "waiting", None), (call.provider_call_id, "failed", NO_ANSWER_TEXT)]
    for _, body in msgs:
        response = _post(agent.provider_account, body)
        assert (response.status_code, response.json()) == (200, {"received": 1, "applied": 1, "unknown": 0})
    call = Call.objects.get(pk=call.pk)
    assert (call.status, call.provider_status, call.provider_job_id) == ("no_answer", "failed", "")
    # The envelope still needs its signature when the account has a secret.
    envelope = json.dumps({"event": "call.completed", "data": {"callId": call.provider_call_id}}).encode()
    assert _post(agent.provider_account, envelope).status_code == 401
    # A job object that does come signed is checked.
    assert _post(agent.provider_account, msgs[0][1], {"X-Trillet-Signature": "0" * 64}).status_code == 401
    good = {"X-Trillet-Signature": hmac_hex(SECRET, msgs[0][1])}
    assert _post(agent.provider_account, msgs[0][1], good).status_code == 200


def test_flat_job_callbacks_for_a_batch_job_keep_both_ids(emulators, make_agent):
    emu = emulators("trillet", callback_style="job", callback_url=NOWHERE)
    emu.script("+14155550001", "busy")
    agent = make_agent("trillet", emu)
    adapter = adapter_for(agent.provider_account)
    batch_id = adapter.place_batch(AGENT_IDS["trillet"], [{"phone_number": "+14155550001"},
                                                          {"phone_number": "+14155550002"}])
    emu_busy, emu_done = (next(c for c in emu.calls.values() if c.number == n)
                          for n in ("+14155550001", "+14155550002"))
    busy, done = new_call(agent, "+14155550001"), new_call(agent, "+14155550002")
    for call, emu_call in ((busy, emu_busy), (done, emu_done)):
        Call.objects.filter(pk=call.pk).update(provider_job_id=f"{batch_id}/{emu_call.job_id}")
    for emu_call in (emu_busy, emu_done):
        for _, body in _messages(emu, emu_call.id):
            response = _post(agent.provider_account, body)
            assert (response.status_code, response.json()) == (200, {"received": 1, "applied": 1, "unknown": 0})
    busy, done = Call.objects.get(pk=busy.pk), Call.objects.get(pk=done.pk)
    assert (busy.status, busy.provider_status, busy.provider_call_id, busy.provider_job_id) == (
        "busy", "failed", "", f"{batch_id}/{emu_busy.job_id}")
    # The finished job names its call-history id (`result.callId`), which is kept beside the job id.
    assert (done.status, done.provider_call_id, done.provider_job_id) == (
        "completed", emu_done.id, f"{batch_id}/{emu_done.job_id}")
    assert done.transcript[0] == {"role": "agent", "text": "Hello there, this is an automated call from Acme "
                                                           "Clinic about your appointment."}
    # The same job id on another number is someone else's job: not applied.
    stray = json.dumps({"jobId": emu_busy.job_id, "status": "completed", "phone_number": "+14155550999"}).encode()
    assert _post(agent.provider_account, stray).json() == {"received": 1, "applied": 0, "unknown": 1}


def test_create_body_has_only_trillet_fields(emulators, make_agent):
    emu = emulators("trillet")
    agent = make_agent("trillet", emu)
    call = place(agent, NUMBER, context={"first_name": "Ann"}, metadata={"crm": "42"})
    assert emu.calls[call.provider_call_id].request == {
        "to": NUMBER, "call_agent_id": AGENT_IDS["trillet"], "callback_url": agent.provider_account.callback_url,
        "dynamic_variables": {"first_name": "Ann"}, "metadata": {"crm": "42", "callops_call_id": str(call.public_id)}}


@pytest.mark.parametrize(("body", "message"), [
    ({"call_agent_id": "a"}, "to is required"),
    ({"to": NUMBER}, "call_agent_id is required"),
    ({"to": NUMBER, "call_agent_id": "a", "agent_id": "a"}, "unknown field: agent_id"),
    ({"to": NUMBER, "call_agent_id": "a", "dynamic_variables": "x"}, "dynamic_variables must be an object"),
])
def test_emulator_rejects_create_bodies(body, message, emulators):
    emu = emulators("trillet")
    headers = {"x-api-key": emu.api_key, "x-workspace-id": emu.workspace_id}
    r = httpx.post(f"{emu.url}/v1/api/call", json=body, headers=headers)
    assert (r.status_code, r.json()) == (400, {"status": "error", "error": message})
    assert emu.calls == {}


def test_emulator_needs_both_auth_headers_exactly(emulators):
    emu = emulators("trillet")
    body = {"to": NUMBER, "call_agent_id": "a"}
    for headers in ({"x-api-key": emu.api_key}, {"x-workspace-id": emu.workspace_id},
                    {"x-api-key": emu.api_key, "x-workspace-id": emu.workspace_id + "x"}):
        r = httpx.post(f"{emu.url}/v1/api/call", json=body, headers=headers)
        assert (r.status_code, r.json()) == (401, {"status": "error", "error": "Unauthorized: x-api-key and "
                                                                              "x-workspace-id are required"})
