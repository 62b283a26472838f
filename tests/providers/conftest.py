"""Fixtures for provider tests: emulators on free loopback ports, accounts pointing at them,
and a driver that runs the sweeps and a real RQ worker until calls finish."""

from __future__ import annotations

import uuid

import pytest

from callops.calls import services as call_services
from callops.calls.jobs import sweep_scheduled_calls
from callops.calls.models import ACTIVE, Agent, Call, EventSource
from callops.calls.status_sync import sweep_due_syncs, sweep_stale_calls
from callops.providers.emulators import emulator_class
from callops.providers.emulators.core import Faults
from callops.providers.models import ProviderAccount

EMU_SPEED = 50.0
TRIGGER_UUID = "11111111-2222-3333-4444-555555555555"
WORKFLOW_UUID = "99999999-8888-7777-6666-555555555555"


@pytest.fixture(autouse=True)
def _provider_settings(settings):
    settings.PROVIDER_SYNC_SPEED = EMU_SPEED
    # Generous for a loopback emulator on a busy machine, short enough that a forced timeout (the
    # emulators sleep 1.5 s on one) costs little.
    settings.PROVIDER_HTTP_TIMEOUT_SECONDS = 1.0
    # Personas are created per test; the default password hasher would dominate the run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def emulators():
    """Factory: `emulators(kind, **options)` starts an emulator in a thread; all stop at teardown."""
    started = []

    def _start(kind: str, **kw):
        kw.setdefault("speed", EMU_SPEED)
        kw.setdefault("faults", Faults(timeout_sleep=1.5))
        if kind == "dograh":
            kw.setdefault("triggers", {TRIGGER_UUID: 42})
            kw.setdefault("workflows", {WORKFLOW_UUID: 42})
        emu = emulator_class(kind)(**kw).start()
        started.append(emu)
        return emu

    yield _start
    for emu in started:
        emu.stop()


AGENT_IDS = {
    "callingbox": "0b7a6f8e-1d2c-4b3a-9e8f-7a6b5c4d3e2f",
    "bolna": "3c1f0a2e-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
    "polyai": "",
    "trillet": "agent_trillet_1",
    "dograh": f"trigger:{TRIGGER_UUID}:42",
}


@pytest.fixture
def make_agent(personas):
    """Factory: a provider account (pointing at `emu`) and agent in Acme."""

    def _make(kind: str, emu=None, *, credentials: dict | None = None, secret: str = "", agent_id: str | None = None,
              rate_limit: int | None = 100000):
        account = ProviderAccount(organization=personas.org, kind=kind, name=f"{kind}-{uuid.uuid4().hex[:6]}",
                                  base_url=emu.url if emu else "", rate_limit_per_minute=rate_limit)
        creds = credentials if credentials is not None else {"api_key": emu.api_key if emu else "k"}
        if kind == "trillet" and credentials is None:
            creds["workspace_id"] = emu.workspace_id
        account.set_credentials(creds)
        account.set_callback_secret(secret)
        account.save()
        return Agent.objects.create(organization=personas.org, provider_account=account, name=account.name,
                                    provider_agent_id=AGENT_IDS[kind] if agent_id is None else agent_id)

    return _make


def new_call(agent, number: str, **kw) -> Call:
    return call_services.create_call(org=agent.organization, agent=agent, to_number=number, **kw)


def submit(agent, number: str, **kw) -> Call:
    """Create a call and queue its placement job, as the API does."""
    from callops.calls.jobs import place_call_job
    from callops.lib.queue import enqueue

    call = new_call(agent, number, **kw)
    enqueue(place_call_job, call.pk, queue="calls", job_id=f"place-call-{call.pk}")
    return call


def place(agent, number: str, **kw) -> Call:
    call = new_call(agent, number, **kw)
    return call_services.place_call(call, source=EventSource.API)


def tick():
    sweep_scheduled_calls()
    sweep_due_syncs()
    sweep_stale_calls()


LIVE = sorted(ACTIVE)


def step_clock(clock, max_step: float = 5.0, min_step: float = 0.05):
    """Move the clock to the next due moment (a status read, a scheduled placement, a retry), at
    least `min_step` (so a provider's own timeline moves too) and at most `max_step` seconds."""
    from tests.helpers import next_due

    now = clock.now()
    due = next_due(now)
    step = max_step if due is None else (due - now).total_seconds()
    clock.advance(min(max(step, min_step), max_step))


@pytest.fixture
def drive(run_jobs, clock):
    """Run the sweeps and the worker until every call in `pks` is terminal, moving the clock to the
    next due moment between rounds. Bounded by rounds, not seconds; `drive` returns True when all
    are done, and fails naming the calls still live when the rounds run out."""

    def _drive(pks, rounds: int = 2000, max_step: float = 5.0):
        pks = list(pks)
        for _ in range(rounds):
            tick()
            run_jobs()
            live = dict(Call.objects.filter(pk__in=pks, status__in=LIVE).values_list("pk", "status"))
            if not live:
                return True
            step_clock(clock, max_step)
        raise AssertionError(f"after {rounds} rounds ({clock.now():%H:%M:%S} on the test clock) these calls "
                             f"are still live: {live}")

    return _drive
