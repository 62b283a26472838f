"""Webhook delivery throughput and latency against a loopback sink.

Run: `make bench-webhooks` (or `.venv/bin/python bench/webhooks.py [--seconds N]`).

Every figure is measured with the worker the Procfile runs: its `worker:` command line is read
from the Procfile and started as is, with the worker class settings give it (callops' in-process
`callops.lib.worker.Worker`), so the job overhead a deployment pays is in the numbers.

1. Throughput. Baseline: a plain httpx.Client loop POSTing the same event bodies to the same sink
   (no signing, no database), in this process. Measured: the same number of pending deliveries
   sent by one worker process from the moment their delivery job is enqueued until the last
   delivery is on record (`delivered_at` is written with the attempt rows): claim with a lease,
   sign (Standard Webhooks), POST with the hard deadline and the connect-time guard, write an
   attempt row and update the delivery, on PostgreSQL. Rounds alternate the two, so both see the
   same machine load. Ratio = deliveries/s / baseline requests/s (goal >= 0.5).
2. Latency. Events are emitted at a steady 200/s (event + delivery rows committed, job enqueued on
   commit) while two worker processes deliver; event-to-delivered latency p50/p99 is
   `delivered_at - event.created_at`.
The sink runs in its own process (asyncio, keep-alive, `200 ok`), so it does not share our GIL.
The last line is `webhooks: ratio=<x> goal=0.5`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._harness import bench_env, free_port, percentile, row, setup_django  # noqa: E402

GOAL = 0.5
RATE = 200
WORKERS = 2  # worker processes for the latency run, one per core


def procfile_worker() -> list[str]:
    """The Procfile's `worker:` command, with this interpreter (the figures use what production runs)."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith("worker:"):
            args = line.split(":", 1)[1].split()
            if args and args[0] == "python":
                args[0] = sys.executable
            return args
    raise RuntimeError("the Procfile has no worker: line")


def worker_class_label() -> str:
    args = procfile_worker()
    if "--worker-class" in args:
        return args[args.index("--worker-class") + 1]
    from django.conf import settings

    return settings.RQ.get("WORKER_CLASS", "rq.worker.Worker")


def start_workers(names, env) -> list[subprocess.Popen]:
    return [subprocess.Popen([*procfile_worker(), "--name", name], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL) for name in names]


def wait_registered(names, timeout: float = 60) -> None:
    """Worker start-up is not part of any measurement: wait until each has registered with Redis."""
    import django_rq
    from rq import Worker

    conn = django_rq.get_connection("webhooks")
    ready_by = time.time() + timeout
    while not set(names) <= {w.name for w in Worker.all(connection=conn)} and time.time() < ready_by:
        time.sleep(0.1)


def stop_workers(workers) -> None:
    for worker in workers:
        worker.terminate()  # warm shutdown: the job in hand finishes first
    for worker in workers:
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(10)


def worker_env() -> dict:
    return {**bench_env(), "OUTBOUND_ALLOW_PRIVATE": "127.0.0.0/8", "REDIS_URL": os.environ["REDIS_URL"],
            "DATABASE_URL": os.environ["DATABASE_URL"]}


def reset_queue() -> None:
    import django_rq

    from callops.webhooks import jobs

    django_rq.get_queue("webhooks").empty()  # jobs left by an aborted run would be timed too
    django_rq.get_connection("webhooks").delete(jobs.KICK_KEY)  # ...and a drain marker pointing at nothing


# --- Sink process ---------------------------------------------------------------------------------
async def _serve(port: int) -> None:
    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                if length:
                    await reader.readexactly(length)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok")
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=512)
    async with server:
        await server.serve_forever()


def start_sink() -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--sink", str(port)], cwd=ROOT)
    import socket

    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port}/hook"


# --- Fixtures -------------------------------------------------------------------------------------
def make_org(url: str):
    from callops.accounts.services import create_organization
    from callops.webhooks import services

    org = create_organization(f"bench-webhooks-{os.getpid()}-{time.time_ns()}")
    endpoint, _ = services.create_endpoint(org, {"url": url, "max_in_flight": 4})
    return org, endpoint


def make_pending(org, endpoint, n: int) -> list[bytes]:
    """n events with one pending delivery each, like emit_* writes them (setup, not timed)."""
    from django.utils import timezone

    from callops.webhooks.events import _body
    from callops.webhooks.models import WebhookDelivery, WebhookEvent

    data = {"call": {"id": "00000000-0000-0000-0000-000000000000", "object": "call", "status": "completed",
                     "to_number": "+14155550100", "metadata": {"ref": "x" * 600}}}
    events = []
    for _ in range(n):
        e = WebhookEvent(organization=org, type="call.completed")
        e.body = _body(e, data)
        events.append(e)
    WebhookEvent.objects.bulk_create(events, batch_size=500)
    events = list(WebhookEvent.objects.filter(organization=org, public_id__in=[e.public_id for e in events]))
    now = timezone.now()
    WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(organization=org, event=e, endpoint=endpoint, url=endpoint.url, next_attempt_at=now)
         for e in events], batch_size=500)
    return [e.body.encode() for e in events]


