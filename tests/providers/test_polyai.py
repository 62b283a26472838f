"""PolyAI's three API variants as an account setting (`api_variant`): the outbound-calling API,
the Agents API and the connector; each create sends only its own fields with its own auth
header, and the emulator refuses the others as a real account would (providers.md 2.3)."""

from __future__ import annotations

import httpx
import pytest

from callops.calls.models import Call
from callops.providers.registry import adapter_for

from .conftest import place, submit

pytestmark = pytest.mark.usefixtures("clock")

NUMBER = "+14155550123"
KEY = "poly-key"
SETTINGS = {
    "outbound": {},
    "agents": {"api_variant": "agents", "environment": "live"},
    "connector": {"api_variant": "connector", "account_id": "acc-1", "project_id": "proj-1"},
}
AGENT = {"outbound": "", "agents": "agent-1", "connector": ""}


def _agent(make_agent, emu, variant, **settings):
    return make_agent("polyai", emu, credentials={"api_key": KEY, **SETTINGS[variant], **settings},
                      agent_id=AGENT[variant])


def _request_body(variant, call):
    meta = {"crm": "42", "callops_call_id": str(call.public_id)}
    return {"outbound": {"to_number": NUMBER, "metadata": meta},
            "agents": {"toNumber": NUMBER, "environment": "live", "metadata": meta},
            "connector": {"phone_number": NUMBER}}[variant]


@pytest.mark.parametrize("variant", ["outbound", "agents", "connector"])
def test_each_variant_places_and_reads_in_its_own_shape(variant, emulators, make_agent, drive):
    emu = emulators("polyai", variant=variant, api_key=KEY)
    agent = _agent(make_agent, emu, variant)
    call = submit(agent, NUMBER, metadata={"crm": "42"})
    drive([call.pk])
    call = Call.objects.get(pk=call.pk)
    assert emu.calls[call.provider_call_id].request == _request_body(variant, call)
    assert (call.status, call.provider_status) == ("completed", "SUCCESS" if variant == "agents" else "success")
    # One create, and every status read answered 200 (the variant's own route and header).
    assert emu.requests[("POST", 200)] == 1 and emu.requests[("GET", 200)] >= 2
    assert sorted(emu.requests) == [("GET", 200), ("POST", 200)]


@pytest.mark.parametrize(("account", "issued"), [("outbound", "agents"), ("outbound", "connector"),
                                                 ("agents", "outbound"), ("connector", "agents")])
def test_a_create_in_the_wrong_variant_is_refused(account, issued, emulators, make_agent):
    emu = emulators("polyai", variant=issued, api_key=KEY)
    call = place(_agent(make_agent, emu, account), NUMBER)
    assert (call.status, call.error_code) == ("failed", "auth_failed")
    assert "Invalid or missing authentication token" in call.error_message
    assert emu.calls == {}


@pytest.mark.parametrize(("variant", "extra", "agent_id", "problem"), [
    ("agents", {"environment": ""}, "agent-1", "the Agents API needs environment set to one of sandbox, "
                                               "pre-release, live"),
    ("agents", {"environment": "prod"}, "agent-1", "the Agents API needs environment set to one of sandbox, "
                                                   "pre-release, live"),
    ("agents", {}, "", "the Agents API needs the agent's provider agent id (PolyAI agentId)"),
    ("connector", {"project_id": ""}, "", "the connector variant needs account_id and project_id"),
    ("outbound", {"api_variant": "v3"}, "", "api_variant must be one of outbound, agents, connector"),
])
def test_unusable_settings_fail_before_anything_is_sent(variant, extra, agent_id, problem, emulators, make_agent):
    emu = emulators("polyai", variant=variant, api_key=KEY)
    agent = make_agent("polyai", emu, credentials={"api_key": KEY, **SETTINGS[variant], **extra},
                       agent_id=agent_id)
    call = place(agent, NUMBER)
    assert (call.status, call.error_code, call.error_message) == (
        "failed", "invalid_account_settings", f"PolyAI account settings: {problem}")
    assert sum(emu.requests.values()) == 0


@pytest.mark.parametrize("variant", ["outbound", "agents", "connector"])
def test_connection_uses_the_variant(variant, emulators, make_agent):
    emu = emulators("polyai", variant=variant, api_key=KEY)
    adapter = adapter_for(_agent(make_agent, emu, variant).provider_account)
    assert adapter.test_connection() == f"PolyAI reachable ({variant} API); token accepted"


def test_agents_api_default_host(make_agent):
    agent = make_agent("polyai", None, credentials={"api_key": KEY, **SETTINGS["agents"]}, agent_id="agent-1")
    adapter = adapter_for(agent.provider_account)
    assert adapter._base() == "https://api.us.poly.ai"
    outbound = adapter_for(make_agent("polyai", None, credentials={"api_key": KEY}).provider_account)
    assert outbound._base() == "https://api.us-1.platform.polyai.app"


