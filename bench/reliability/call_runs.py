"""Call runs under disruption: a provider emulator, a webhook sink, real processes, and a
disruptor thread (kill -9 workers, restart Redis, kill PostgreSQL connections).

Placements are counted at the provider emulator (a CallingBox emulator at SPEED), because that
is where a double dial would show: every call gets its own destination number, so a number the
emulator saw twice is a call dialed twice. The sink counts deliveries by `webhook-id`.
"""

from __future__ import annotations

import random
import threading
import time
import uuid

from tests.lib.sink import Sink

from . import cluster as cl
from .common import Result, placements, sink_duplicates, submit_calls, wait_terminal, webhook_gaps

SECRET = "whsec_reliability"
CALLINGBOX_AGENT = "0b7a6f8e-1d2c-4b3a-9e8f-7a6b5c4d3e2f"


def org_with_emulator_agent(name: str, emu):
    from callops.accounts import services as accounts
    from callops.calls.models import Agent
    from callops.providers.models import ProviderAccount

    org = accounts.create_organization(f"{name}-{uuid.uuid4().hex[:6]}")
    account = ProviderAccount(organization=org, kind=emu.kind, name=f"{emu.kind} emulator", base_url=emu.url,
                              rate_limit_per_minute=1_000_000)
    account.set_credentials({"api_key": emu.api_key})
    account.set_callback_secret(SECRET)
    account.save()
    agent = Agent.objects.create(organization=org, provider_account=account, name="agent",
                                 provider_agent_id=CALLINGBOX_AGENT)
    return org, agent


def run_calls(ctx, *, name: str, n_calls: int, workers: int, timeout: float, disrupt, early: bool,
              grace: float = 180) -> Result:
    """Submit n_calls, run `disrupt(cluster, stop_event, counters)` in a thread until they settle."""
    from callops.calls.jobs import enqueue_placements
    from callops.calls.models import Call
    from callops.providers.emulators import emulator_class
    from callops.webhooks import services as webhooks

    t0 = time.time()
    sink = Sink()
    emu = emulator_class("callingbox")(speed=cl.SPEED, secret=SECRET).start()
    env = cl.base_env(ctx.redis.url, ["127.0.0.1/32"])
    cluster = cl.Cluster(env, workers=workers, log_dir=ctx.log_dir)
    counters: dict = {}
    stop = threading.Event()
    try:
        org, agent = org_with_emulator_agent(name, emu)
        webhooks.create_endpoint(org, {"url": sink.url + "/hooks", "description": "reliability sink"})
        base = random.Random(name).randrange(1_000_000, 8_000_000)
        numbers = [f"+1415{base + i:07d}" for i in range(n_calls)]
        disruptor = threading.Thread(target=disrupt, args=(ctx, cluster, stop, counters), daemon=True)
        pks = []
        if early:  # disruptions that leave the submitting process alone start with the submissions
            disruptor.start()
            for i in range(0, n_calls, 500):
                pks += submit_calls(agent, numbers[i:i + 500])
        else:
            # The rows are written first and the placements enqueued together once the disruptor
            # runs, so its faults land while the calls are in flight; placed as they were written,
            # the calls were done before the first fault on a quick machine.
            for i in range(0, n_calls, 500):
                pks += submit_calls(agent, numbers[i:i + 500], enqueue=False)
            disruptor.start()
            enqueue_placements(pks)
        # The faults go on until every call is done or the time bound passes, and a planned series
        # of faults runs to its end; then the system gets a fault-free grace period to finish on its
        # own (no manual step). Only what is still not terminal after that is counted lost.
        live_at_bound = wait_terminal(pks, t0 + timeout)
        settled = time.time() - t0
        if getattr(disrupt, "planned", False):
            disruptor.join(max(0, t0 + timeout - time.time()))
        stop.set()
        disruptor.join(30)
        live = wait_terminal(pks, time.time() + grace) if live_at_bound else 0
        expected, received, missing = webhook_gaps(org, sink, time.time() + min(90, max(20, timeout / 5)))
        finals = dict(Call.objects.filter(pk__in=pks).values_list("to_number", "status"))
        wrong = sum(1 for n in numbers if finals.get(n) != emu.expected_final(n))
        once, twice, never = placements(emu, numbers)
        counts = {"calls": n_calls, "terminal during faults": n_calls - live_at_bound,
                  "faults lasted s": round(settled), "terminal calls/min": round((n_calls - live_at_bound) / settled * 60),
                  "terminal after grace": n_calls - live, "lost (not terminal)": live,
                  "wrong final state": wrong, "dialed once": once, "dialed twice+": twice, "never dialed": never,
                  **counters, "webhook events": expected, "delivered (distinct ids)": expected - missing,
                  "missing webhooks": missing, "redelivered (dupes at sink)": sink_duplicates(sink),
                  "processes restarted after exiting": sum(cluster.crashes.values()),
                  "web/worker peak RSS MB": "{web}/{worker_max}".format(**cluster.rss_mb())}
        # A run whose faults never happened proves nothing: it fails.
        passed = (live == 0 and wrong == 0 and twice == 0 and never == 0 and missing == 0
                  and counters.get("faults missed", 0) == 0)
        notes = [f"supervisor restarts: {cluster.crashes}"] * bool(cluster.crashes) + cluster.errors_logged()
        return Result(name, counts, passed, notes, time.time() - t0)
    finally:
        stop.set()
        cluster.stop()
        emu.stop()
        sink.close()


def kill_workers(every: float):
    def disrupt(ctx, cluster, stop, counters):
        rng = random.Random(9)
        counters["worker kill -9"] = 0
        counters["faults missed"] = 1  # until the first kill
        while not stop.wait(every):
            cluster.kill_worker(rng.randrange(len(cluster.workers)))
            counters["worker kill -9"] += 1
            counters["faults missed"] = 0
    return disrupt


def outages(ctx, cluster, stop, counters):
    """Redis down for 2 s (restarted empty), then PostgreSQL connections killed twice."""
    counters["redis restarts"] = counters["pg backends killed"] = 0
    plan = [(3, "redis"), (8, "pg"), (12, "pg"), (16, "redis")]
    counters["faults missed"] = len(plan)
    start = time.time()
    for at, what in plan:
        if stop.wait(max(0, start + at - time.time())):
            return
        if what == "redis":
            ctx.redis.restart(down_seconds=2)
            counters["redis restarts"] += 1
        else:
            killed = cl.terminate_backends()
            counters["pg backends killed"] += killed
            if not killed:  # nothing connected to kill: that fault did not happen
                continue
        counters["faults missed"] -= 1


outages.planned = True  # run_calls lets the whole plan run even when the calls finish first
