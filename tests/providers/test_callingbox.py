"""CallingBox as its official SDK (callingbox 0.1.0) speaks: the prompt-based create with the
SDK's fields only, the account setting that picks the create shape, recovery of an interrupted
placement that pages as `Calls.list` does, and no second dial on accounts that do not echo
callops' call id."""

from __future__ import annotations

import inspect
import time
from datetime import timedelta

import httpx
import pytest
from callingbox.resources.calls import Calls
from django.utils import timezone

from callops.batches.models import Batch
from callops.calls import services
from callops.calls.jobs import sweep_interrupted_placements
from callops.calls.models import Call, CallStatus
from callops.providers import callingbox
from callops.providers.base import PlacementUnknown
from callops.providers.registry import adapter_for

from .conftest import AGENT_IDS, new_call

pytestmark = pytest.mark.django_db

NUMBER = "+14155550161"
# The body keys the SDK's create can send (`from_` goes out as `from_number`).
SDK_CREATE_FIELDS = {("from_number" if p == "from_" else p) for p in inspect.signature(Calls.create).parameters} - {
    "self"}
RETURNS = {"confirmed": "boolean", "party_size": "integer"}
TOOLS = [{"type": "end_call", "description": "hang up once confirmed"}]


def _prompt_agent(make_agent, emu, *, agent_id: str | None = None):
    """An agent on an account whose API is the SDK's prompt-based one (create_api=prompt)."""
    return make_agent("callingbox", emu, credentials={"api_key": emu.api_key, "create_api": "prompt"},
                      agent_id=agent_id)


def _claimed_long_ago(call, seconds=120):
    Call.objects.filter(pk=call.pk).update(dial_claimed_at=timezone.now() - timedelta(seconds=seconds))
    call.refresh_from_db()
    return call


def _interrupted(agent, emu, number=NUMBER, **kw):
    """A call whose create reached CallingBox and whose worker died before recording the answer."""
    call = new_call(agent, number, **kw)
    assert services.claim_for_dialing(call)
    placement = adapter_for(agent.provider_account).place_call(Call.objects.get(pk=call.pk))
    return _claimed_long_ago(call), placement


def test_the_sdk_create_fields_are_the_ones_the_issue_names():
    assert SDK_CREATE_FIELDS == {"to", "prompt", "context", "returns", "language", "from_number", "webhook_url",
                                 "voicemail_action", "tools"}


def test_prompt_account_sends_the_sdk_fields_only_even_for_an_agent_with_an_agent_id(emulators, make_agent):
    emu = emulators("callingbox", api="prompt")
    agent = _prompt_agent(make_agent, emu)  # has AGENT_IDS["callingbox"]: not sent to a prompt account
    call = new_call(agent, NUMBER, instructions="Confirm Tuesday's visit.", context={"name": "Ada"},
                    returns=RETURNS, language="es", voicemail_action="leave_message", tools=TOOLS,
                    from_number="+15550000000", metadata={"crm_id": "7"})
    placed = services.place_call(call)
    assert placed.status == CallStatus.QUEUED and placed.provider_call_id
    sent = emu.calls[placed.provider_call_id].request
    assert sent == {"to": NUMBER, "prompt": "Confirm Tuesday's visit.", "context": {"name": "Ada"},
                    "returns": RETURNS, "language": "es", "from_number": "+15550000000",
                    "webhook_url": f"{agent.provider_account.callback_url}?callops_call_id={call.public_id}",
                    "voicemail_action": "leave_message", "tools": TOOLS}
    assert set(sent) <= SDK_CREATE_FIELDS


def test_a_blank_agent_id_uses_the_prompt_create_and_never_sends_an_empty_agent_id(emulators, make_agent):
    emu = emulators("callingbox")  # takes both shapes
    agent = make_agent("callingbox", emu, agent_id="  ")
    placed = services.place_call(new_call(agent, NUMBER, instructions="Say hello."))
    sent = emu.calls[placed.provider_call_id].request
    assert sent == {"to": NUMBER, "prompt": "Say hello.",
                    "webhook_url": f"{agent.provider_account.callback_url}?callops_call_id={placed.public_id}"}


