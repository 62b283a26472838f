"""Shared state of a suite run (orgs, keys, agents, the private Redis) and the checks that
several scenarios make: are all calls terminal, was anything dialed twice, did every webhook
event reach the sink."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Result:
    name: str
    counts: dict
    passed: bool
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    goal: str = ""  # a scenario with a stated goal: its `<name>: <figures> goal=<goal> met|MISSED` line


@dataclass
class Ctx:
    redis: object
    log_dir: str
    orgs: dict = field(default_factory=dict)      # "a"/"b" -> Organization
    keys: dict = field(default_factory=dict)      # ("a", "rw") -> secret
    agents: dict = field(default_factory=dict)    # "a"/"b" -> sandbox Agent
    users: dict = field(default_factory=dict)     # role -> User of org a; "outsider" -> owner of org b


def seed(ctx: Ctx) -> None:
    """Two organizations: Acme with one user per role and keys of both scopes, Globex (the outsider)."""
    from callops.accounts import services as accounts
    from callops.calls.models import Agent
    from callops.providers.models import ProviderAccount

    for tag, name in (("a", "Acme"), ("b", "Globex")):
        org = accounts.create_organization(name)
        ctx.orgs[tag] = org
        for scope in ("rw", "ro"):
            ctx.keys[(tag, scope)] = accounts.create_api_key(org, f"{tag}-{scope}", scope=scope)[1]
        account = ProviderAccount.objects.create(organization=org, kind="sandbox", name="Sandbox")
        ctx.agents[tag] = Agent.objects.create(organization=org, provider_account=account, name="Sandbox agent",
                                               instructions="Confirm the appointment.")
    for role in ("owner", "admin", "member", "viewer"):
        user = accounts.ensure_user(f"{role}@acme.test", None)
        accounts.add_member(ctx.orgs["a"], user, role)
        ctx.users[role] = user
    outsider = accounts.ensure_user("owner@globex.test", None)
    accounts.add_member(ctx.orgs["b"], outsider, "owner")
    ctx.users["outsider"] = outsider


def submit_calls(agent, numbers: list[str], enqueue: bool = True) -> list[int]:
    """Create calls due now and enqueue their placement jobs, as a scheduled call or a retry does
    (callops/calls/redial.py): the row's due time lets the sweep re-enqueue a job lost with Redis.
    (The API's create places inline in the web process instead; the load scenario covers that.)
    With enqueue=False the caller enqueues them later (callops.calls.jobs.enqueue_placements)."""
    from django.utils import timezone

    from callops.calls import services
    from callops.calls.jobs import enqueue_placements

    pks = [services.create_call(org=agent.organization, agent=agent, to_number=number,
                                scheduled_at=timezone.now()).pk for number in numbers]
    if enqueue:
        enqueue_placements(pks)
    return pks


def live_count(pks: list[int]) -> int:
    from django.db import close_old_connections

    from callops.calls.models import TERMINAL, Call

    close_old_connections()
    total = 0
    for i in range(0, len(pks), 5000):
        total += Call.objects.filter(pk__in=pks[i:i + 5000]).exclude(status__in=TERMINAL).count()
    return total


def wait_terminal(pks: list[int], deadline: float, during=None) -> int:
    """Wait until every call is terminal or the deadline passes; `during()` runs each second."""
    from django.db import InterfaceError, OperationalError

    live = len(pks)
    while time.time() < deadline:
        if during:
            during()
        try:
            live = live_count(pks)
        except (OperationalError, InterfaceError):  # our own connection was killed on purpose
            from django.db import connection

            connection.close()
            continue
        if not live:
            return 0
        time.sleep(1)
    return live


def webhook_gaps(org, sink, deadline: float) -> tuple[int, int, int]:
    """(events that should reach the sink, distinct webhook-ids received, missing) once settled."""
    from django.db import close_old_connections

    from callops.webhooks.models import WebhookDelivery

    missing = expected = got = 0
    while True:
        close_old_connections()
        expected_ids = {f"msg_{u.hex}" for u in WebhookDelivery.objects.filter(
            endpoint__organization=org).values_list("event__public_id", flat=True)}
        with sink._lock:
            received = {r.headers.get("webhook-id") for r in sink.requests}
        expected, got = len(expected_ids), len(received & expected_ids)
        missing = expected - got
        if not missing or time.time() > deadline:
            return expected, len(received), missing
        time.sleep(1)


def sink_duplicates(sink) -> int:
    with sink._lock:
        c = Counter(r.headers.get("webhook-id") for r in sink.requests)
    return sum(n - 1 for n in c.values() if n > 1)


def placements(emu, numbers: list[str]) -> tuple[int, int, int]:
    """(numbers dialed exactly once, dialed twice or more, never dialed) at the provider."""
    once = sum(1 for n in numbers if emu.creates[n] == 1)
    twice = sum(1 for n in numbers if emu.creates[n] > 1)
    return once, twice, sum(1 for n in numbers if emu.creates[n] == 0)
