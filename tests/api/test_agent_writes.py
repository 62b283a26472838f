"""POST /v1/agents and PATCH /v1/agents/{id}: agents and their ordered fallback agents, written
through the API in its shapes, checked whole before anything is written, at the tenant boundary."""

import uuid

import pytest

from callops.accounts.models import AuditEntry
from callops.calls import routing
from callops.calls.models import Agent
from callops.providers.models import ProviderAccount

pytestmark = pytest.mark.django_db


def _agent(org, name, kind="bolna"):
    account = ProviderAccount.objects.create(organization=org, kind=kind, name=f"{name} account")
    return Agent.objects.create(organization=org, provider_account=account, name=name)


@pytest.fixture
def others(personas):
    return [_agent(personas.org, "Bolna agent"), _agent(personas.org, "Dograh agent", "dograh")]


def test_create_with_fallbacks_then_reorder_clear_and_read_back(api, sandbox_agent, others):
    bolna, dograh = others
    account = sandbox_agent.provider_account
    created = api.post("/v1/agents", {"name": "Front desk", "provider_account_id": str(account.public_id),
                                      "instructions": "Confirm the visit.",
                                      "fallback_agent_ids": [str(dograh.public_id), str(bolna.public_id)]})
    assert created.status_code == 201, created.content
    data = created.json()
    agent = Agent.objects.get(public_id=data["id"])
    assert data == {"id": str(agent.public_id), "object": "agent", "name": "Front desk", "provider": "sandbox",
                    "provider_account": account.name, "from_number": None, "instructions": "Confirm the visit.",
                    "returns": {}, "webhook_url": None, "is_default": False,
                    "created_at": data["created_at"], "extractor": None, "effective_extractor": "rules",
                    "fallback_agent_ids": [str(dograh.public_id), str(bolna.public_id)]}
    assert routing.fallbacks_of(agent) == [dograh, bolna]
    assert api.get(f"/v1/agents/{agent.public_id}").json() == data

    patched = api.patch(f"/v1/agents/{agent.public_id}", {"fallback_agent_ids": [str(bolna.public_id)]})
    assert patched.status_code == 200, patched.content
    assert patched.json() == {**data, "fallback_agent_ids": [str(bolna.public_id)]}  # nothing else changed
    assert routing.fallbacks_of(agent) == [bolna]

    renamed = api.patch(f"/v1/agents/{agent.public_id}", {"name": "Reception", "extractor": "llm"}).json()
    assert (renamed["name"], renamed["extractor"], renamed["fallback_agent_ids"]) == (
        "Reception", "llm", [str(bolna.public_id)])  # fallbacks not sent: kept

    cleared = api.patch(f"/v1/agents/{agent.public_id}", {"fallback_agent_ids": []}).json()
    assert cleared["fallback_agent_ids"] == [] and routing.fallbacks_of(agent) == []
    assert list(AuditEntry.objects.filter(target__in=["Front desk", "Reception"]).order_by("id")
                .values_list("action", flat=True)) == ["agent.created", "agent.updated", "agent.updated",
                                                       "agent.updated"]


def _bad_fallbacks(agent, others, outsider):
    bolna, dograh = others
    return [
        ([str(agent.public_id)], {"fallback_agent_ids[0]": "an agent cannot be its own fallback"}),
        ([str(bolna.public_id), str(dograh.public_id), str(bolna.public_id)],
         {"fallback_agent_ids[2]": "the agent is listed twice"}),
        ([str(outsider.public_id)], {"fallback_agent_ids[0]": "no such agent in this organization"}),
        ([str(uuid.uuid4())], {"fallback_agent_ids[0]": "no such agent in this organization"}),
        (["not-a-uuid"], {"fallback_agent_ids[0]": "no such agent in this organization"}),
    ]


def test_bad_fallbacks_are_a_400_naming_the_entry_and_change_nothing(api, sandbox_agent, others, outsider_agent):
    bolna, _ = others
    routing.set_fallbacks(sandbox_agent, [bolna])
    for ids, fields in _bad_fallbacks(sandbox_agent, others, outsider_agent):
        r = api.patch(f"/v1/agents/{sandbox_agent.public_id}", {"name": "Renamed", "fallback_agent_ids": ids})
        assert r.status_code == 400, (ids, r.content)
        key, problem = next(iter(fields.items()))
        assert r.json() == {"error": f"{key}: {problem}", "fields": fields}
    sandbox_agent.refresh_from_db()
    assert sandbox_agent.name == "Sandbox agent" and routing.fallbacks_of(sandbox_agent) == [bolna]


def test_more_than_the_maximum_is_refused_before_any_lookup(api, sandbox_agent, personas):
    many = [str(_agent(personas.org, f"Agent {n}").public_id) for n in range(routing.MAX_FALLBACKS + 1)]
    r = api.patch(f"/v1/agents/{sandbox_agent.public_id}", {"fallback_agent_ids": many})
    assert r.status_code == 400
    assert r.json()["fields"] == {"fallback_agent_ids": f"List should have at most {routing.MAX_FALLBACKS} items "
                                                        f"after validation, not {routing.MAX_FALLBACKS + 1}"}
    assert routing.fallbacks_of(sandbox_agent) == []