def test_agent_based_create_body(emulators, make_agent):
    emu = emulators("callingbox", api="agent")
    agent = make_agent("callingbox", emu)
    placed = services.place_call(new_call(agent, NUMBER, instructions="Ask for Ada.", context={"name": "Ada"},
                                          metadata={"crm_id": "7"}, from_number="+15550000000"))
    assert emu.calls[placed.provider_call_id].request == {
        "agent_id": AGENT_IDS["callingbox"], "to": NUMBER, "webhook_url": agent.provider_account.callback_url,
        "metadata": {"crm_id": "7", "callops_call_id": str(placed.public_id)}, "instructions": "Ask for Ada.",
        "from_number": "+15550000000", "context": {"name": "Ada"}}


def test_agent_only_account_refuses_an_agent_without_an_agent_id_before_dialing(emulators, make_agent):
    emu = emulators("callingbox", api="agent")
    agent = make_agent("callingbox", emu, credentials={"api_key": emu.api_key, "create_api": "agent"}, agent_id="")
    placed = services.place_call(new_call(agent, NUMBER))
    assert (placed.status, placed.error_code) == (CallStatus.FAILED, "agent_id_required")
    assert emu.creates[NUMBER] == 0 and emu.requests == {}


def test_per_call_options_follow_the_account_shape(emulators, make_agent):
    emu = emulators("callingbox")
    prompt_account_agent = _prompt_agent(make_agent, emu)
    agent_account_agent = make_agent("callingbox", emu)
    assert callingbox.Adapter.per_call_refusal("language", prompt_account_agent) is None
    assert "agent-based call" in callingbox.Adapter.per_call_refusal("language", agent_account_agent)


@pytest.mark.parametrize(("body", "error"), [
    ({"to": NUMBER, "agent_id": AGENT_IDS["callingbox"]},
     "unknown field 'agent_id'; this account's create takes context, from_number, language, prompt, returns, "
     "to, tools, voicemail_action, webhook_url"),
    ({"to": NUMBER, "metadata": {"callops_call_id": "x"}}, "unknown field 'metadata'"),
    ({"to": NUMBER, "instructions": "hi"}, "unknown field 'instructions'"),
    ({"to": NUMBER, "returns": "confirmed"}, "returns must be an object"),
    ({"to": NUMBER, "voicemail_action": "beep"}, "voicemail_action must be hangup or leave_message"),
    ({"prompt": "hi"}, "to is required"),
])
def test_strict_emulator_rejects_what_a_prompt_account_does_not_take(emulators, body, error):
    emu = emulators("callingbox", api="prompt")
    response = httpx.post(f"{emu.url}/v1/calls", json=body, headers={"Authorization": f"Bearer {emu.api_key}"})
    assert response.status_code == 400
    assert set(response.json()) == {"error"} and response.json()["error"].startswith(error)
    assert emu.calls == {}


def test_an_agent_based_body_on_a_prompt_account_fails_the_call_with_the_providers_words(emulators, make_agent):
    """Without create_api=prompt, an agent with an agent id sends the agent-based create; a prompt
    account answers 400 and nothing is dialed (a lenient server would have dialed the default greeting)."""
    emu = emulators("callingbox", api="prompt")
    agent = make_agent("callingbox", emu)
    placed = services.place_call(new_call(agent, NUMBER, instructions="Confirm."))
    assert placed.status == CallStatus.FAILED and "unknown field 'agent_id'" in placed.error_message
    assert emu.creates[NUMBER] == 0


# --- recovery: the SDK's pages ------------------------------------------------------------------

def _listed(emu):
    """Record the query of every list request the emulator answers."""
    seen: list[dict] = []
    real = emu.list_calls

    def spy(req):
        seen.append(dict(req.query))
        return real(req)

    emu.list_calls = spy
    return seen


