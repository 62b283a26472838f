"""Helpers for dashboard tests: calls in given states, built through the lifecycle service."""

from datetime import timedelta

import pytest
from django.utils import timezone

from callops.calls import services
from callops.calls.models import Call, CallStatus, EventSource

PATH = {
    CallStatus.QUEUED: [],
    CallStatus.RINGING: [CallStatus.INITIATED, CallStatus.RINGING],
    CallStatus.IN_PROGRESS: [CallStatus.INITIATED, CallStatus.RINGING, CallStatus.IN_PROGRESS],
    CallStatus.COMPLETED: [CallStatus.INITIATED, CallStatus.RINGING, CallStatus.IN_PROGRESS, CallStatus.COMPLETED],
    CallStatus.FAILED: [CallStatus.INITIATED, CallStatus.FAILED],
    CallStatus.NO_ANSWER: [CallStatus.INITIATED, CallStatus.RINGING, CallStatus.NO_ANSWER],
}


@pytest.fixture
def make_call(sandbox_agent):
    """A call in `status`, moved there through apply_status so its timeline is real."""

    def _make(status=CallStatus.COMPLETED, *, to="+14155550123", agent=None, age=timedelta(0), **fields):
        agent = agent or sandbox_agent
        call = services.create_call(org=agent.organization, agent=agent, to_number=to, source=EventSource.API)
        for step in PATH[status]:
            services.apply_status(call, step, source=EventSource.POLL, raw_status=f"raw-{step}",
                                  payload={"status": f"raw-{step}", "id": "prov-1"})
        extra = dict(fields)
        if age:
            extra["created_at"] = timezone.now() - age
        if extra:
            Call.objects.filter(pk=call.pk).update(**extra)
        return Call.objects.get(pk=call.pk)

    return _make


@pytest.fixture
def outsider_agent(personas):
    from callops.calls.models import Agent
    from callops.providers.models import ProviderAccount

    account = ProviderAccount.objects.create(organization=personas.other_org, kind="sandbox", name="Sandbox")
    return Agent.objects.create(organization=personas.other_org, provider_account=account, name="Globex agent")
