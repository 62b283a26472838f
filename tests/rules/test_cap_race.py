"""Two concurrent writers at the cap on PostgreSQL: never both pass.

Each writer is a thread with its own connection and real transactions (a transactional test), and
goes through submit_call, the path of an API or dashboard call. The harness forces the worst
interleaving: a writer that has counted waits (up to a bound) for the other to count too before it
writes its record. With the per-number lock the second writer cannot count until the first has
committed, so it sees the first call; the control test takes the lock away and shows that both
writers then pass, so the race test is able to fail. The two writers place through different
agents: calls of one agent in one hour share a rollup row, whose row lock would serialise them
too and hide what the per-number lock does. On SQLite (the first-run database) the same
race holds through BEGIN IMMEDIATE, which makes the second writer wait for the first.
"""

import threading

import pytest
from django.db import connection, connections

from callops.calls import services
from callops.calls.models import Call, EventSource
from callops.calls.validation import validate_call_input
from callops.rules import caps, policy
from callops.rules.gate import CallRefused
from callops.rules.models import DialRecord

NUMBER = "+12025550100"
# How long a writer that has counted waits for the other one to count too. With the lock the
# other is blocked on it, so this bound is always reached; it is a bound, not a timing assumption.
RENDEZVOUS_SECONDS = 1.0


def _race(org, agents, monkeypatch) -> list[str]:
    counted = [threading.Event(), threading.Event()]
    real_over_cap = caps.over_cap
    mine = threading.local()

    def over_cap_then_wait(rules, number, now):
        hit = real_over_cap(rules, number, now)
        if connection.in_atomic_block:  # the count inside admission, not the preview before it
            counted[mine.i].set()
            counted[1 - mine.i].wait(RENDEZVOUS_SECONDS)
        return hit

    monkeypatch.setattr(caps, "over_cap", over_cap_then_wait)
    outcomes = ["", ""]

    def writer(i):
        mine.i = i
        try:
            clean = validate_call_input(org, {"agent_id": str(agents[i].public_id), "to": NUMBER})
            services.submit_call(org, clean, source=EventSource.API)
            outcomes[i] = "placed"
        except CallRefused as exc:
            outcomes[i] = exc.code
        except Exception as exc:  # reported in the assertion, not lost in the thread
            outcomes[i] = f"error: {exc!r}"
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return outcomes


@pytest.fixture
def at_the_cap_but_one(personas, sandbox_agent):
    from callops.calls.models import Agent

    policy.update(personas.org, {"max_calls_per_day": 1})
    second = Agent.objects.create(organization=personas.org, provider_account=sandbox_agent.provider_account,
                                  name="Second sandbox agent", instructions="Confirm the appointment.")
    return personas.org, [sandbox_agent, second]


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_calls_at_the_cap_never_both_pass(at_the_cap_but_one, monkeypatch, short_db_connections):
    org, agents = at_the_cap_but_one
    outcomes = _race(org, agents, monkeypatch)
    assert sorted(outcomes) == ["frequency_cap", "placed"], outcomes
    assert Call.objects.filter(to_number=NUMBER).count() == 1
    assert DialRecord.objects.filter(number=NUMBER).count() == 1


@pytest.mark.django_db(transaction=True)
def test_without_the_lock_both_would_pass(at_the_cap_but_one, monkeypatch, short_db_connections):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writing transactions itself (BEGIN IMMEDIATE): no lock to take away")
    org, agents = at_the_cap_but_one
    monkeypatch.setattr(caps, "lock_number", lambda *a, **k: True)
    outcomes = _race(org, agents, monkeypatch)
    assert outcomes == ["placed", "placed"], outcomes
    assert DialRecord.objects.filter(number=NUMBER).count() == 2