def _others(emu, n, *, number="+14155550199", age=0.0):
    """`n` calls on the account placed by someone else (another number), `age` seconds ago."""
    for i in range(n):
        c = emu.new_call(f"other-{age}-{i}", number, request={"to": number, "prompt": "other"})
        c.created = time.time() - age
        emu.order.append(c.id)


def test_recovery_pages_with_starting_after_past_page_one(emulators, make_agent):
    emu = emulators("callingbox", api="prompt")
    agent = _prompt_agent(make_agent, emu)
    call, placement = _interrupted(agent, emu)
    _others(emu, 230)  # newer than ours: it is on the third page
    seen = _listed(emu)
    found = adapter_for(agent.provider_account).find_placement(call, since=call.dial_claimed_at)
    assert found.provider_call_id == placement.provider_call_id
    newest = list(reversed(emu.order))
    assert seen == [{"limit": "100"}, {"limit": "100", "starting_after": newest[99]},
                    {"limit": "100", "starting_after": newest[199]}]


def test_recovery_stops_once_a_page_reaches_back_past_the_claim(emulators, make_agent):
    emu = emulators("callingbox", api="prompt")
    _others(emu, 150, age=3600)  # an hour old: before the claim's window
    agent = _prompt_agent(make_agent, emu)
    call = new_call(agent, NUMBER, scheduled_at=timezone.now())
    assert services.claim_for_dialing(call)
    seen = _listed(emu)
    assert adapter_for(agent.provider_account).find_placement(call, since=call.dial_claimed_at) is None
    assert seen == [{"limit": "100"}]  # has_more was true, but the page already reached back past the window


def test_recovery_is_bounded_by_pages(emulators, make_agent, monkeypatch):
    monkeypatch.setattr(callingbox, "FIND_PAGES", 3)
    emu = emulators("callingbox", api="prompt")
    _others(emu, 350)
    agent = _prompt_agent(make_agent, emu)
    call = new_call(agent, NUMBER, scheduled_at=timezone.now())
    assert services.claim_for_dialing(call)
    seen = _listed(emu)
    with pytest.raises(PlacementUnknown, match="more than 3 pages of calls since the claim"):
        adapter_for(agent.provider_account).find_placement(call, since=call.dial_claimed_at)
    assert len(seen) == 3


def test_a_list_without_has_more_proves_nothing_unless_it_reaches_back(emulators, make_agent):
    emu = emulators("callingbox", api="prompt")
    agent = _prompt_agent(make_agent, emu)
    call = new_call(agent, NUMBER, scheduled_at=timezone.now())
    assert services.claim_for_dialing(call)
    real = emu.list_calls
    emu.list_calls = lambda req: (lambda s, b, h: (s, b["data"], h))(*real(req))  # a bare list, as the SDK accepts
    with pytest.raises(PlacementUnknown, match="ended without reaching the claim time"):
        adapter_for(agent.provider_account).find_placement(call, since=call.dial_claimed_at)


# --- no double dial on accounts that do not echo callops' id ---------------------------------------

def _background(kind, agent, personas):
    """Keyword arguments for a call that callops would place again on its own."""
    if kind == "scheduled":
        return {"scheduled_at": timezone.now()}
    if kind == "retry":
        first = new_call(agent, NUMBER, scheduled_at=timezone.now())
        return {"retry_of": first, "attempt": 2, "scheduled_at": timezone.now()}
    return {"batch": Batch.objects.create(organization=personas.org, agent=agent, name="b")}


