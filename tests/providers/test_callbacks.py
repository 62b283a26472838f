"""Inbound provider callbacks: verification, parsing, idempotency, unknown ids, real delivery."""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client

from callops.calls.models import RANK, Call, CallEvent
from callops.providers.callback_auth import hmac_hex, sign_timestamped
from callops.providers.emulators.core import Faults, Outcome
from tests.helpers import wait_for

from .conftest import place

pytestmark = pytest.mark.django_db
NUMBER = "+14155550123"
SECRET = "whsec_test_secret"


def _post(account, body: bytes, headers: dict | None = None, token: str | None = None):
    url = f"/callbacks/{account.kind}/{token or account.callback_token}/"
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()}
    return Client().post(url, body, content_type="application/json", **extra)


def _messages(emu, call_id):
    """Every callback the emulator would send for the whole timeline of `call_id`."""
    call = emu.calls[call_id]
    return [m for step in range(len(call.outcome.steps)) for m in emu.callback_messages(call, step)]


def test_callingbox_signed_events_drive_the_call(emulators, make_agent):
    emu = emulators("callingbox", secret=SECRET)
    agent = make_agent("callingbox", emu, secret=SECRET)
    call = place(agent, NUMBER)
    msgs = _messages(emu, call.provider_call_id)
    assert [json.loads(b)["type"] for _, b in msgs] == ["call.queued", "call.ringing", "call.answered",
                                                         "call.completed"]
    # reordered and duplicated: the terminal event first, then everything again
    for headers, body in [msgs[-1], *msgs, msgs[-1]]:
        assert _post(agent.provider_account, body, headers).status_code == 200
    call = Call.objects.get(pk=call.pk)
    assert call.status == "completed" and call.answered_by == "human"
    events = CallEvent.objects.filter(call=call, source="callback")
    assert events.filter(ignored=False, status="completed").count() == 1
    assert events.filter(ignored=True).count() >= 4


def test_callingbox_signature_rules(emulators, make_agent):
    emu = emulators("callingbox", secret=SECRET)
    agent = make_agent("callingbox", emu, secret=SECRET)
    call = place(agent, NUMBER)
    _, body = _messages(emu, call.provider_call_id)[1]
    account = agent.provider_account
    assert _post(account, body, {"CallingBox-Signature": sign_timestamped(body, "whsec_other")}).status_code == 401
    stale = sign_timestamped(body, SECRET, t=int(time.time()) - 301)
    assert _post(account, body, {"CallingBox-Signature": stale}).status_code == 401
    assert _post(account, body, {}).status_code == 401
    assert Call.objects.get(pk=call.pk).status == "queued"
    # during rotation two v1 values arrive; one valid is enough
    good = sign_timestamped(body, SECRET)
    t, v1 = good.split(",")
    rotated = f"{t},v1={hmac_hex('whsec_old', b'x')},{v1}"
    assert _post(account, body, {"CallingBox-Signature": rotated}).status_code == 200
    assert Call.objects.get(pk=call.pk).status == "ringing"


def test_unknown_token_404_and_unknown_call_200(emulators, make_agent):
    emu = emulators("bolna")
    agent = make_agent("bolna", emu)
    body = json.dumps({"id": "00000000-0000-0000-0000-000000000000", "status": "completed"}).encode()
    assert _post(agent.provider_account, body, token="not-a-token").status_code == 404
    response = _post(agent.provider_account, body)
    assert response.status_code == 200 and response.json()["unknown"] == 1
    assert _post(agent.provider_account, b"{not json").status_code == 400
    big = b'{"id": "x", "pad": "' + b"a" * 300_000 + b'"}'
    assert _post(agent.provider_account, big).status_code == 413


def test_bolna_unsigned_pushes_by_token(emulators, make_agent):
    emu = emulators("bolna")
    agent = make_agent("bolna", emu)
    call = place(agent, NUMBER)
    msgs = _messages(emu, call.provider_call_id)
    raws = [json.loads(b)["status"] for _, b in msgs]
    assert raws == ["queued", "initiated", "ringing", "in-progress", "call-disconnected", "completed"]
    for headers, body in msgs[:5]:
        assert _post(agent.provider_account, body, headers).status_code == 200
    mid = Call.objects.get(pk=call.pk)
    assert (mid.status, mid.provider_status) == ("in_progress", "call-disconnected")
    assert _post(agent.provider_account, msgs[5][1]).status_code == 200
    assert Call.objects.get(pk=call.pk).status == "completed"


def test_trillet_signed_callbacks(emulators, make_agent):
    emu = emulators("trillet", secret=SECRET)
    agent = make_agent("trillet", emu, secret=SECRET)
    call = place(agent, NUMBER)
    msgs = _messages(emu, call.provider_call_id)
    assert [json.loads(b)["event"] for _, b in msgs] == ["call.started", "call.completed"]
    assert _post(agent.provider_account, msgs[1][1], {"X-Trillet-Signature": "0" * 64}).status_code == 401
    for headers, body in msgs:
        assert _post(agent.provider_account, body, headers).status_code == 200
    assert Call.objects.get(pk=call.pk).status == "completed"