def baseline_rate(url: str, bodies: list[bytes], client) -> float:
    started = time.perf_counter()
    for body in bodies:
        client.post(url, content=body, headers={"content-type": "application/json"}).raise_for_status()
    return time.perf_counter() - started


def delivery_rate(org, n: int) -> float:
    """Seconds from enqueueing the delivery job to the last of `n` deliveries being on record,
    sent by the already running Procfile worker."""
    import django_rq
    from django.db.models import Max
    from django.utils import timezone

    from callops.webhooks import jobs
    from callops.webhooks.models import DeliveryStatus, WebhookDelivery

    qs = WebhookDelivery.objects.filter(organization=org)
    started = timezone.now()
    django_rq.get_queue("webhooks").enqueue(jobs.deliver_job, None)
    deadline = time.time() + 120
    while qs.filter(status=DeliveryStatus.PENDING).exists() and time.time() < deadline:
        time.sleep(0.02)
    finished = qs.aggregate(last=Max("delivered_at"))["last"] or timezone.now()
    return (finished - started).total_seconds()


def throughput(url: str, count: int, rounds: int = 5) -> tuple[float, float, int]:
    """Alternate baseline and delivery in `rounds` chunks, so both see the same machine load."""
    import httpx

    from callops.webhooks.models import WebhookAttempt

    base_time = ours_time = 0.0
    attempts = 0
    names = [f"bench-webhooks-tp-{os.getpid()}"]
    reset_queue()
    workers = start_workers(names, worker_env())
    try:
        wait_registered(names)
        with httpx.Client() as client:
            for _ in range(rounds):
                org, endpoint = make_org(url)
                bodies = make_pending(org, endpoint, count // rounds)
                client.post(url, content=bodies[0])  # open the keep-alive connection outside the timing
                base_time += baseline_rate(url, bodies, client)
                ours_time += delivery_rate(org, len(bodies))
                attempts += WebhookAttempt.objects.filter(delivery__organization=org, succeeded=True).count()
                org.delete()  # keep the benchmark database small between runs
    finally:
        stop_workers(workers)
    return attempts / ours_time, count / base_time, attempts


def latency(url: str, seconds: float) -> tuple[float, float, int, int]:
    """Emit at a steady RATE per second while the Procfile workers deliver; return p50/p99 (ms)."""
    from django.db import transaction

    from callops.webhooks import events
    from callops.webhooks.models import DeliveryStatus, WebhookDelivery

    org, endpoint = make_org(url)
    names = [f"bench-webhooks-{os.getpid()}-{i}" for i in range(WORKERS)]
    reset_queue()
    workers = start_workers(names, worker_env())
    try:
        wait_registered(names)
        total = int(seconds * RATE)
        producers = 8  # each emit is a few database round-trips; several producers keep the pace

        def produce(k: int) -> None:
            from django.db import connection

            try:
                for i in range(k, total, producers):
                    pause = started + i / RATE - time.perf_counter()
                    if pause > 0:
                        time.sleep(pause)
                    with transaction.atomic():
                        events.emit_test_event(endpoint)
            finally:
                connection.close()

        started = time.perf_counter()
        threads = [threading.Thread(target=produce, args=(k,)) for k in range(producers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        emit_rate = total / (time.perf_counter() - started)
        deadline = time.time() + 120
        qs = WebhookDelivery.objects.filter(organization=org)
        while qs.filter(status=DeliveryStatus.PENDING).exists() and time.time() < deadline:
            time.sleep(0.2)
        lat = [(d - c).total_seconds() * 1000 for d, c in
               qs.filter(status=DeliveryStatus.DELIVERED).values_list("delivered_at", "event__created_at")]
    finally:
        stop_workers(workers)
    org.delete()
    if emit_rate < RATE * 0.9:
        print(f"note: emitted at {emit_rate:.0f}/s, below the {RATE}/s target (machine busy)")
    return percentile(lat, 50), percentile(lat, 99), len(lat), total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sink", type=int)
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    if args.sink:
        asyncio.run(_serve(args.sink))
        return

    os.environ.setdefault("REDIS_URL", bench_env()["REDIS_URL"])
    setup_django()
    from django.conf import settings

    settings.OUTBOUND_ALLOW_PRIVATE = ["127.0.0.0/8"]
    from callops.accounts.models import Organization

    Organization.objects.filter(name__startswith="bench-webhooks-").delete()  # leftovers of an aborted run
    sink, url = start_sink()
    try:
        rate, base, attempts = throughput(url, args.count)
        if attempts != args.count:
            print(f"warning: {attempts} of {args.count} deliveries succeeded")
        ratio = rate / base
        print(row("signed deliveries/s (attempt rows written)", rate, base, "req/s", ratio, f">= {GOAL}"))
        p50, p99, delivered, emitted = latency(url, args.seconds)
        print(f"event-to-delivered latency at {RATE} events/s: p50 {p50:.1f} ms, p99 {p99:.1f} ms "
              f"({delivered}/{emitted} delivered, {WORKERS} worker processes)")
        print(f"worker: the Procfile's `{' '.join(procfile_worker()[1:])}`, class {worker_class_label()}")
        print(f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}")
        print(f"webhooks: ratio={ratio:.2f} goal={GOAL}")
    finally:
        sink.terminate()
        sink.wait(5)


if __name__ == "__main__":
    main()
