"""Failover: 2 sweepers, 2 web processes and 3 workers; the leading sweeper and one worker are
killed with SIGKILL mid-run.

The mix: API clients spread over both web processes (two gunicorn masters on their own ports)
create calls on a CallingBox and a Bolna emulator, half placed at once by the web process, half
scheduled a few seconds ahead so that a sweeper must place them, some before and some after the
kill; batches created through the API, whose ticks run in the leading sweeper; an endpoint of the
organization pointing at a loopback sink that counts deliveries per `webhook-id`.

Once the calls are in flight and scheduled ones are still ahead, the sweeper holding the leader
lock (read from PostgreSQL's pg_locks, not from the sweepers' logs) and one worker get SIGKILL.
Right after, a probe call falls due; the scenario times the kill to the other sweeper holding the
lock and to the probe being enqueued (due work resuming), against the goal of 2 sweep intervals.
The same probe is timed once before the kill, with the leader alive, as the baseline.

Pass: 0 lost (every call terminal, every batch finished), 0 in the wrong final state, 0 dialed
twice (creates counted per destination number at the emulators), every webhook event delivered
to the sink at least once (duplicates reported), 0 5xx from the API, and due work resumed within
2 sweep intervals of the kill.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
import uuid

import httpx

from tests.lib.sink import Sink
from tests.providers.conftest import AGENT_IDS

from . import cluster as cl
from .call_runs import SECRET
from .common import Result, sink_duplicates, wait_terminal, webhook_gaps

KINDS = ("callingbox", "bolna")
CLIENTS = 8


def _org(emus: dict):
    from callops.accounts import services as accounts
    from callops.calls.models import Agent
    from callops.providers.models import ProviderAccount

    org = accounts.create_organization(f"Failover-{uuid.uuid4().hex[:6]}")
    agents = {}
    for kind, emu in emus.items():
        account = ProviderAccount(organization=org, kind=kind, name=f"{kind} emulator", base_url=emu.url,
                                  rate_limit_per_minute=1_000_000)
        account.set_credentials({"api_key": emu.api_key})
        account.set_callback_secret(SECRET if kind == "callingbox" else "")
        account.save()
        agents[kind] = Agent.objects.create(organization=org, provider_account=account, name=kind,
                                            provider_agent_id=AGENT_IDS[kind])
        if kind == "bolna":  # configured on the provider side, per agent
            emu.callback_url = account.callback_url
    return org, agents


def _probe(agent, number: str, due: float) -> int:
    """A call falling due at `due` (a time.time()) that only a sweep enqueues (nothing else hands
    a scheduled call to the queue)."""
    from callops.calls import services

    return services.create_call(org=agent.organization, agent=agent, to_number=number,
                                scheduled_at=dt.datetime.fromtimestamp(due, dt.UTC)).pk


class Watch:
    """Polls, on connections of its own, who holds the leader lock and whether a probe call was
    picked up: enqueued by a sweep (its enqueue lease is in Redis) or already taken by a worker."""

    def __init__(self, cluster, redis_url: str):
        import psycopg
        import redis as redis_lib

        self.cluster = cluster
        self.db = psycopg.connect(cl.DB_URL, autocommit=True)
        self.redis = redis_lib.Redis.from_url(redis_url)

    def holder(self) -> tuple[int, int] | None:
        return self.cluster.lock_holder(self.db)

    def picked_up(self, pk: int) -> bool:
        if self.redis.exists(f"callops:enqueued:place-call-{pk}"):
            return True
        row = self.db.execute("SELECT dial_claimed_at IS NOT NULL FROM calls_call WHERE id = %s", (pk,)).fetchone()
        return bool(row and row[0])

    def until_picked_up(self, pk: int, timeout: float = 60) -> float | None:
        """time.time() at which the probe was seen picked up, or None."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.picked_up(pk):
                return time.time()
            time.sleep(0.005)
        return None

    def close(self) -> None:
        self.db.close()