def test_dograh_webhook_node_with_auth_header(emulators, make_agent):
    emu = emulators("dograh", webhook_auth={"Authorization": "Bearer node-secret"}, payload="disposition")
    emu.script(NUMBER, "busy")
    agent = make_agent("dograh", emu, secret="node-secret")
    call = place(agent, NUMBER)
    msgs = _messages(emu, call.provider_call_id)
    assert len(msgs) == 1  # one post, after the run ends
    headers, body = msgs[0]
    assert json.loads(body)["call_disposition"] == "busy"
    assert _post(agent.provider_account, body, {"Authorization": "Bearer wrong"}).status_code == 401
    assert _post(agent.provider_account, body, headers).status_code == 200
    call = Call.objects.get(pk=call.pk)
    assert call.status == "busy" and call.provider_status == "completed:busy"


def test_dograh_callback_ids_never_match_a_workflow_id(emulators, make_agent):
    """Run ids and workflow ids are both small integers: a webhook for run 42 must update the call
    whose run is 42, not a later call of workflow 42 (provider_job_id)."""
    emu = emulators("dograh", first_run_id=42, payload="disposition")  # the workflow id in TRIGGER_UUID's mapping is 42
    emu.script("+14155550001", "busy")
    agent = make_agent("dograh", emu)
    run_42 = place(agent, "+14155550001")
    run_43 = place(agent, "+14155550002")  # newer, and its provider_job_id is "42"
    assert (run_42.provider_call_id, run_42.provider_job_id) == ("42", "42")
    assert (run_43.provider_call_id, run_43.provider_job_id) == ("43", "42")
    (headers, body), = _messages(emu, "42")
    assert json.loads(body)["workflow_run_id"] == 42
    response = _post(agent.provider_account, body, headers)
    assert response.status_code == 200 and response.json()["applied"] == 1
    assert Call.objects.get(pk=run_42.pk).status == "busy"
    assert Call.objects.get(pk=run_43.pk).status == "queued"
    assert not CallEvent.objects.filter(call=run_43, source="callback").exists()
    # A run id nobody has (it is only a workflow id here) is unknown, not "the call of workflow 7".
    Call.objects.filter(pk=run_43.pk).update(provider_job_id="7")
    stray = json.dumps({**json.loads(body), "workflow_run_id": 7}).encode()
    stray_headers = {**headers, "X-Dograh-Delivery-Id": "stray", "X-Dograh-Workflow-Run-Id": "7"}
    assert _post(agent.provider_account, stray, stray_headers).json() == {"received": 1, "applied": 0, "unknown": 1}


@pytest.mark.django_db(transaction=True)
def test_callbacks_delivered_over_http(emulators, make_agent, live_server, short_db_connections, settings):
    """The emulator posts real, duplicated and reordered callbacks to the running app; nothing
    polls, so every status the call took came from a callback, and every delivery is on the
    timeline exactly once."""
    settings.PUBLIC_URL = live_server.url
    faults = Faults(p_duplicate_callback=0.5, p_reorder_callback=0.5, reorder_delay=0.2, timeout_sleep=0.6, seed=3)
    emu = emulators("callingbox", secret=SECRET, faults=faults)
    emu.script("+14155550001", Outcome([(0, "queued"), (1, "ringing"), (3, "in_progress"), (10, "completed")],
                                       "completed", {"answered_by": "human"}))
    emu.script("+14155550002", "busy")
    agent = make_agent("callingbox", emu, secret=SECRET)
    calls = [place(agent, "+14155550001"), place(agent, "+14155550002")]
    def settled():
        states = [Call.objects.get(pk=c.pk).status for c in calls]
        return states == ["completed", "busy"] and not emu.pending_callbacks()

    # Real concurrency: the emulator's thread posts to the live server; the last reordered callback
    # is held back 0.2 s after the final status.
    wait_for(settled, "both calls to end by callback, with every callback answered", interval=0.05)
    assert all(status == 200 for _, status in emu.callbacks_sent)
    call = Call.objects.get(pk=calls[0].pk)
    accepted = list(CallEvent.objects.filter(call=call, kind="status", ignored=False).exclude(source="api")
                    .order_by("created_at", "id").values_list("source", "status"))
    # Placement answered `queued`; every change after it came by callback, only ever forward (a
    # reordered `ringing` arriving after `completed` is recorded as ignored, not applied).
    assert {source for source, _ in accepted} == {"callback"} and accepted[-1][1] == "completed"
    ranks = [RANK[status] for _, status in accepted]
    assert ranks == sorted(set(ranks))
    # Each delivery is recorded once, except one that overtook the placement's own record of the
    # provider's id: that one is answered as unknown (a loaded machine widens that window; the later
    # callbacks still carry the call to its end). The answers say which, so nothing is assumed.
    answers = [json.loads(body) for (call_id, _), body in zip(emu.callback_log, emu.callback_answers, strict=True)
               if call_id == call.provider_call_id]
    applied, unknown = sum(a["applied"] for a in answers), sum(a["unknown"] for a in answers)
    recorded = CallEvent.objects.filter(call=call, source="callback").count()
    assert len(answers) >= 4 and applied + unknown == len(answers)  # 4 events, some delivered twice
    assert recorded == applied
    assert CallEvent.objects.filter(call=call, source="callback", ignored=True).count() == applied - len(accepted)
