"""Chaos: 500 calls across the five emulators with injected faults (5xx, 429 with Retry-After,
timeouts, duplicated and reordered callbacks), run by real processes: two `manage.py rqworker`
workers and `manage.py runsweeper` against a real Redis and the transactional test database,
while the emulators (and the app receiving their callbacks) run in this process.

CallingBox runs on the SDK's prompt-based API, so its timed-out creates are interrupted
placements on a prompt-based account. Every call must end in the emulator's true final state, no
number may be dialed twice (the emulators count creates per destination), and CallingBox's late results must reach the provider
extractor. Clocks are compressed (emulators and sync both run 100x), so a run takes well under
a minute and a half on two cores.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from django.db import connection

from callops.calls.models import TERMINAL, Call, CallEvent
from callops.providers.emulators.callingbox import RESULT
from callops.providers.emulators.core import Faults
from tests.helpers import wait_for

from .conftest import submit

ROOT = Path(__file__).resolve().parents[2]
CALLS_PER_PROVIDER = 100
KINDS = ("callingbox", "bolna", "polyai", "trillet", "dograh")
SECRET = "whsec_chaos"
SPEED = 100.0
WORKERS = 2


def _database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class Processes:
    """Worker and sweeper subprocesses, each in its own process group, logging to files."""

    def __init__(self, env: dict, logs: Path):
        self.env, self.logs, self.procs = env, logs, []

    def spawn(self, *args):
        log = open(self.logs / f"{args[0]}-{len(self.procs)}.log", "wb")
        self.procs.append(subprocess.Popen([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, stdout=log,
                                           stderr=subprocess.STDOUT, start_new_session=True))

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.procs)

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)

    def tail(self) -> str:
        return "\n".join(f"--- {f.name}\n{f.read_text(errors='replace')[-2000:]}" for f in sorted(self.logs.glob("*.log")))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_chaos_500_calls_through_worker_processes(emulators, make_agent, live_server, short_db_connections, settings,
                                                  tmp_path):
    settings.PUBLIC_URL = live_server.url
    settings.PROVIDER_SYNC_SPEED = SPEED
    emus, agents = {}, {}
    for i, kind in enumerate(KINDS):
        faults = Faults(p500=0.04, p429=0.04, ptimeout=0.01, retry_after=0.2, retry_after_on_5xx=True,
                        timeout_sleep=1.2, p_duplicate_callback=0.2, p_reorder_callback=0.2, reorder_delay=0.15,
                        seed=100 + i)
        # A 1 % chance per read can miss a whole run; two forced read timeouts per provider make
        # sure the timeout path is exercised every time, and the random ones come on top.
        faults.force("timeout", "read", times=2)
        # CallingBox on the SDK's prompt-based API: its timed-out creates are interrupted placements
        # that recovery must settle from the list (it pages, and matches by the webhook_url's id).
        options = {"api": "prompt"} if kind == "callingbox" else {}
        # PolyAI's status read 404s 2 h (provider time) after the end: at 100x that is 72 s, which a
        # busy two-core machine running the suite beside this test can overrun; ten times that keeps
        # the test about losing nothing, not about how fast a loaded machine polls.
        if kind == "polyai":
            options = {"expiry_seconds": 72_000}
        emus[kind] = emulators(kind, speed=SPEED, faults=faults, spread_outcomes=True, secret=SECRET, **options)
        agents[kind] = make_agent(kind, emus[kind], secret=SECRET if kind in ("callingbox", "trillet") else "",
                                  **({"credentials": {"api_key": emus[kind].api_key, "create_api": "prompt"}}
                                     if kind == "callingbox" else {}))
        if kind in ("bolna", "dograh"):  # configured on the provider side, per agent / workflow node
            emus[kind].callback_url = agents[kind].provider_account.callback_url
    # CallingBox extracts after the hangup; its result must still reach the provider extractor.
    agents["callingbox"].returns = {"appointment_confirmed": "boolean", "party_size": "integer"}
    agents["callingbox"].extractor = "provider"
    agents["callingbox"].save()

    env = dict(os.environ, DATABASE_URL=_database_url(), REDIS_URL=settings.REDIS_URL, PUBLIC_URL=live_server.url,
               PROVIDER_SYNC_SPEED=str(SPEED), PROVIDER_HTTP_TIMEOUT_SECONDS="1.0", SWEEP_INTERVAL_SECONDS="0.1",
               # Every call here reaches a final status; at 100x an hour's deadline is 36 s of wall
               # time, which a busy host's starved emulators and polls overran (a PolyAI call failed
               # `stale`). Ten hours keeps the stale check out of a run that only lags.
               PROVIDER_MAX_CALL_SECONDS=str(10 * 3600),
               ENCRYPTION_KEY=",".join(settings.ENCRYPTION_KEYS), SECRET_KEY=settings.SECRET_KEY, LOG_LEVEL="WARNING")
    procs = Processes(env, tmp_path)
    started = time.monotonic()
    try:
        for _ in range(WORKERS):
            procs.spawn("rqworker", "calls", "webhooks", "default")  # the production worker class
        procs.spawn("runsweeper")
        calls = []
        for n in range(CALLS_PER_PROVIDER):
            for kind in KINDS:
                calls.append((kind, submit(agents[kind], f"+1415{6000000 + n:07d}")))
        pks = [c.pk for _, c in calls]
        completed_cb = [c.pk for kind, c in calls
                        if kind == "callingbox" and emus[kind].expected_final(c.to_number) == "completed"]
        def settled():
            assert procs.alive(), procs.tail()
            live = Call.objects.filter(pk__in=pks).exclude(status__in=TERMINAL).count()
            extracting = Call.objects.filter(pk__in=completed_cb, result_status__in=["", "pending"]).count()
            callbacks = sum(e.pending_callbacks() for e in emus.values())
            settled.state = f"{live} calls live, {extracting} extracting, {callbacks} callbacks unanswered"
            return not live and not extracting and not callbacks

        settled.state = "not looked yet"
        try:
            # Late duplicate and reordered callbacks are among those awaited (and must change nothing).
            wait_for(settled, "every call to end, its extraction to finish and every callback to be answered",
                     timeout=900, interval=0.2)  # a safety net only
        except AssertionError as exc:
            pytest.fail(f"{exc} ({settled.state}):\n{procs.tail()}")
    finally:
        procs.stop()
    elapsed = time.monotonic() - started

    final = dict(Call.objects.filter(pk__in=pks).values_list("pk", "status"))
    wrong = [(kind, call.to_number, final[call.pk], emus[kind].expected_final(call.to_number))
             for kind, call in calls if final[call.pk] != emus[kind].expected_final(call.to_number)]
    assert not wrong, f"{len(wrong)} calls off, e.g. {wrong[:5]}\n" + "\n".join(
        f"{c.to_number}: {c.error_code} {c.error_message!r}; "
        + "; ".join(f"{e.source}:{e.status or e.kind}:{e.note or e.raw_status}" for e in c.events.order_by("id"))
        for c in Call.objects.filter(to_number__in=[w[1] for w in wrong[:3]]))
    for kind in KINDS:
        dialed = emus[kind].creates
        assert len(dialed) == CALLS_PER_PROVIDER and set(dialed.values()) == {1}, kind
    timed_out = list(Call.objects.filter(pk__in=pks, error_code__in=["stale", "status_expired"]).values_list(
        "provider", "to_number", "error_code", "error_message"))
    assert not timed_out, timed_out
    cb = emus["callingbox"]
    for call in Call.objects.filter(pk__in=completed_cb):
        silent = cb.outcome_for(call.to_number)[0] == "silent"  # CallingBox's own extraction failed
        expected = ("failed", dict.fromkeys(RESULT)) if silent else ("completed", RESULT)
        assert (call.result_status, call.result) == expected, (call.to_number, call.result_error)
    # The faults really happened, and the lifecycle absorbed the duplicates and reorders.
    statuses = Counter(status for emu in emus.values() for (_, status) in emu.requests.elements())
    assert statuses[500] > 10 and statuses[429] > 10 and statuses[504] >= 2 * len(KINDS)
    # Every report the app applied is on the timeline exactly once; the others overtook the worker's
    # record of the placement and were answered as unknown (the next poll catches up). How many
    # overtake depends on the machine's load, so they are counted from the answers, not assumed.
    answers = [json.loads(body) for e in emus.values()
               for (_, status), body in zip(e.callback_log, e.callback_answers, strict=True) if status == 200]
    applied, unknown = sum(a["applied"] for a in answers), sum(a["unknown"] for a in answers)
    recorded = CallEvent.objects.filter(call_id__in=pks, source="callback").count()
    # A repeated Dograh delivery id is answered `duplicate` and applies nothing.
    assert recorded == applied and applied + unknown == sum(a["received"] for a in answers if not a.get("duplicate"))
    assert any(a.get("duplicate") for a in answers)
    # No well-formed vendor callback is refused: a 4xx is final for the vendor, so the push is lost.
    refused = [(e.kind, cid, status) for e in emus.values() for cid, status in e.callback_log if 400 <= status < 500]
    assert not refused, refused[:5]
    assert CallEvent.objects.filter(call_id__in=pks, source="callback", ignored=True).count() > 50
    print(f"chaos: {len(pks)} calls in {elapsed:.1f} s")
