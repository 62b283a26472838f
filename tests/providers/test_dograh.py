"""Dograh as its server behaves (github dograh-hq/dograh): webhook headers and default template,
delivery ids, credential types, the run read without `state`, public artifact links, the
transcript, caller-id fields and the emulator's own strictness."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from django.db import DatabaseError
from django.test import Client

from callops.calls import provider_callbacks
from callops.calls.models import Call, CallEvent
from callops.calls.status_sync import sync_call
from callops.providers.models import PhoneNumber
from tests.helpers import current_clock

from .conftest import EMU_SPEED, TRIGGER_UUID, place

pytestmark = pytest.mark.usefixtures("clock")

NUMBER = "+14155550123"
TRANSCRIPT = [{"role": "agent", "text": "Hi, this is Acme calling about your appointment."},
              {"role": "user", "text": "Yes, I can come on Tuesday."}]


def _post(account, body: bytes, headers: dict):
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k.lower() != "content-type"}
    return Client().post(f"/callbacks/dograh/{account.callback_token}/", body, content_type="application/json",
                         **extra)


def _finish(emu, call):
    current_clock().advance(40 / EMU_SPEED)
    emu_call = emu.calls[call.provider_call_id]
    return emu.callback_messages(emu_call, len(emu_call.outcome.steps) - 1)[0]


def test_default_template_webhook_takes_the_run_id_from_the_header(emulators, make_agent):
    emu = emulators("dograh")
    agent = make_agent("dograh", emu)
    call = place(agent, NUMBER)
    headers, body = _finish(emu, call)
    assert json.loads(body) == {"call_id": call.provider_call_id, "first_name": "", "rsvp": "", "duration": "30",
                                "recording_url": f"recordings/{call.provider_call_id}.wav",
                                "user_recording_url": "", "bot_recording_url": "",
                                "transcript_url": f"transcripts/{call.provider_call_id}.txt",
                                "call_disposition": "user_hangup"}
    response = _post(agent.provider_account, body, headers)
    assert (response.status_code, response.json()) == (200, {"received": 1, "applied": 1, "unknown": 0})
    assert Call.objects.get(pk=call.pk).status == "completed"
    # The transcript and the public links come from the run read the worker makes right after.
    assert Call.objects.get(pk=call.pk).next_sync_at is not None
    sync_call(call.pk)
    call = Call.objects.get(pk=call.pk)
    token = emu.token(emu.calls[call.provider_call_id])
    assert call.recording_url == f"{emu.url}/api/v1/public/download/workflow/{token}/recording"
    assert call.transcript == TRANSCRIPT
    assert call.provider_status == "completed:user_hangup"


@pytest.mark.parametrize(("style", "key"), [("default", "call_id"), ("docs", "run_id"),
                                            ("disposition", "workflow_run_id")])
def test_run_id_from_body_keys_without_the_header(style, key, emulators, make_agent):
    emu = emulators("dograh", payload=style)
    emu.script(NUMBER, "busy")
    agent = make_agent("dograh", emu)
    call = place(agent, NUMBER)
    headers, body = _finish(emu, call)
    assert str(json.loads(body)[key]) == call.provider_call_id
    headers.pop("X-Dograh-Workflow-Run-Id")
    response = _post(agent.provider_account, body, headers)
    assert (response.status_code, response.json()) == (200, {"received": 1, "applied": 1, "unknown": 0})
    assert Call.objects.get(pk=call.pk).status == "busy"


def test_template_without_a_disposition_leaves_the_outcome_to_the_run_read(emulators, make_agent):
    emu = emulators("dograh")
    agent = make_agent("dograh", emu)
    call = place(agent, NUMBER)
    headers, _ = _finish(emu, call)
    response = _post(agent.provider_account, json.dumps({"note": "custom template"}).encode(), headers)
    assert (response.status_code, response.json()) == (200, {"received": 1, "applied": 1, "unknown": 0})
    assert sync_call(call.pk) == "completed"
    assert Call.objects.get(pk=call.pk).transcript == TRANSCRIPT


def test_duplicate_delivery_is_dropped(emulators, make_agent):
    emu = emulators("dograh", payload="disposition")
    emu.script(NUMBER, "busy")
    agent = make_agent("dograh", emu)
    call = place(agent, NUMBER)
    headers, body = _finish(emu, call)
    assert _post(agent.provider_account, body, headers).json() == {"received": 1, "applied": 1, "unknown": 0}
    again = _post(agent.provider_account, body, {**headers, "X-Dograh-Delivery-Attempt": "2"})
    assert (again.status_code, again.json()) == (200, {"received": 1, "applied": 0, "unknown": 0,
                                                       "duplicate": True})
    assert CallEvent.objects.filter(call=call, source="callback").count() == 1


def test_transient_failure_answers_503_and_the_retry_applies(emulators, make_agent, monkeypatch):
    emu = emulators("dograh", payload="disposition")
    emu.script(NUMBER, "busy")
    agent = make_agent("dograh", emu)
    call = place(agent, NUMBER)
    headers, body = _finish(emu, call)
    real = provider_callbacks.apply_provider_report

    def broken(*a, **kw):
        raise DatabaseError("connection lost")

    monkeypatch.setattr(provider_callbacks, "apply_provider_report", broken)
    response = _post(agent.provider_account, body, headers)
    assert (response.status_code, response.json()) == (503, {"error": "callback could not be applied now; retry"})
    monkeypatch.setattr(provider_callbacks, "apply_provider_report", real)
    assert _post(agent.provider_account, body, headers).json() == {"received": 1, "applied": 1, "unknown": 0}
    assert Call.objects.get(pk=call.pk).status == "busy"


CREDENTIALS = [  # (account setting, secret, headers Dograh's build_auth_header sends)
    ("bearer_token", "tok-1", {"Authorization": "Bearer tok-1"}),
    ("api_key", "key-1", {"X-API-Key": "key-1"}),
    ("api_key:X-Partner-Key", "key-2", {"X-Partner-Key": "key-2"}),
    ("basic_auth", "ops:pa:ss", {"Authorization": "Basic " + base64.b64encode(b"ops:pa:ss").decode()}),
    ("custom_header:X-Hook-Token", "hv-1", {"X-Hook-Token": "hv-1"}),
]


@pytest.mark.parametrize(("setting", "secret", "auth"), CREDENTIALS)
def test_every_dograh_credential_type(setting, secret, auth, emulators, make_agent):
    emu = emulators("dograh", payload="disposition", webhook_auth=auth)
    emu.script(NUMBER, "busy")
    agent = make_agent("dograh", emu, secret=secret,
                       credentials={"api_key": emu.api_key, "callback_auth": setting})
    call = place(agent, NUMBER)
    headers, body = _finish(emu, call)
    wrong = {**headers, **{k: v[:-1] + "X" for k, v in auth.items()}}
    assert _post(agent.provider_account, body, {**wrong, "X-Dograh-Delivery-Id": "other"}).status_code == 401
    missing = {k: v for k, v in headers.items() if k not in auth}
    assert _post(agent.provider_account, body, {**missing, "X-Dograh-Delivery-Id": "x2"}).status_code == 401
    assert _post(agent.provider_account, body, headers).status_code == 200
    assert Call.objects.get(pk=call.pk).status == "busy"


def test_run_read_has_no_state_and_maps_from_its_fields(emulators, make_agent):
    emu = emulators("dograh")
    call = place(make_agent("dograh", emu), NUMBER)
    run = httpx.get(f"{emu.url}/api/v1/workflow/42/runs/{call.provider_call_id}",
                    headers={"X-API-Key": emu.api_key}).json()
    assert "state" not in run and "status" not in run
    assert sync_call(call.pk) == "queued"
    assert Call.objects.get(pk=call.pk).provider_status == "initialized"
    current_clock().advance(7 / EMU_SPEED)
    assert sync_call(call.pk) == "in_progress"


def test_from_number_sends_the_dograh_ids(emulators, make_agent):
    emu = emulators("dograh")
    agent = make_agent("dograh", emu, credentials={"api_key": emu.api_key, "telephony_configuration_id": "7"})
    PhoneNumber.objects.create(organization=agent.organization, provider_account=agent.provider_account,
                               e164="+14155550999", provider_number_id="31")
    call = place(agent, NUMBER, from_number="+14155550999")
    assert emu.calls[call.provider_call_id].request == {
        "phone_number": NUMBER, "initial_context": {"callops_call_id": str(call.public_id)},
        "telephony_configuration_id": 7, "from_phone_number_id": 31}
    unknown = place(agent, NUMBER, from_number="+14155550888")
    assert (unknown.status, unknown.error_code) == ("failed", "invalid_from_number")


def test_emulator_rejects_like_fastapi(emulators):
    emu = emulators("dograh")
    url = f"{emu.url}/api/v1/public/agent/{TRIGGER_UUID}"
    r = httpx.post(url, json={"phone_number": NUMBER, "agent_id": "x"}, headers={"X-API-Key": emu.api_key})
    assert (r.status_code, r.json()) == (422, {"detail": [{"type": "extra_forbidden", "loc": ["body", "agent_id"],
                                                           "msg": "Extra inputs are not permitted", "input": "x"}]})
    r = httpx.post(url, json={"from_phone_number_id": "31"}, headers={"X-API-Key": emu.api_key})
    assert (r.status_code, r.json()) == (422, {"detail": [
        {"type": "missing", "loc": ["body", "phone_number"], "msg": "Field required",
         "input": {"from_phone_number_id": "31"}},
        {"type": "int_type", "loc": ["body", "from_phone_number_id"], "msg": "Input should be a valid int",
         "input": "31"}]})
    r = httpx.post(url, json={"phone_number": NUMBER}, headers={"X-API-Key": emu.api_key + "x"})
    assert (r.status_code, r.json()) == (401, {"detail": "Invalid or missing API key"})


def test_emulator_retries_only_retryable_answers_with_one_delivery_id(emulators):
    answers = iter([503, 429, 400, 200])
    seen: list[tuple[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append((self.headers["X-Dograh-Delivery-Id"], self.headers["X-Dograh-Delivery-Attempt"]))
            self.send_response(next(answers))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        emu = emulators("dograh", retry_delay=0)
        emu._submit_post("1", f"http://127.0.0.1:{server.server_port}/", {"X-Dograh-Delivery-Id": "d-1"}, b"{}")
        emu._pool.shutdown(wait=True)
    finally:
        server.shutdown()
    assert seen == [("d-1", "1"), ("d-1", "2"), ("d-1", "3")]  # 400 is final: never retried
    assert emu.deliveries == [("d-1", 1, 503), ("d-1", 2, 429), ("d-1", 3, 400)]


def test_transcript_fetch_goes_through_the_outbound_guard(emulators, make_agent, monkeypatch):
    emu = emulators("dograh")
    agent = make_agent("dograh", emu)
    call = place(agent, NUMBER)
    headers, body = _finish(emu, call)
    real_run = emu.run
    # A link to the cloud metadata address: the guard refuses it, so nothing is stored from it.
    monkeypatch.setattr(emu, "run", lambda c, step=-1: {
        **real_run(c, step), "transcript_public_url": "http://169.254.169.254/latest/meta-data"})
    assert _post(agent.provider_account, body, headers).status_code == 200
    assert sync_call(call.pk) == "details_error"
    call = Call.objects.get(pk=call.pk)
    assert (call.status, call.transcript) == ("completed", [])
