"""Settings → Routing profiles: list, create, edit and delete, at the tenant boundary."""

import pytest
from django.urls import reverse

from callops.calls import routing_profiles
from callops.calls.models import Agent, RoutingProfile
from callops.providers.models import ProviderAccount

pytestmark = pytest.mark.django_db


@pytest.fixture
def other(personas):
    account = ProviderAccount.objects.create(organization=personas.org, kind="bolna", name="Bolna")
    return Agent.objects.create(organization=personas.org, provider_account=account, name="Bolna agent")


def test_an_admin_creates_edits_and_deletes_a_profile(personas, sandbox_agent, other):
    client = personas.admin.client()
    form = {"name": "Compare", "agent_0": str(sandbox_agent.public_id), "weight_0": "80",
            "agent_1": str(other.public_id), "weight_1": "20", "agent_2": "", "weight_2": "", "agent_3": "",
            "weight_3": ""}
    r = client.post(reverse("dashboard:routing_profile_new"), form)
    assert r.status_code == 302 and r["Location"] == reverse("dashboard:routing_profiles")
    profile = RoutingProfile.objects.get()
    assert [(w.agent, w.weight) for w in profile.weights.all()] == [(sandbox_agent, 80), (other, 20)]
    page = client.get(reverse("dashboard:routing_profiles")).content.decode()
    assert "Sandbox agent (sandbox): weight 80, 80%" in page and "Bolna agent (bolna): weight 20, 20%" in page
    edit = reverse("dashboard:routing_profile_edit", args=[profile.public_id])
    assert f'<option value="{other.public_id}" selected>' in client.get(edit).content.decode()
    r = client.post(edit, {**form, "weight_1": "abc"})
    assert r.status_code == 400 and "agents[1].weight" in r.content.decode()
    assert [w.weight for w in profile.weights.all()] == [80, 20]  # nothing changed
    assert client.post(edit, {**form, "weight_0": "50", "weight_1": "50"}).status_code == 302
    assert [w.weight for w in profile.weights.all()] == [50, 50]
    assert client.post(reverse("dashboard:routing_profile_delete", args=[profile.public_id])).status_code == 302
    assert not RoutingProfile.objects.exists()


def test_members_read_outsiders_get_404(personas, sandbox_agent):
    profile = routing_profiles.create(personas.org, {"name": "Mine", "agents": [
        {"agent_id": str(sandbox_agent.public_id), "weight": 1}]})
    member = personas.member.client()
    page = member.get(reverse("dashboard:routing_profiles")).content.decode()
    assert "Mine" in page and "New routing profile" not in page
    assert member.get(reverse("dashboard:routing_profile_new")).status_code == 403
    edit = reverse("dashboard:routing_profile_edit", args=[profile.public_id])
    assert member.get(edit).status_code == 403
    outsider = personas.outsider.client()
    assert outsider.get(edit).status_code == 404
    assert outsider.post(reverse("dashboard:routing_profile_delete", args=[profile.public_id])).status_code == 404
    assert "Mine" not in outsider.get(reverse("dashboard:routing_profiles")).content.decode()
    assert RoutingProfile.objects.filter(pk=profile.pk).exists()


def test_the_new_batch_form_takes_a_routing_profile(personas, sandbox_agent, other):
    from callops.batches.models import Batch
    from tests.batches.test_dashboard import confirm, upload

    profile = routing_profiles.create(personas.org, {"name": "Split", "agents": [
        {"agent_id": str(sandbox_agent.public_id), "weight": 1}, {"agent_id": str(other.public_id), "weight": 1}]})
    client = personas.member.client()
    preview_url = upload(client, b"phone\n+14155550123\n")
    assert f'<option value="{profile.public_id}">Split</option>' in client.get(preview_url).content.decode()
    r = confirm(client, preview_url, sandbox_agent, action="hold", routing_profile_id="not-one")
    assert r.status_code == 400 and "choose one of your routing profiles" in r.content.decode()
    r = confirm(client, preview_url, sandbox_agent, action="hold", routing_profile_id=str(profile.public_id))
    assert r.status_code == 302
    assert Batch.objects.get().routing_profile == profile
