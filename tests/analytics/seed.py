"""A known set of calls for the comparison view: two provider accounts and their agents, a batch,
a routing profile, failovers, reported and estimated costs, and a call outside the period.

Calls are written through the Call model (its save keeps the rollups), with every time given,
so the expected figures can be worked out by hand (tests/analytics/test_api.py does).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from callops.batches.models import Batch
from callops.calls.models import Agent, Call, RoutingProfile
from callops.providers.models import ProviderAccount


@dataclass
class Seed:
    base: datetime
    since: datetime
    until: datetime
    cb: ProviderAccount
    bolna: ProviderAccount
    a1: Agent
    a2: Agent
    batch: Batch
    profile: RoutingProfile
    calls: dict


def _routing(*outcomes):
    return [{"agent_id": "x", "provider": "sandbox", "outcome": o} for o in outcomes]


def build(org, base: datetime) -> Seed:
    """Seven calls in [base, base + 3 h) and one half an hour before `base` (an aware UTC hour)."""
    cb = ProviderAccount.objects.create(organization=org, kind="callingbox", name="CB main")
    bolna = ProviderAccount.objects.create(organization=org, kind="bolna", name="Bolna EU")
    a1 = Agent.objects.create(organization=org, provider_account=cb, name="Sales CB")
    a2 = Agent.objects.create(organization=org, provider_account=bolna, name="Sales Bolna")
    batch = Batch.objects.create(organization=org, agent=a1, name="November list")
    profile = RoutingProfile.objects.create(organization=org, name="Split 50/50")

    def make(key, agent, minute, status, *, wait=None, talk=None, cost=None, estimated=False, result="",
             routing=("placed",), **extra):
        created = base + timedelta(minutes=minute)
        started = created + timedelta(seconds=30) if wait is not None or status in ("no_answer",) else None
        answered = started + timedelta(seconds=wait) if wait is not None else None
        ended = (answered or started or created) + timedelta(seconds=talk or 0) if status in (
            "completed", "no_answer", "failed", "canceled") else None
        call = Call.objects.create(
            organization=org, agent=agent, provider_account=agent.provider_account,
            provider=agent.provider_account.kind, to_number="+14155550100", status=status, created_at=created,
            started_at=started, answered_at=answered, ended_at=ended, duration_seconds=talk,
            billing_amount_milli_cents=cost, billing_currency="USD" if cost is not None else "",
            billing_estimated=estimated, result_status=result,
            result_error="rules extractor: no value matched" if result == "failed" else "",
            routing=_routing(*routing), **extra)
        calls[key] = call

    calls: dict = {}
    make("c1", a1, 0, "completed", wait=8, talk=50, cost=1500, result="completed", batch=batch,
         routing_profile=profile)
    make("c2", a1, 20, "completed", wait=12, talk=200, cost=2600, estimated=True, result="failed", batch=batch,
         routing=("provider_unavailable", "placed"))
    make("c3", a1, 65, "no_answer", talk=0)
    make("c4", a2, 40, "completed", wait=5, talk=700, cost=9000, result="completed", routing_profile=profile,
         routing=("connection_refused", "placed"))
    make("c5", a2, 90, "failed", routing=("provider_unavailable", "balance_low"), error_code="balance_low")
    make("c6", a2, 130, "canceled")
    make("c7", a1, 150, "in_progress", wait=3)
    make("c8", a1, -30, "completed", wait=4, talk=30, cost=100, result="completed")
    return Seed(base, base, base + timedelta(hours=3), cb, bolna, a1, a2, batch, profile, calls)