CREATE = {
    "outbound": ("/v1/outbound-calling", {"X-PolyAi-Auth-Token": KEY}),
    "agents": ("/v1/agents/agent-1/telephony/outbound-calls", {"X-API-KEY": KEY}),
    "connector": ("/api/v1/acc-1/proj-1/outbound-call/trigger", {"X-CONNECTOR-ID": KEY}),
}


@pytest.mark.parametrize(("variant", "body", "message"), [
    ("outbound", {"to_number": NUMBER, "toNumber": NUMBER}, "unknown field: toNumber"),
    ("outbound", {"to_number": NUMBER, "metadata": {"n": 1}}, "metadata values must be strings"),
    ("outbound", {"metadata": {}}, "to_number is required"),
    ("agents", {"toNumber": NUMBER}, "environment is required"),
    ("agents", {"toNumber": NUMBER, "environment": "prod"}, "environment must be one of sandbox, pre-release, live"),
    ("agents", {"to_number": NUMBER, "environment": "live"}, "toNumber is required"),
    ("connector", {"phone_number": NUMBER, "metadata": {}}, "unknown field: metadata"),
    ("connector", {"phone_number": "4155550123"}, "phone_number must be in E.164 format"),
])
def test_emulator_refuses_bodies_outside_the_variant(variant, body, message, emulators):
    emu = emulators("polyai", variant=variant, api_key=KEY)
    path, headers = CREATE[variant]
    r = httpx.post(f"{emu.url}{path}", json=body, headers=headers)
    assert (r.status_code, r.json()) == (400, {"message": message})
    assert emu.calls == {}


@pytest.mark.parametrize("variant", ["outbound", "agents", "connector"])
def test_emulator_checks_the_variant_auth_header_exactly(variant, emulators):
    emu = emulators("polyai", variant=variant, api_key=KEY)
    path, headers = CREATE[variant]
    (name, value), = headers.items()
    body = {"outbound": {"to_number": NUMBER}, "agents": {"toNumber": NUMBER, "environment": "live"},
            "connector": {"phone_number": NUMBER}}[variant]
    others = [h for h in ("X-PolyAi-Auth-Token", "X-API-KEY", "X-CONNECTOR-ID") if h != name]
    for wrong in ({name: value + "x"}, {others[0]: value}, {others[1]: value}):
        r = httpx.post(f"{emu.url}{path}", json=body, headers=wrong)
        assert (r.status_code, r.json()) == (401, {"message": "Invalid or missing authentication token"})
    r = httpx.post(f"{emu.url}{path}", json=body, headers=headers)
    assert r.status_code == 200


def test_variant_is_set_on_the_account_form(personas):
    from django.urls import reverse

    from callops.providers.models import ProviderAccount

    client = personas.admin.client()
    base = {"kind": "polyai", "name": "Poly", "api_key": "poly-secret-123", "rate_limit_per_minute": "",
            "is_active": "on"}
    r = client.post(reverse("dashboard:provider_new"), {**base, "api_variant": "agents"})
    assert r.status_code == 400
    assert "the Agents API needs environment set to one of sandbox, pre-release, live" in r.content.decode()
    r = client.post(reverse("dashboard:provider_new"), {**base, "api_variant": "v9"})
    assert r.status_code == 400 and "not one of the choices" in r.content.decode()
    assert not ProviderAccount.objects.filter(kind="polyai").exists()
    r = client.post(reverse("dashboard:provider_new"), {**base, "api_variant": "agents", "environment": "sandbox"})
    assert r.status_code == 302
    account = ProviderAccount.objects.get(name="Poly")
    assert account.credentials == {"api_key": "poly-secret-123", "api_variant": "agents", "environment": "sandbox"}
    edit = reverse("dashboard:provider_edit", args=[account.public_id])
    page = client.get(edit).content.decode()
    assert "Stored: agents" in page and "Stored: sandbox" in page and "poly-secret-123" not in page
    # Switching to the connector needs its ids; blank fields keep what is stored.
    r = client.post(edit, {"name": "Poly", "rate_limit_per_minute": "", "is_active": "on", "api_variant": "connector",
                           "account_id": "acc-9"})
    assert r.status_code == 400 and "the connector variant needs account_id and project_id" in r.content.decode()
    r = client.post(edit, {"name": "Poly", "rate_limit_per_minute": "", "is_active": "on", "api_variant": "connector",
                           "account_id": "acc-9", "project_id": "proj-9"})
    assert r.status_code == 302
    account.refresh_from_db()
    assert account.credentials == {"api_key": "poly-secret-123", "api_variant": "connector", "environment": "sandbox",
                                   "account_id": "acc-9", "project_id": "proj-9"}
