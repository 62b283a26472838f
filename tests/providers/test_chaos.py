"""Chaos: 500 calls across the five emulators with injected faults (5xx, 429, timeouts,
duplicated and reordered callbacks) through the real sweeps, RQ worker, Redis and HTTP.

Every call must end in the emulator's true final state, and no number may be dialed twice.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from callops.calls.models import TERMINAL, Call, CallEvent
from callops.providers.emulators.core import Faults

from .conftest import submit, tick

CALLS_PER_PROVIDER = 100
KINDS = ("callingbox", "bolna", "polyai", "trillet", "dograh")
SECRET = "whsec_chaos"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_chaos_500_calls(emulators, make_agent, live_server, short_db_connections, settings, run_jobs):
    settings.PUBLIC_URL = live_server.url
    settings.PROVIDER_SYNC_SPEED = 25  # emulators run at 50: polls at half the documented cadence
    emus, agents = {}, {}
    for i, kind in enumerate(KINDS):
        faults = Faults(p500=0.05, p429=0.05, ptimeout=0.005, retry_after=0.2, retry_after_on_5xx=True,
                        timeout_sleep=0.4, p_duplicate_callback=0.2, p_reorder_callback=0.2, reorder_delay=0.15,
                        seed=100 + i)
        emus[kind] = emulators(kind, faults=faults, spread_outcomes=True, secret=SECRET)
        agents[kind] = make_agent(kind, emus[kind], secret=SECRET if kind in ("callingbox", "trillet") else "")
        if kind in ("bolna", "dograh"):  # configured on the provider side, per agent / workflow node
            emus[kind].callback_url = agents[kind].provider_account.callback_url

    calls = []
    for n in range(CALLS_PER_PROVIDER):
        for kind in KINDS:
            calls.append((kind, submit(agents[kind], f"+1415{6000000 + n:07d}")))
    pks = [c.pk for _, c in calls]

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        tick()
        run_jobs(max_rounds=200)
        if not Call.objects.filter(pk__in=pks).exclude(status__in=TERMINAL).exists():
            break
        time.sleep(0.01)

    final = dict(Call.objects.filter(pk__in=pks).values_list("pk", "status"))
    wrong = []
    for kind, call in calls:
        expected = emus[kind].expected_final(call.to_number)
        if final[call.pk] != expected:
            wrong.append((kind, call.to_number, final[call.pk], expected))
    assert not wrong, f"{len(wrong)} calls off, e.g. {wrong[:5]}"
    for kind in KINDS:
        dialed = emus[kind].creates
        assert len(dialed) == CALLS_PER_PROVIDER and set(dialed.values()) == {1}, kind
    # the faults really happened, and the lifecycle absorbed the duplicates
    statuses = Counter(status for emu in emus.values() for (_, status) in emu.requests.elements())
    assert statuses[500] > 10 and statuses[429] > 10
    assert CallEvent.objects.filter(call_id__in=pks, source="callback", ignored=True).exists()
    assert CallEvent.objects.filter(call_id__in=pks, source="callback", ignored=False).exists()
