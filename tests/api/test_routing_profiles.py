"""/v1/routing_profiles: create, list, read, update, delete, in the API's shapes, at the tenant boundary."""

import uuid

import pytest

from callops.accounts.models import AuditEntry
from callops.calls.models import Agent, RoutingProfile
from callops.providers.models import ProviderAccount

pytestmark = pytest.mark.django_db


@pytest.fixture
def second_agent(personas):
    account = ProviderAccount.objects.create(organization=personas.org, kind="bolna", name="Bolna")
    return Agent.objects.create(organization=personas.org, provider_account=account, name="Bolna agent")


def test_crud(api, sandbox_agent, second_agent):
    body = {"name": "Compare", "agents": [{"agent_id": str(sandbox_agent.public_id), "weight": 80},
                                          {"agent_id": str(second_agent.public_id), "weight": 20}]}
    created = api.post("/v1/routing_profiles", body)
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["object"] == "routing_profile" and data["name"] == "Compare"
    assert data["agents"] == [
        {"agent_id": str(sandbox_agent.public_id), "agent": "Sandbox agent", "provider": "sandbox", "weight": 80,
         "share": 0.8},
        {"agent_id": str(second_agent.public_id), "agent": "Bolna agent", "provider": "bolna", "weight": 20,
         "share": 0.2}]
    pid = data["id"]
    assert api.get(f"/v1/routing_profiles/{pid}").json() == data
    listed = api.get("/v1/routing_profiles").json()
    assert listed["object"] == "list" and [p["id"] for p in listed["data"]] == [pid] and not listed["has_more"]
    patched = api.patch(f"/v1/routing_profiles/{pid}", {"agents": [{"agent_id": str(second_agent.public_id),
                                                                    "weight": 1}]})
    assert patched.status_code == 200
    assert patched.json()["name"] == "Compare" and [a["share"] for a in patched.json()["agents"]] == [1.0]
    assert api.post("/v1/routing_profiles", body).status_code == 409  # the name is taken
    deleted = api.delete(f"/v1/routing_profiles/{pid}")
    assert deleted.json() == {"id": pid, "object": "routing_profile", "deleted": True}
    assert api.get(f"/v1/routing_profiles/{pid}").status_code == 404
    assert list(AuditEntry.objects.filter(action__startswith="routing_profile.").order_by("id")
                .values_list("action", flat=True)) == ["routing_profile.created", "routing_profile.updated",
                                                       "routing_profile.deleted"]


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "", "agents": []}, "name"),
    ({"name": "x", "agents": []}, "agents"),
    ({"name": "x", "agents": [{"agent_id": "nope", "weight": 1}]}, "agents[0].agent_id"),
    ({"name": "x", "agents": [{"agent_id": "AGENT", "weight": -1}]}, "agents[0].weight"),
    ({"name": "x", "agents": [{"agent_id": "AGENT", "weight": 0}]}, "agents"),
    ({"name": "x", "agents": [{"agent_id": "AGENT", "weight": 1}, {"agent_id": "AGENT", "weight": 1}]},
     "agents[1].agent_id"),
    ({"name": "x", "agents": [{"agent_id": "AGENT", "weight": 1}], "extra": 1}, "extra"),
])
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(api, sandbox_agent, body, field):
    body = {**body, "agents": [{**a, "agent_id": str(sandbox_agent.public_id)} if a.get("agent_id") == "AGENT" else a
                               for a in body["agents"]]}
    r = api.post("/v1/routing_profiles", body)
    assert r.status_code == 400 and field in r.json()["fields"], r.content
    assert not RoutingProfile.objects.exists()


def test_tenancy_and_read_only_keys(api, api_outsider, api_readonly, sandbox_agent, outsider_agent):
    pid = api.post("/v1/routing_profiles", {"name": "Mine", "agents": [
        {"agent_id": str(sandbox_agent.public_id), "weight": 1}]}).json()["id"]
    for method in ("get", "delete"):
        assert getattr(api_outsider, method)(f"/v1/routing_profiles/{pid}").status_code == 404
    assert api_outsider.patch(f"/v1/routing_profiles/{pid}", {"name": "theirs"}).status_code == 404
    assert api_outsider.get("/v1/routing_profiles").json()["data"] == []
    # Another organization's agent is not one of yours.
    r = api.post("/v1/routing_profiles", {"name": "X", "agents": [{"agent_id": str(outsider_agent.public_id),
                                                                   "weight": 1}]})
    assert r.status_code == 400
    assert api_readonly.post("/v1/routing_profiles", {"name": "RO", "agents": []}).status_code == 403
    assert api_readonly.delete(f"/v1/routing_profiles/{pid}").status_code == 403
    unknown = uuid.uuid4()
    assert api.get(f"/v1/routing_profiles/{unknown}").json() == {"error": f"routing profile {unknown} not found"}


def test_the_openapi_document_describes_the_routes(api):
    doc = api.get("/v1/openapi.json").json()
    assert {"get", "post"} <= set(doc["paths"]["/v1/routing_profiles"])
    assert {"get", "patch", "delete"} <= set(doc["paths"]["/v1/routing_profiles/{profile_id}"])
    create = doc["paths"]["/v1/routing_profiles"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert create["required"] == ["name", "agents"]