def run(ctx, args) -> Result:
    from django.db import close_old_connections

    from callops.accounts import services as accounts
    from callops.batches.models import BATCH_FINISHED, Batch, BatchStatus
    from callops.calls.models import TERMINAL, Call
    from callops.providers.emulators import emulator_class
    from callops.webhooks import services as webhooks

    t0 = time.time()
    interval = args.failover_sweep_interval
    sink = Sink()
    emus = {kind: emulator_class(kind)(speed=cl.SPEED, secret=SECRET, spread_outcomes=True).start()
            for kind in KINDS}
    # The production default interval (1 s): the goal is stated in intervals.
    env = {**cl.base_env(ctx.redis.url, ["127.0.0.1/32"]), "SWEEP_INTERVAL_SECONDS": str(interval)}
    cluster = cl.Cluster(env, workers=args.workers, web_workers=args.web_workers, log_dir=ctx.log_dir,
                         sweepers=2, webs=2)
    counters: dict = {}
    notes: list[str] = []
    watch = None
    try:
        org, agents = _org(emus)
        key = accounts.create_api_key(org, "failover", scope="rw")[1]
        webhooks.create_endpoint(org, {"url": sink.url + "/hooks", "description": "failover sink"})
        base = random.Random("failover").randrange(1_000_000, 8_000_000)
        serial = iter(range(10_000_000))

        def number() -> str:
            return f"+1415{base + next(serial):07d}"

        numbers: dict[str, list[str]] = {kind: [] for kind in KINDS}
        # Bounded; a busy 2-core host can take minutes to start every process at once.
        deadline = time.time() + 240
        while cluster.leading_sweeper() is None and time.time() < deadline:
            time.sleep(0.05)
        if cluster.leading_sweeper() is None:
            raise RuntimeError("no sweeper took the leader lock within 240 s")
        watch = Watch(cluster, ctx.redis.url)
        # The baseline: how long a call falling due waits for a sweep while the leader lives.
        n = number()
        numbers["callingbox"].append(n)
        due = time.time() + 1.5
        baseline_pk = _probe(agents["callingbox"], n, due)
        seen = watch.until_picked_up(baseline_pk)
        baseline = seen - due if seen is not None else None

        # Batches through the API, one per web process in turn; their ticks run in the leader.
        batch_ids: list[str] = []
        for b in range(args.failover_batches):
            kind = KINDS[b % len(KINDS)]
            recipients = [number() for _ in range(args.failover_batch_size)]
            numbers[kind] += recipients
            r = httpx.post(cluster.urls[b % len(cluster.urls)] + "/v1/batches", timeout=60,
                           headers={"Authorization": f"Bearer {key}"},
                           json={"agent_id": str(agents[kind].public_id), "recipients": recipients,
                                 "name": f"failover {b}", "max_concurrency": 25, "calls_per_minute": 6000})
            if r.status_code != 201:
                raise RuntimeError(f"batch create answered {r.status_code}: {r.text[:300]}")
            batch_ids.append(r.json()["id"])

        # API clients, spread over both web processes; every second call is scheduled a few seconds
        # ahead of its request, so a sweeper must place it, before or after the kill.
        plan = []
        for i in range(args.failover_calls):
            kind = KINDS[i % len(KINDS)]
            plan.append((kind, number(), random.Random(i).uniform(2, 8) if i % 2 else None))
        call_ids: list[str] = []
        statuses: dict[int, int] = {}
        refusals: list[str] = []
        lock = threading.Lock()
        submit_start = time.time()

        def client(c: int) -> None:
            with httpx.Client(base_url=cluster.urls[c % len(cluster.urls)], timeout=60, trust_env=False,
                              headers={"Authorization": f"Bearer {key}"}) as http:
                for kind, to, delay in plan[c::CLIENTS]:
                    body = {"agent_id": str(agents[kind].public_id), "to": to}
                    if delay is not None:
                        at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=delay)
                        body["scheduled_at"] = at.isoformat().replace("+00:00", "Z")
                    try:
                        r = http.post("/v1/calls", json=body)
                        code = r.status_code
                    except httpx.HTTPError:
                        code = 0
                    with lock:
                        statuses[code] = statuses.get(code, 0) + 1
                        if code == 201:
                            call_ids.append(r.json()["id"])
                            numbers[kind].append(to)
                        elif len(refusals) < 3:
                            refusals.append(f"POST /v1/calls answered {code}: {r.text[:200] if code else ''}")

        threads = [threading.Thread(target=client, args=(c,), daemon=True) for c in range(CLIENTS)]
        for t in threads:
            t.start()
        # The kill, mid-run: half the creates answered, the rest still coming in, calls in flight,
        # scheduled ones still ahead, batches still dialing.
        while sum(statuses.values()) < len(plan) // 2 and any(t.is_alive() for t in threads):
            time.sleep(0.05)
        close_old_connections()
        live_before = Call.objects.filter(organization=org).exclude(status__in=TERMINAL).count()
        ahead = Call.objects.filter(organization=org, status="queued",
                                    scheduled_at__gt=dt.datetime.now(dt.UTC)).count()
        batches_running = Batch.objects.filter(organization=org, status=BatchStatus.RUNNING).count()
        # A probe call falls due 0.1 s after the kill, so only a sweep that runs after the kill can
        # enqueue it; the time from the kill to its pickup is how long due work waited.
        probe_number = number()
        numbers["callingbox"].append(probe_number)
        due = time.time() + 1.5
        probe_pk = _probe(agents["callingbox"], probe_number, due)
        held = watch.holder()
        if held is None:
            raise RuntimeError("no sweeper held the leader lock at the kill")
        leader, leader_pid = held
        time.sleep(max(0.0, due - 0.1 - time.time()))
        killed_at = time.time()
        cluster.kill_sweeper(leader)
        victim = random.Random(7).randrange(len(cluster.workers))
        cluster.kill_worker(victim)
        takeover = resumed = None
        new_leader = None
        deadline = time.time() + 60
        while time.time() < deadline and (takeover is None or resumed is None):
            if takeover is None:
                holder = watch.holder()
                if holder is not None and holder[1] != leader_pid:  # another session holds it
                    takeover, new_leader = time.time() - killed_at, holder[0]
            if resumed is None and watch.picked_up(probe_pk):
                resumed = time.time() - killed_at
            time.sleep(0.005)
        for t in threads:
            t.join(600)
        submitted_in = time.time() - submit_start

        # Every call: the API's, the batches' and the probes'.
        public = [uuid.UUID(i) for i in call_ids]
        pks = list(Call.objects.filter(public_id__in=public).values_list("pk", flat=True))
        pks += [baseline_pk, probe_pk]
        bdeadline = time.time() + args.failover_timeout
        while time.time() < bdeadline:
            close_old_connections()
            unfinished = Batch.objects.filter(organization=org).exclude(status__in=BATCH_FINISHED).count()
            if not unfinished:
                break
            time.sleep(1)
        batch_pks = set(Call.objects.filter(batch__organization=org).values_list("pk", flat=True))
        all_pks = sorted(set(pks) | batch_pks)
        live = wait_terminal(all_pks, bdeadline)
        # Bounded, and returns as soon as every event has reached the sink.
        expected, received, missing = webhook_gaps(org, sink, time.time() + 180)

        finals = dict(Call.objects.filter(organization=org).values_list("to_number", "status"))
        every = [(kind, n) for kind in KINDS for n in numbers[kind]]
        never = sum(1 for kind, n in every if emus[kind].creates[n] == 0)
        twice = sum(1 for kind, n in every if emus[kind].creates[n] > 1)
        wrong = [(kind, n) for kind, n in every if finals.get(n) != emus[kind].expected_final(n)]
        unfinished_batches = Batch.objects.filter(organization=org).exclude(status=BatchStatus.COMPLETED).count()
        server_errors = sum(c for s, c in statuses.items() if s >= 500 or s == 0)
        refused = sum(c for s, c in statuses.items() if 400 <= s < 500)
        goal = 2 * interval
        counters.update({
            "sweepers/web/workers": f"2/{len(cluster.urls)}/{len(cluster.workers)}",
            "calls": len(every), "API creates": len(call_ids), "batches": len(batch_ids),
            "recipients": args.failover_batches * args.failover_batch_size,
            "API 5xx or transport errors": server_errors, "API 4xx": refused,
            "live at kill": live_before, "scheduled ahead at kill": ahead, "batches running at kill": batches_running,
            "leader killed": f"sweeper{leader}", "worker killed": f"worker{victim}",
            "took over": f"sweeper{new_leader}" if new_leader is not None else "none",
            "sweep interval s": interval,
            "due-work pickup, leader alive s": round(baseline, 2) if baseline is not None else "never",
            "kill to standby leading s": round(takeover, 2) if takeover is not None else "never",
            "kill to due work resumed s": round(resumed, 2) if resumed is not None else "never",
            "goal s (2 intervals)": goal,
            "lost (not terminal)": live, "unfinished batches": unfinished_batches,
            "wrong final state": len(wrong), "dialed twice+": twice, "never dialed": never,
            "webhook events": expected, "delivered (distinct ids)": expected - missing, "missing webhooks": missing,
            "redelivered (dupes at sink)": sink_duplicates(sink),
            "processes restarted after exiting": sum(cluster.crashes.values()),
        })
        notes += [f"{k} {n}: {finals.get(n)} != {emus[k].expected_final(n)}" for k, n in wrong[:5]]
        notes.append(f"API answers: {dict(sorted(statuses.items()))}; submissions took {submitted_in:.1f} s")
        notes += refusals
        if cluster.crashes:
            notes.append(f"supervisor restarts: {cluster.crashes}")
        notes += cluster.errors_logged()
        # A kill that landed when nothing was left to do proves nothing: it fails.
        faults_landed = live_before > 0 and ahead > 0 and new_leader is not None and new_leader != leader
        if not faults_landed:
            notes.append("the kill did not land mid-run (nothing live or scheduled ahead, or the killed "
                         "sweeper's replacement took the lock instead of the standby)")
        passed = (faults_landed and live == 0 and unfinished_batches == 0 and not wrong and twice == 0
                  and never == 0 and missing == 0 and server_errors == 0 and refused == 0
                  and resumed is not None and resumed <= goal)
        return Result("failover (2 sweepers, 2 webs)", counters, passed, notes, time.time() - t0)
    finally:
        if watch is not None:
            watch.close()
        cluster.stop()
        for emu in emus.values():
            emu.stop()
        sink.close()
