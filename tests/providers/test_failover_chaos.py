"""Chaos with fallback agents: calls placed by real worker processes, killed and restarted while
they work, on an agent whose provider refuses every placement (5xx) and whose fallback works.

Every call must end on the fallback, the refusing provider must never create a call, and no
number may be dialed twice across the two providers (the emulators count creates per number).
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from django.utils import timezone

from callops.calls import routing
from callops.calls.models import TERMINAL, Call
from callops.providers import circuits
from callops.providers.emulators.core import Faults
from tests.helpers import wait_for

from .conftest import new_call, submit
from .test_chaos import Processes, _database_url

CALLS = 60
SPEED = 100.0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_kills_with_a_refusing_provider_and_a_fallback_dial_each_number_once(
        emulators, make_agent, live_server, short_db_connections, settings, tmp_path):
    settings.PUBLIC_URL = live_server.url
    settings.PROVIDER_SYNC_SPEED = SPEED
    faults = Faults()
    faults.force("500", "create", times=100_000)  # every create refused; reads (look-ups) answered
    refusing = emulators("callingbox", speed=SPEED, faults=faults)
    working = emulators("callingbox", speed=SPEED, spread_outcomes=True)
    first, fallback = make_agent("callingbox", refusing), make_agent("callingbox", working)
    routing.set_fallbacks(first, [fallback])

    # The refusals must arrive as refusals: on a busy host the emulator's 500 took over a second,
    # the create timed out, and a create that timed out may have dialed, so rightly no fallback was
    # tried and the call failed. 3 s per phase leaves room; a claim is looked up as interrupted
    # only after both requests' longest time (2 x (3 s connect + 3 s read)), 15 s.
    env = dict(os.environ, DATABASE_URL=_database_url(), REDIS_URL=settings.REDIS_URL, PUBLIC_URL=live_server.url,
               PROVIDER_SYNC_SPEED=str(SPEED), PROVIDER_HTTP_TIMEOUT_SECONDS="3.0", SWEEP_INTERVAL_SECONDS="0.1",
               PROVIDER_MAX_CALL_SECONDS=str(10 * 3600),  # no stale check in a lagging run (test_chaos.py)
               PLACEMENT_SETTLE_SECONDS="15", ENCRYPTION_KEY=",".join(settings.ENCRYPTION_KEYS),
               SECRET_KEY=settings.SECRET_KEY, LOG_LEVEL="WARNING")
    procs = Processes(env, tmp_path)
    calls = []
    kills = 0
    try:
        procs.spawn("rqworker", "calls", "webhooks", "default")
        procs.spawn("rqworker", "calls", "webhooks", "default")
        procs.spawn("runsweeper")
        for n in range(CALLS):
            calls.append(submit(first, f"+1415{7000000 + n:07d}"))
            if n % 15 == 7:
                # Kill a worker mid-run (whatever it is doing) and start another in its place.
                victim = procs.procs[kills % 2 if kills < 2 else len(procs.procs) - 1]
                if victim.poll() is None:
                    os.killpg(victim.pid, signal.SIGKILL)
                    victim.wait(5)
                    kills += 1
                procs.spawn("rqworker", "calls", "webhooks", "default")
            # Pacing only, no assertion waits on it: calls arrive over a few seconds, so the kills
            # fall among jobs. Kills timed inside the fallback's create are the next test.
            time.sleep(0.05)
        pks = [c.pk for c in calls]

        def settled():
            live = Call.objects.filter(pk__in=pks).exclude(status__in=TERMINAL).count()
            settled.state = f"{live} calls live"
            return not live

        settled.state = "not looked yet"
        try:
            wait_for(settled, "every call to end", timeout=600, interval=0.2)  # a safety net only
        except AssertionError as exc:
            pytest.fail(f"{exc} ({settled.state}):\n{procs.tail()}")
    finally:
        procs.stop()
    assert kills >= 3
    assert sum(refusing.creates.values()) == 0
    numbers = {c.to_number for c in calls}
    assert set(working.creates) == numbers and set(working.creates.values()) == {1}, working.creates
    final = dict(Call.objects.filter(pk__in=pks).values_list("to_number", "status"))
    wrong = {n: (final[n], working.expected_final(n)) for n in numbers if final[n] != working.expected_final(n)}
    assert not wrong, wrong
    assert set(Call.objects.filter(pk__in=pks).values_list("agent_id", flat=True)) == {fallback.pk}
    # The refusals opened the refusing account's circuit: later calls skipped it without a request.
    outcomes = [[s["outcome"] for s in c.routing] for c in Call.objects.filter(pk__in=pks)]
    assert any(o[0] == "provider_unavailable" for o in outcomes) and any(o[0] == "circuit_open" for o in outcomes)
    assert circuits.health(first.provider_account.pk).errors >= circuits.min_samples()


DOOMED = (3, 10, 17, 24)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_workers_killed_inside_the_fallbacks_create_are_recovered_there(
        emulators, make_agent, live_server, short_db_connections, settings, tmp_path):
    """The worker is SIGKILLed (its whole process group) while it waits for the fallback
    provider's answer to the create, after failing over from a provider that refuses every
    create. The fallback has the call; callops has no provider id. Recovery must ask the fallback
    (not the refusing first provider, which cannot know the call), adopt the call there, and never
    dial anyone again. Half the calls are scheduled (placed by the sweeper), half queued as the API
    queues them."""
    settings.PUBLIC_URL = live_server.url
    settings.PROVIDER_SYNC_SPEED = SPEED
    faults = Faults()
    faults.force("500", "create", times=100_000)
    refusing = emulators("callingbox", speed=SPEED, faults=faults)
    working = emulators("callingbox", speed=SPEED, spread_outcomes=True)
    first, fallback = make_agent("callingbox", refusing), make_agent("callingbox", working)
    routing.set_fallbacks(first, [fallback])
    env = dict(os.environ, DATABASE_URL=_database_url(), REDIS_URL=settings.REDIS_URL, PUBLIC_URL=live_server.url,
               PROVIDER_SYNC_SPEED=str(SPEED), PROVIDER_HTTP_TIMEOUT_SECONDS="1.0", SWEEP_INTERVAL_SECONDS="0.1",
               PROVIDER_MAX_CALL_SECONDS=str(10 * 3600),  # no stale check in a lagging run (test_chaos.py)
               PLACEMENT_SETTLE_SECONDS="4", ENCRYPTION_KEY=",".join(settings.ENCRYPTION_KEYS),
               SECRET_KEY=settings.SECRET_KEY, LOG_LEVEL="WARNING")
    procs = Processes(env, tmp_path)
    lock = threading.Lock()
    kills: list[str] = []
    doomed = {f"+1415{7100000 + n:07d}" for n in DOOMED}

    def kill_the_worker(emu_call):
        """The fallback has the call; the worker waiting for its answer dies, another starts. Only
        at a number's first create: a second create is a double dial, which the counts catch."""
        with lock:
            if emu_call.number not in doomed or emu_call.number in kills:
                return
            worker = procs.procs[-1]  # the one live rqworker (the sweeper is procs[0])
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)
            kills.append(emu_call.number)
            procs.spawn("rqworker", "calls", "webhooks", "default")

    working.on_create = kill_the_worker
    calls = []
    try:
        procs.spawn("runsweeper")
        procs.spawn("rqworker", "calls", "webhooks", "default")
        for n in range(30):
            number = f"+1415{7100000 + n:07d}"
            calls.append(new_call(first, number, scheduled_at=timezone.now()) if n % 2 else submit(first, number))
        pks = [c.pk for c in calls]

        def settled():
            assert procs.procs[0].poll() is None, procs.tail()  # the sweeper
            live = Call.objects.filter(pk__in=pks).exclude(status__in=TERMINAL).count()
            settled.state = f"{live} calls live, {len(kills)} kills"
            return not live

        settled.state = "not looked yet"
        try:
            wait_for(settled, "every call to end", timeout=600, interval=0.2)  # a safety net only
        except AssertionError as exc:
            pytest.fail(f"{exc} ({settled.state}):\n{procs.tail()}")
    finally:
        procs.stop()
    assert sorted(kills) == sorted(doomed)
    assert sum(refusing.creates.values()) == 0
    numbers = {c.to_number for c in calls}
    assert set(working.creates) == numbers and set(working.creates.values()) == {1}, working.creates  # 0 double dials
    rows = {c.to_number: c for c in Call.objects.filter(pk__in=pks)}
    wrong = {n: (c.status, c.error_code, working.expected_final(n)) for n, c in rows.items()
             if c.status != working.expected_final(n)}
    assert not wrong, wrong  # every call, the interrupted ones included, ends in its true state
    for number in doomed:
        call = rows[number]
        assert call.agent_id == fallback.pk and call.provider_call_id in working.calls
        assert call.routing[-1]["outcome"] == "placed", call.routing
        assert call.routing[-1]["note"] == "found at the provider after an interrupted placement"
        assert call.routing[-2]["outcome"] in ("provider_unavailable", "circuit_open")
        assert call.events.filter(note="accepted by the provider (found after an interrupted placement)").exists()
