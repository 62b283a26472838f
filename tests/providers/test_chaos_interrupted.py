"""Chaos: prompt-based CallingBox accounts whose placements are interrupted after CallingBox
accepted them. A real `manage.py rqworker` places the calls and `manage.py runsweeper` sweeps,
against a real Redis and the transactional test database; the emulator SIGKILLs the worker (its
whole process group, work horse included) while it waits for the create's answer, so the call is
at CallingBox with no provider id in callops, and a fresh worker takes over.

Two accounts on the SDK's create: one whose call objects echo the full `webhook_url` (the callops
id in its query), one whose call objects drop the query (nothing names the call). Half the calls
are scheduled (the sweeper places them, and would place them again had callops concluded they
never arrived), half come from the API. The first account adopts every interrupted call, which
then ends in its true final state; the second cannot prove the call absent, so it fails
`placement_interrupted` without dialing. Either way every number is dialed exactly once.
"""

from __future__ import annotations

import os
import signal
import threading

import pytest
from django.utils import timezone

from callops.calls.models import TERMINAL, Call
from callops.providers.emulators.core import Faults
from tests.helpers import wait_for

from .conftest import new_call, submit
from .test_chaos import Processes, _database_url

SECRET = "whsec_interrupted"
SPEED = 100.0
CALLS = 24
# The creates of these numbers lose their worker: even ones are scheduled calls (placed by the
# sweeper, and placed again by callops if it wrongly concluded absence), odd ones API calls.
DOOMED = (0, 5, 16, 21)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_interrupted_prompt_based_placements_are_never_dialed_twice(emulators, make_agent, live_server,
                                                                    short_db_connections, settings, tmp_path):
    settings.PUBLIC_URL = live_server.url
    settings.PROVIDER_SYNC_SPEED = SPEED
    env = dict(os.environ, DATABASE_URL=_database_url(), REDIS_URL=settings.REDIS_URL, PUBLIC_URL=live_server.url,
               PROVIDER_SYNC_SPEED=str(SPEED), PROVIDER_HTTP_TIMEOUT_SECONDS="1.0", SWEEP_INTERVAL_SECONDS="0.1",
               PROVIDER_MAX_CALL_SECONDS=str(10 * 3600),  # no stale check in a lagging run (test_chaos.py)
               PLACEMENT_SETTLE_SECONDS="4", ENCRYPTION_KEY=",".join(settings.ENCRYPTION_KEYS),
               SECRET_KEY=settings.SECRET_KEY, LOG_LEVEL="WARNING")
    procs = Processes(env, tmp_path)
    lock = threading.Lock()
    kills: list[str] = []
    killed: set[tuple[str, str]] = set()
    doomed = {f"+1415{7000000 + n:07d}" for n in DOOMED}

    def kill_the_worker(emu_call):
        """CallingBox has the call; the worker waiting for the answer dies, and another starts.
        Only at a number's first create on each account: a second create is a double dial, which
        the counts below catch."""
        key = (emu_call.callback_url.split("?")[0], emu_call.number)  # (account, number)
        with lock:
            if emu_call.number not in doomed or key in killed:
                return
            killed.add(key)
            worker = procs.procs[-1]  # the one live rqworker (the sweeper is procs[0])
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)
            kills.append(emu_call.number)
            procs.spawn("rqworker", "calls", "webhooks", "default")

    emus, agents = {}, {}
    for echo in ("full", "path"):
        emus[echo] = emulators("callingbox", api="prompt", echo_webhook_url=echo, speed=SPEED, secret=SECRET,
                               spread_outcomes=True, faults=Faults())
        emus[echo].on_create = kill_the_worker
        agents[echo] = make_agent("callingbox", emus[echo], secret=SECRET, agent_id="",
                                  credentials={"api_key": emus[echo].api_key, "create_api": "prompt"})
    try:
        procs.spawn("runsweeper")
        procs.spawn("rqworker", "calls", "webhooks", "default")
        calls = [(echo, (new_call if n % 2 == 0 else submit)(
            agents[echo], f"+1415{7000000 + n:07d}", instructions="Confirm the visit.",
            **({"scheduled_at": timezone.now()} if n % 2 == 0 else {})))
                 for n in range(CALLS) for echo in ("full", "path")]
        pks = [c.pk for _, c in calls]

        def settled():
            assert procs.procs[0].poll() is None, procs.tail()  # the sweeper
            live = Call.objects.filter(pk__in=pks).exclude(status__in=TERMINAL).count()
            callbacks = sum(e.pending_callbacks() for e in emus.values())
            settled.state = f"{live} calls live, {callbacks} callbacks unanswered, {len(kills)} kills"
            return not live and not callbacks

        settled.state = "not looked yet"
        try:
            wait_for(settled, "every call to end and every callback to be answered", timeout=600, interval=0.2)
        except AssertionError as exc:
            pytest.fail(f"{exc} ({settled.state}):\n{procs.tail()}")
    finally:
        procs.stop()

    assert sorted(kills) == sorted([*doomed, *doomed])  # each doomed number on both accounts
    for echo, emu in emus.items():
        assert len(emu.creates) == CALLS and set(emu.creates.values()) == {1}, echo  # 0 double dials
    for echo, call in calls:
        call.refresh_from_db()
        truth = emus[echo].expected_final(call.to_number)
        if call.to_number in doomed and echo == "path":
            # Nothing in the list names the call: it may be at CallingBox, so it is not placed again.
            assert (call.status, call.error_code, call.provider_call_id) == ("failed", "placement_interrupted", ""), \
                call.to_number
            assert "could not show whether it received it" in call.error_message
        else:
            assert call.status == truth, (echo, call.to_number, call.error_code, call.error_message)
            assert call.provider_call_id in emus[echo].calls
        if call.to_number in doomed and echo == "full":
            assert call.events.filter(note="accepted by the provider (found after an interrupted placement)").exists()
