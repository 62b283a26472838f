"""Settings → agent form: choosing an agent's ordered fallback agents."""

import pytest
from django.urls import reverse

from callops.calls import routing
from callops.calls.models import Agent
from callops.providers.models import ProviderAccount

pytestmark = pytest.mark.django_db


def _agent(org, name, kind="sandbox"):
    account = ProviderAccount.objects.create(organization=org, kind=kind, name=f"{name} account")
    return Agent.objects.create(organization=org, provider_account=account, name=name)


def test_fallbacks_are_set_in_order_shown_and_cleared(personas, sandbox_agent, api):
    second, third = _agent(personas.org, "Second", "bolna"), _agent(personas.org, "Third", "dograh")
    client = personas.admin.client()
    url = reverse("dashboard:agent_edit", args=[sandbox_agent.public_id])
    data = {"name": sandbox_agent.name, "provider_account": str(sandbox_agent.provider_account.public_id),
            "is_active": "on", "fallbacks": "1", "fallback_1": str(third.public_id), "fallback_2": "",
            "fallback_3": str(second.public_id)}
    assert client.post(url, data).status_code == 302
    assert routing.fallbacks_of(sandbox_agent) == [third, second]
    page = client.get(url).content.decode()
    assert f'<option value="{third.public_id}" selected>Third (Dograh)</option>' in page
    assert f'<option value="{sandbox_agent.public_id}"' not in page  # never offered as its own fallback
    assert '<p class="small" data-testid="fallback-chain">Calls fail over to Third (Dograh), then Second (Bolna).</p>' \
        in page
    assert page.count('<select id="a-fallback_') == routing.MAX_FALLBACKS
    body = api.get(f"/v1/agents/{sandbox_agent.public_id}").json()
    assert body["fallback_agent_ids"] == [str(third.public_id), str(second.public_id)]
    assert client.post(url, {**data, "fallback_1": "", "fallback_3": ""}).status_code == 302
    assert routing.fallbacks_of(sandbox_agent) == []
    assert "No fallback agents: a refused placement fails the call." in client.get(url).content.decode()


def test_a_bad_fallback_changes_nothing(personas, sandbox_agent, outsider_agent):
    second = _agent(personas.org, "Second", "bolna")
    routing.set_fallbacks(sandbox_agent, [second])
    client = personas.admin.client()
    url = reverse("dashboard:agent_edit", args=[sandbox_agent.public_id])
    base = {"name": sandbox_agent.name, "provider_account": str(sandbox_agent.provider_account.public_id),
            "is_active": "on", "fallbacks": "1"}
    for bad in ({"fallback_1": str(outsider_agent.public_id)}, {"fallback_1": str(sandbox_agent.public_id)},
                {"fallback_1": str(second.public_id), "fallback_2": str(second.public_id)}):
        r = client.post(url, {**base, **bad})
        assert r.status_code == 400
    assert routing.fallbacks_of(sandbox_agent) == [second]
