"""Provider status sync throughput against a PolyAI emulator, and a 10,000-call catch-up.

Run: `make bench-sync` (or `.venv/bin/python bench/sync.py [--calls N] [--sample N] [--latency S]`).

The emulator runs in its own process (so it does not share our GIL), seeded with --calls live
calls whose status reads `calling`.

1. Catch-up. --calls in-flight calls sit in the database as `queued` with their poll due; the
   sweep enqueues `sync_calls` jobs (50 calls each) and --workers real RQ worker processes,
   already started and waiting, run them (select, shared rate-limit budget in Redis, GET, apply
   the job's reports in one transaction through the lifecycle rules with their timeline and
   webhook events, set the next poll) until every call is up to date. Reports the wall time from
   the first sweep.
2. Throughput. Baseline: a plain httpx.Client loop GETting the same status URLs (no database, no
   Redis). Measured: `sync_calls` polls of the same calls (the steady state: nothing new).
   Ratio = polls/s ÷ baseline GETs/s, best of three rounds each (goal ≥ 0.5).
3. The goal line: catch-up calls/s ÷ one worker's steady-state polls/s from step 2 of the same
   run (goal ≥ 0.3): how much slower than polling a call costs bringing it up to date.
`--latency` adds a fixed provider response time to both sides (real providers are 50–300 ms
away; the default 0 measures pure overhead). The last line is `sync: catchup_ratio=<x> goal=0.3`;
a miss of either goal exits non-zero.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._harness import bench_env, free_port, row, setup_django  # noqa: E402

GOAL = 0.5  # steady-state polls/s ÷ bare GETs/s
CATCHUP_GOAL = 0.3  # catch-up calls/s ÷ steady-state polls/s of one worker
API_KEY = "bench-key"


def sid(i: int) -> str:
    return f"OUT-{uuid.uuid5(uuid.NAMESPACE_OID, f'bench-{i}')}"


def serve_emulator(port: int, calls: int, latency: float) -> None:
    """Child process: a PolyAI emulator with `calls` live calls already placed."""
    import os

    os.environ.update({k: v for k, v in bench_env().items() if k in ("DJANGO_SETTINGS_MODULE",)})
    import django

    django.setup()
    from callops.providers.emulators.core import Faults, Outcome
    from callops.providers.emulators.polyai import Emulator

    emu = Emulator(port=port, api_key=API_KEY, faults=Faults(latency=latency))
    live = Outcome([(0, "calling")], None)
    for i in range(calls):
        emu.scripts[f"+1415{i:07d}"] = live
        emu.new_call(sid(i), f"+1415{i:07d}")
    emu.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        emu.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=1500)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--workers", type=int, default=4, help="RQ worker processes for the catch-up")
    parser.add_argument("--serve-emulator", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_emulator:
        serve_emulator(args.serve_emulator, args.calls, args.latency)
        return

    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve-emulator", str(port), "--calls", str(args.calls),
                             "--latency", str(args.latency)], cwd=ROOT, env=bench_env(), stdout=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        assert proc.stdout.readline().strip() == "ready", "emulator did not start"
        run(port, args)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _cleanup(Organization) -> None:
    """Remove what earlier runs left (calls and accounts are PROTECTed from org deletion)."""
    from callops.calls.models import Agent, Call
    from callops.providers.models import ProviderAccount

    orgs = Organization.objects.filter(name__startswith="bench-sync")
    Call.objects.filter(organization__in=orgs).delete()
    Agent.objects.filter(organization__in=orgs).delete()
    ProviderAccount.objects.filter(organization__in=orgs).delete()
    orgs.delete()


def run(port: int, args) -> None:
    setup_django()
    import httpx
    from django.utils import timezone

    from callops.accounts.models import Organization
    from callops.accounts.services import create_organization
    from callops.calls.models import Agent, Call, CallStatus
    from callops.calls.status_sync import SYNC_CHUNK as CHUNK  # calls per job, as the sweep enqueues them
    from callops.calls.status_sync import sweep_due_syncs, sync_calls
    from callops.providers.models import ProviderAccount

    base = f"http://127.0.0.1:{port}"
    _cleanup(Organization)
    org = create_organization(f"bench-sync-{uuid.uuid4().hex[:6]}")
    account = ProviderAccount(organization=org, kind="polyai", name="bench", base_url=base,
                              rate_limit_per_minute=10**9)
    account.set_credentials({"api_key": API_KEY})
    account.save()
    agent = Agent.objects.create(organization=org, provider_account=account, name="bench")
    now = timezone.now()
    Call.objects.bulk_create([
        Call(organization=org, agent=agent, to_number=f"+1415{i:07d}", provider="polyai", provider_account=account,
             provider_call_id=sid(i), provider_status="queued", dial_claimed_at=now, next_sync_at=now)
        for i in range(args.calls)], batch_size=2000)
    pks = list(Call.objects.filter(organization=org).order_by("pk").values_list("pk", flat=True))

    # 1. catch-up: every call is behind (queued here, calling at the provider). --workers real RQ
    #    worker processes are started first and wait on the queue, as in production, where workers
    #    run before a backlog forms (their start-up, Django and the RQ registration, seconds on a
    #    busy host, is printed but not counted). The sweep enqueues the due polls; they drain them.
    import django_rq
    from rq import Worker

    queue = django_rq.get_queue("calls")
    queue.empty()
    t_start = time.perf_counter()
    workers = [subprocess.Popen([sys.executable, "manage.py", "rqworker", "calls"], cwd=ROOT, env=bench_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
               for _ in range(args.workers)]
    try:
        while Worker.count(queue=queue) < args.workers:
            assert all(w.poll() is None for w in workers), "a worker exited while starting"
            time.sleep(0.05)
        started = time.perf_counter() - t_start
        t0 = time.perf_counter()
        while sweep_due_syncs(limit=5000):
            pass
        enqueued = time.perf_counter() - t0
        sweeps = 1
        behind_q = Call.objects.filter(organization=org).exclude(status=CallStatus.INITIATED)
        while True:
            time.sleep(0.1)
            if queue.count or queue.started_job_registry.count:
                continue
            behind = behind_q.count()
            if not behind or time.perf_counter() - t0 > 3600:
                break
            # A failed job (or poll) leaves its calls leased or backed off; the sweep picks them up
            # again when that runs out, exactly as in production. The wait counts.
            if sweep_due_syncs(limit=5000):
                sweeps += 1
        catch_up = time.perf_counter() - t0
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(timeout=60)
    assert behind == 0, f"{behind} calls not brought up to date"
    failed_jobs = queue.failed_job_registry.count

    # 2. throughput, steady state
    sample = pks[: args.sample]
    urls = [f"{base}/v1/outbound-calling/{sid(i)}/status" for i in range(len(sample))]
    raw_client = httpx.Client(trust_env=False, timeout=10)
    headers = {"X-PolyAi-Auth-Token": API_KEY}
    raw_rates, sync_rates = [], []
    for _ in range(3):
        t = time.perf_counter()
        for url in urls:
            raw_client.get(url, headers=headers).raise_for_status()
        raw_rates.append(len(urls) / (time.perf_counter() - t))
        t = time.perf_counter()
        for i in range(0, len(sample), CHUNK):
            sync_calls(sample[i:i + CHUNK])
        sync_rates.append(len(sample) / (time.perf_counter() - t))
    raw, polled = max(raw_rates), max(sync_rates)
    ratio = polled / raw
    _cleanup(Organization)

    print(f"database {'postgresql' if 'postgres' in bench_env()['DATABASE_URL'] else 'sqlite'}, "
          f"emulator latency {args.latency * 1000:.0f} ms, {args.calls} calls, sample {len(sample)}")
    caught = args.calls / catch_up
    catchup_ratio = caught / polled
    print(f"catch-up: {args.calls} in-flight calls brought up to date by {args.workers} RQ workers in "
          f"{catch_up:.1f} s ({caught:.0f} calls/s; sweeps enqueued them in {enqueued:.2f} s, the workers "
          f"had taken {started:.1f} s to start; {sweeps} sweep{'s' if sweeps > 1 else ''}; {failed_jobs} failed jobs)")
    print(row("status polls/s per worker (steady state)", polled, raw, "req/s", ratio, f">= {GOAL}"))
    print(row(f"catch-up calls/s ({args.workers} workers) vs 1 worker's polls", caught, polled, "calls/s",
              catchup_ratio, f">= {CATCHUP_GOAL}"))
    print(f"sync: catchup_ratio={catchup_ratio:.2f} goal={CATCHUP_GOAL}")
    if ratio < GOAL or catchup_ratio < CATCHUP_GOAL:
        sys.exit(1)


if __name__ == "__main__":
    main()