def test_a_create_with_a_bad_fallback_writes_no_agent(api, sandbox_agent, outsider_agent):
    before = Agent.objects.count()
    r = api.post("/v1/agents", {"name": "New", "provider_account_id": str(sandbox_agent.provider_account.public_id),
                                "fallback_agent_ids": [str(outsider_agent.public_id)]})
    assert r.status_code == 400
    assert r.json() == {"error": "fallback_agent_ids[0]: no such agent in this organization",
                        "fields": {"fallback_agent_ids[0]": "no such agent in this organization"}}
    assert Agent.objects.count() == before


@pytest.mark.parametrize(("body", "fields"), [
    ({"provider_account_id": "X"}, {"name": "Field required"}),
    ({"name": "A", "provider_account_id": "X", "fallback_agent_ids": "abc"},
     {"fallback_agent_ids": "Input should be a valid list"}),
    ({"name": "A", "provider_account_id": "X", "fallback_agent_ids": [7]},
     {"fallback_agent_ids[0]": "Input should be a valid string"}),
    ({"name": "A", "provider_account_id": "X", "is_active": "yes"}, {"is_active": "Input should be a valid boolean"}),
    ({"name": "A", "provider_account_id": "X", "colour": "red"}, {"colour": "is not a field"}),
    ({"name": "A", "provider_account_id": str(uuid.UUID(int=1))},
     {"provider_account_id": "choose one of your provider accounts"}),
])
def test_bad_create_bodies_are_a_400_naming_the_field(api, sandbox_agent, body, fields):
    body = {k: (str(sandbox_agent.provider_account.public_id) if v == "X" else v) for k, v in body.items()}
    before = Agent.objects.count()
    r = api.post("/v1/agents", body)
    assert r.status_code == 400, r.content
    assert r.json()["fields"] == fields
    assert Agent.objects.count() == before


def test_a_taken_name_is_a_409(api, sandbox_agent):
    r = api.post("/v1/agents", {"name": sandbox_agent.name,
                                "provider_account_id": str(sandbox_agent.provider_account.public_id)})
    assert r.status_code == 409 and r.json()["fields"] == {"name": "already used"}


def test_tenancy_read_only_keys_and_empty_patches(api, api_outsider, api_readonly, sandbox_agent, outsider_agent):
    # Another organization's agent: 404 in the usual shape, whatever the body.
    r = api.patch(f"/v1/agents/{outsider_agent.public_id}", {"fallback_agent_ids": []})
    assert (r.status_code, r.json()) == (404, {"error": f"agent {outsider_agent.public_id} not found"})
    assert api_outsider.patch(f"/v1/agents/{sandbox_agent.public_id}", {"name": "theirs"}).status_code == 404
    # The outsider's own provider account is not one of ours either.
    r = api.post("/v1/agents", {"name": "X", "provider_account_id": str(outsider_agent.provider_account.public_id)})
    assert r.status_code == 400 and r.json()["fields"] == {"provider_account_id": "choose one of your provider accounts"}
    assert api_readonly.patch(f"/v1/agents/{sandbox_agent.public_id}", {"name": "RO"}).status_code == 403
    assert api_readonly.post("/v1/agents", {"name": "RO", "provider_account_id": "x"}).status_code == 403
    r = api.patch(f"/v1/agents/{sandbox_agent.public_id}", {})
    assert r.status_code == 400 and r.json()["fields"] == {"body": "has no fields"}
    sandbox_agent.refresh_from_db()
    assert sandbox_agent.name == "Sandbox agent"


def test_the_openapi_document_describes_the_writes(api):
    doc = api.get("/v1/openapi.json").json()
    create = doc["paths"]["/v1/agents"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert create["required"] == ["name", "provider_account_id"] and create["additionalProperties"] is False
    assert create["properties"]["fallback_agent_ids"] == {
        "type": "array", "items": {"type": "string", "format": "uuid"}, "maxItems": routing.MAX_FALLBACKS,
        "uniqueItems": True, "title": "Fallback Agent Ids",
        "description": f"ids of other agents of this organization, at most {routing.MAX_FALLBACKS}, in the order "
                       "calls fail over to them; [] clears them"}
    patch = doc["paths"]["/v1/agents/{agent_id}"]["patch"]
    body = patch["requestBody"]["content"]["application/json"]["schema"]
    assert "required" not in body and body["minProperties"] == 1 and body["additionalProperties"] is False
    assert not any("default" in p for p in body["properties"].values())
    assert set(body["properties"]) == set(create["properties"])
    assert {"200", "400", "403", "404", "409"} <= set(patch["responses"])
    assert {"201", "400", "403", "409"} <= set(doc["paths"]["/v1/agents"]["post"]["responses"])
