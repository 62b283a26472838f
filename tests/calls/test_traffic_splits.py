"""Routing profiles: a weighted split across agents, deterministic per call id, for API calls and
batches; the proportions over 1,000 calls hold within ±3 points."""

import uuid
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from callops.batches import jobs
from callops.batches import services as batch_services
from callops.batches.batch_settings import clean_settings
from callops.batches.models import Batch
from callops.batches.recipient_lists import rows_from_json
from callops.calls import routing, routing_profiles, services
from callops.calls.models import Agent, Call
from callops.providers.models import ProviderAccount

pytestmark = pytest.mark.django_db


@pytest.fixture
def split(personas, sandbox_agent):
    """An 80/20 profile over two sandbox agents (sandbox: nothing dials, calls complete)."""
    account = ProviderAccount.objects.create(organization=personas.org, kind="sandbox", name="Sandbox B")
    other = Agent.objects.create(organization=personas.org, provider_account=account, name="Agent B")
    profile = routing_profiles.create(personas.org, {"name": "80/20", "agents": [
        {"agent_id": str(sandbox_agent.public_id), "weight": 80}, {"agent_id": str(other.public_id), "weight": 20}]})
    return profile, sandbox_agent, other


def test_the_split_over_1000_calls_is_within_3_points(split):
    profile, a, b = split
    # Fixed ids, so the test's verdict is the same every run; random ids would pass only most runs.
    ids = [uuid.uuid5(uuid.NAMESPACE_URL, f"https://callops.test/call/{i}") for i in range(1000)]
    counts = Counter(routing.pick(profile, i).pk for i in ids)
    assert abs(counts[a.pk] / 1000 - 0.80) <= 0.03 and abs(counts[b.pk] / 1000 - 0.20) <= 0.03
    assert counts[a.pk] + counts[b.pk] == 1000


def test_a_50_50_split_over_1000_real_calls_is_within_3_points_and_each_call_keeps_its_agent(split, personas):
    profile, a, b = split
    routing_profiles.update(profile, {"agents": [{"agent_id": str(a.public_id), "weight": 1},
                                                 {"agent_id": str(b.public_id), "weight": 1}]})
    Call.objects.bulk_create([Call(organization=personas.org, agent=a, provider_account=a.provider_account,
                                   to_number="+14155550100", provider="sandbox",
                                   public_id=uuid.uuid5(uuid.NAMESPACE_DNS, f"c{i}.callops.test")) for i in range(1000)])
    share = sum(routing.pick(profile, c.public_id).pk == b.pk for c in Call.objects.all()) / 1000
    assert abs(share - 0.5) <= 0.03
    for c in Call.objects.all()[:50]:
        assert routing.pick(profile, c.public_id) == routing.pick(profile, c.public_id)


def test_a_call_created_with_a_profile_gets_the_agent_its_id_picks(split, personas):
    profile, a, b = split
    agents = set()
    for n in range(40):
        call = services.create_call(org=personas.org, agent=a, to_number=f"+141555502{n:02d}", routing_profile=profile)
        assert call.agent == routing.pick(profile, call.public_id) and call.routing_profile == profile
        agents.add(call.agent_id)
    assert agents == {a.pk, b.pk}


def test_the_api_places_a_call_through_a_profile(split, api):
    profile, a, b = split
    created = api.post("/v1/calls", {"to": "+14155550100", "routing_profile_id": str(profile.public_id)})
    assert created.status_code == 201, created.content
    body = created.json()
    call = Call.objects.get(public_id=body["id"])
    expected = routing.pick(profile, call.public_id)
    assert body["agent_id"] == str(expected.public_id) and body["routing_profile_id"] == str(profile.public_id)
    assert [s["outcome"] for s in body["routing"]] == ["placed"]
    both = api.post("/v1/calls", {"to": "+14155550100", "routing_profile_id": str(profile.public_id),
                                  "agent_id": str(a.public_id)})
    assert both.status_code == 400 and both.json()["fields"] == {"agent_id": "give agent_id or routing_profile_id, "
                                                                             "not both"}
    unknown = api.post("/v1/calls", {"to": "+14155550100", "routing_profile_id": str(uuid.uuid4())})
    assert unknown.status_code == 400 and "routing_profile_id" in unknown.json()["fields"]


def test_a_batch_with_a_profile_splits_its_calls(split, personas, api):
    profile, a, b = split
    created = api.post("/v1/batches", {"agent_id": str(a.public_id), "routing_profile_id": str(profile.public_id),
                                       "recipients": [f"+1415555{3000 + i}" for i in range(30)],
                                       "calls_per_minute": 10000, "max_concurrency": 100})
    assert created.status_code == 201, created.content
    assert created.json()["routing_profile_id"] == str(profile.public_id)
    batch_pk = Batch.objects.get().pk
    jobs.tick_batch(batch_pk, now=timezone.now() + timedelta(seconds=5))
    calls = list(Call.objects.filter(batch_id=batch_pk))
    assert len(calls) == 30
    assert all(c.agent_id == routing.pick(profile, c.public_id).pk and c.routing_profile_id == profile.pk
               for c in calls)
    assert {c.agent_id for c in calls} == {a.pk, b.pk}
    refused = api.delete(f"/v1/routing_profiles/{profile.public_id}")
    assert refused.status_code == 409 and "used by a batch" in refused.json()["error"]


def test_a_provider_run_batch_cannot_use_a_profile(split, api):
    profile, a, _ = split
    r = api.post("/v1/batches", {"agent_id": str(a.public_id), "routing_profile_id": str(profile.public_id),
                                 "recipients": ["+14155553000"], "mode": "provider"})
    assert r.status_code == 400 and r.json()["fields"] == {"routing_profile_id": "not with mode provider"}


def test_create_batch_service_takes_a_profile(split, personas):
    profile, a, _ = split
    batch = batch_services.create_batch(org=personas.org, agent=a, settings=clean_settings({}, agent=a),
                                        rows=rows_from_json([{"phone": "+14155553001"}]), columns=["phone"],
                                        phone_column="phone", start=False, routing_profile=profile)
    assert batch.routing_profile == profile
