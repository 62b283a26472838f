"""An agent's `returns` schema and extractor, and the organization's default extractor: set from
the dashboard (services own the writes, errors inline naming the field), shown by GET /v1/agents,
and used by extraction."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from callops.accounts.models import AuditEntry
from callops.calls import agents
from callops.calls.models import Agent
from callops.providers import services
from callops.providers.models import ProviderAccount

pytestmark = pytest.mark.django_db


def _data(account, **extra):
    return {"name": "Reminders", "provider_account": str(account.public_id), "is_active": "on", **extra}


def test_agent_returns_and_extractor_from_the_form(personas, sandbox_agent):
    client = personas.admin.client()
    returns = {"confirmed": "boolean", "slot": "list[datetime]", "plan": ["basic", "premium"]}
    r = client.post(reverse("dashboard:agent_new"),
                    _data(sandbox_agent.provider_account, returns=json.dumps(returns), extractor="provider"))
    assert r.status_code == 302
    agent = Agent.objects.get(name="Reminders")
    assert agent.returns == {"confirmed": "boolean", "slot": {"list": "datetime"}, "plan": ["basic", "premium"]}
    assert agent.extractor == "provider"
    page = client.get(reverse("dashboard:agent_edit", args=[agent.public_id])).content.decode()
    assert "&quot;confirmed&quot;: &quot;boolean&quot;" in page  # the stored schema, to edit
    assert '<option value="provider" selected>' in page
    # Clearing both: no schema, and the organization's default extractor.
    r = client.post(reverse("dashboard:agent_edit", args=[agent.public_id]),
                    _data(sandbox_agent.provider_account, returns="", extractor=""))
    assert r.status_code == 302
    agent.refresh_from_db()
    assert (agent.returns, agent.extractor) == ({}, "")
    listing = client.get(reverse("dashboard:providers")).content.decode()
    assert "organization default" in listing


@pytest.mark.parametrize(("returns", "field_error"), [
    ('{"bad name": "string"}', "field name 'bad name'"),
    ('{"party": "integr"}', "returns.party"),
    ('{"confirmed": "boolean",}', "not valid JSON"),
    ('["boolean"]', "returns must be an object"),
])
def test_invalid_returns_is_shown_inline_and_changes_nothing(personas, sandbox_agent, returns, field_error):
    client = personas.admin.client()
    r = client.post(reverse("dashboard:agent_new"), _data(sandbox_agent.provider_account, returns=returns))
    assert r.status_code == 400
    page = r.content.decode()
    error = page.split('data-testid="returns-error">', 1)[1].split("</p>", 1)[0]
    assert field_error in error.replace("&quot;", '"').replace("&#x27;", "'")
    assert 'aria-invalid="true"' in page
    assert returns.replace('"', "&quot;") in page  # what was typed comes back for fixing
    assert not Agent.objects.filter(name="Reminders").exists()
    # Editing an agent with a bad schema leaves its stored one alone.
    sandbox_agent.returns = {"confirmed": "boolean"}
    sandbox_agent.save()
    r = client.post(reverse("dashboard:agent_edit", args=[sandbox_agent.public_id]),
                    _data(sandbox_agent.provider_account, name=sandbox_agent.name, returns=returns))
    assert r.status_code == 400
    sandbox_agent.refresh_from_db()
    assert sandbox_agent.returns == {"confirmed": "boolean"}


def test_unknown_extractor_is_refused(personas, sandbox_agent):
    with pytest.raises(services.ProviderInputError) as exc:
        agents.create_agent(personas.org, _data(sandbox_agent.provider_account, extractor="magic"))
    assert "extractor" in exc.value.fields


def test_organization_default_extractor(personas, sandbox_agent):
    url = reverse("dashboard:providers")
    page = personas.viewer.client().get(url).content.decode()
    assert "Default extractor: <strong>Rules" in page and 'name="default_extractor"' not in page
    assert personas.member.client().post(url, {"default_extractor": "llm"}).status_code == 403
    r = personas.admin.client().post(url, {"default_extractor": "llm"})
    assert r.status_code == 302
    personas.org.refresh_from_db()
    assert personas.org.default_extractor == "llm"
    entry = AuditEntry.objects.get(action="organization.default_extractor_changed")
    assert entry.detail == {"from": "rules", "to": "llm"} and entry.actor == personas.admin.user
    r = personas.admin.client().post(url, {"default_extractor": "magic"})
    assert r.status_code == 400 and 'id="org-ext-error"' in r.content.decode()
    personas.org.refresh_from_db()
    assert personas.org.default_extractor == "llm"
    # An outsider's post changes their own organization, never Acme's.
    personas.outsider.client().post(url, {"default_extractor": "provider"})
    personas.org.refresh_from_db()
    personas.other_org.refresh_from_db()
    assert (personas.org.default_extractor, personas.other_org.default_extractor) == ("llm", "provider")
    # The agent form names the default it falls back to.
    form = personas.admin.client().get(reverse("dashboard:agent_new")).content.decode()
    assert "Organization default (LLM" in form


def test_rate_limit_blank_means_the_documented_limit(personas):
    client = personas.admin.client()
    r = client.post(reverse("dashboard:provider_new"), {"kind": "trillet", "name": "T", "rate_limit_per_minute": "",
                                                        "api_key": "k", "workspace_id": "w", "is_active": "on"})
    assert r.status_code == 302
    account = ProviderAccount.objects.get(name="T")
    assert account.rate_limit_per_minute is None
    page = client.get(reverse("dashboard:provider_edit", args=[account.public_id])).content.decode()
    assert "Documented for Trillet: 60/min" in page
    r = client.post(reverse("dashboard:provider_edit", args=[account.public_id]),
                    {"name": "T", "rate_limit_per_minute": "0", "is_active": "on"})
    assert r.status_code == 400 and "blank for the provider" in r.content.decode()


def test_api_lists_returns_and_extractor(api, personas, sandbox_agent, api_outsider):
    sandbox_agent.returns = {"confirmed": "boolean"}
    sandbox_agent.save()
    listed = api.get("/v1/agents").json()["data"][0]
    assert listed["returns"] == {"confirmed": "boolean"}
    assert listed["extractor"] is None and listed["effective_extractor"] == "rules"
    sandbox_agent.extractor = "provider"
    sandbox_agent.save()
    one = api.get(f"/v1/agents/{sandbox_agent.public_id}").json()
    assert one["extractor"] == "provider" and one["effective_extractor"] == "provider"
    assert api_outsider.get(f"/v1/agents/{sandbox_agent.public_id}").status_code == 404
    doc = api.get("/v1/openapi.json").json()
    props = next(s for name, s in doc["components"]["schemas"].items() if name == "AgentDetailOut")["properties"]
    assert {"returns", "extractor", "effective_extractor"} <= set(props)


def test_make_default_from_the_agents_list(personas, sandbox_agent, api):
    other = Agent.objects.create(organization=personas.org, provider_account=sandbox_agent.provider_account,
                                 name="Second")
    url = reverse("dashboard:agent_make_default", args=[sandbox_agent.public_id])
    page = personas.admin.client().get(reverse("dashboard:providers")).content.decode()
    assert f'action="{url}"' in page
    # Members see no button and cannot post it; another organization's admin gets a 404.
    assert personas.member.client().post(url).status_code == 403
    assert personas.outsider.client().post(url).status_code == 404
    assert not Agent.objects.filter(is_default=True).exists()

    r = personas.admin.client().post(url, follow=True)
    assert r.status_code == 200 and "Calls that name no agent now use “Sandbox agent”." in r.content.decode()
    assert 'data-testid="default-agent"' in r.content.decode()
    assert AuditEntry.objects.filter(action="agent.made_default", target="Sandbox agent").exists()
    personas.admin.client().post(reverse("dashboard:agent_make_default", args=[other.public_id]))
    assert list(Agent.objects.filter(is_default=True)) == [other]
    listed = {a["name"]: a["is_default"] for a in api.get("/v1/agents").json()["data"]}
    assert listed == {"Sandbox agent": False, "Second": True}