@pytest.mark.parametrize("echo", ["path", "none"])
@pytest.mark.parametrize("kind", ["scheduled", "retry", "batch"])
def test_unproven_absence_fails_the_call_without_a_second_dial(emulators, make_agent, run_jobs, personas, kind,
                                                               echo):
    emu = emulators("callingbox", api="prompt", echo_webhook_url=echo)
    agent = _prompt_agent(make_agent, emu)
    call, placement = _interrupted(agent, emu, instructions="Confirm.", **_background(kind, agent, personas))
    assert sweep_interrupted_placements() == 1
    run_jobs()
    call.refresh_from_db()
    assert emu.creates[NUMBER] == 1  # never dialed again
    assert (call.status, call.error_code, call.provider_call_id) == (CallStatus.FAILED, "placement_interrupted", "")
    assert call.error_message == (
        "the request placing this call was interrupted and callingbox could not show whether it received it "
        f"(CallingBox call {placement.provider_call_id} to {NUMBER}, created inside the placement's window, names "
        "no callops call id (the account does not echo it), so it may be this call); callops did not dial it again: "
        "check the provider's console")
    failed = call.events.get(status=CallStatus.FAILED)
    assert (failed.source, failed.from_status) == ("system", CallStatus.QUEUED)
    assert failed.note == "placement interrupted; the provider may have the call, so it is not placed again"
    assert sweep_interrupted_placements() == 0


def test_a_call_that_differs_in_prompt_or_number_rules_itself_out(emulators, make_agent, run_jobs):
    """Without the id, the to-number, the window and the echoed prompt still tell calls apart: another
    prompt to the same number is not ours, so a call that never left is placed again, once."""
    emu = emulators("callingbox", api="prompt", echo_webhook_url="none")
    agent = _prompt_agent(make_agent, emu)
    services.place_call(new_call(agent, NUMBER, instructions="A different script."))
    services.place_call(new_call(agent, "+14155550162", instructions="Confirm."))
    call = _claimed_long_ago(new_call(agent, NUMBER, instructions="Confirm.", scheduled_at=timezone.now()))
    assert services.reconcile_placement(call.pk) == "replaced"
    run_jobs()
    call.refresh_from_db()
    assert call.provider_call_id and emu.creates[NUMBER] == 2  # the other script's call and this one, once


def test_an_agent_account_that_drops_metadata_cannot_prove_absence(emulators, make_agent, run_jobs):
    emu = emulators("callingbox", api="agent")
    agent = make_agent("callingbox", emu)
    real = emu.render
    emu.render = lambda c, step=-1: {**real(c, step), "metadata": {}}
    call, placement = _interrupted(agent, emu, scheduled_at=timezone.now())
    assert services.reconcile_placement(call.pk) == "unverified"
    call.refresh_from_db()
    assert (call.status, call.error_code) == (CallStatus.FAILED, "placement_interrupted")
    assert placement.provider_call_id in call.error_message and emu.creates[NUMBER] == 1


def test_runemulator_takes_the_api_options_for_callingbox_only():
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="--api applies to callingbox only"):
        call_command("runemulator", "bolna", "--api", "prompt")
    with pytest.raises(CommandError, match="--echo-webhook-url applies to callingbox only"):
        call_command("runemulator", "trillet", "--echo-webhook-url", "none")


def test_create_api_is_set_on_the_account_form(personas):
    from django.urls import reverse

    from callops.providers.models import ProviderAccount

    client = personas.admin.client()
    base = {"kind": "callingbox", "name": "CB", "api_key": "sk_live_form", "rate_limit_per_minute": "",
            "is_active": "on"}
    r = client.post(reverse("dashboard:provider_new"), {**base, "create_api": "both"})
    assert r.status_code == 400 and "not one of the choices" in r.content.decode()
    assert not ProviderAccount.objects.filter(kind="callingbox", name="CB").exists()
    r = client.post(reverse("dashboard:provider_new"), {**base, "create_api": "prompt"})
    assert r.status_code == 302
    account = ProviderAccount.objects.get(kind="callingbox", name="CB")
    assert account.credentials == {"api_key": "sk_live_form", "create_api": "prompt"}
    edit = reverse("dashboard:provider_edit", args=[account.public_id])
    page = client.get(edit).content.decode()
    assert "Stored: prompt" in page and "sk_live_form" not in page
    # Blank keeps the stored key; the setting changes on its own.
    r = client.post(edit, {"name": "CB", "rate_limit_per_minute": "", "is_active": "on", "create_api": "agent"})
    assert r.status_code == 302
    account.refresh_from_db()
    assert account.credentials == {"api_key": "sk_live_form", "create_api": "agent"}
