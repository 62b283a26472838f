"""Load: N concurrent API clients (threads, one keep-alive httpx client each) for S seconds,
mixing creates (20 %), reads (40 %) and lists (40 %) against gunicorn, with the RQ workers and
the sweeper placing and polling the created sandbox calls at the same time. Goal: zero 5xx and
zero transport errors; p50/p99 reported per operation."""

from __future__ import annotations

import random
import threading
import time

import httpx

from . import cluster as cl
from ._stats import percentile
from .common import Result


def run(ctx, args) -> Result:
    t0 = time.time()
    env = cl.base_env(ctx.redis.url, ["127.0.0.1/32"])
    cluster = cl.Cluster(env, workers=args.workers, web_workers=args.web_workers, log_dir=ctx.log_dir)
    agent = str(ctx.agents["a"].public_id)
    headers = {"Authorization": f"Bearer {ctx.keys[('a', 'rw')]}"}
    ids: list[str] = []
    ids_lock = threading.Lock()
    lat: dict[str, list[float]] = {"create": [], "read": [], "list": []}
    statuses: dict[int, int] = {}
    errors: list[str] = []
    stop_at = time.time() + args.load_seconds
    start_gate = threading.Barrier(args.clients + 1)

    def client(i: int):
        rng = random.Random(i)
        with httpx.Client(base_url=cluster.url, headers=headers, timeout=60, trust_env=False) as http:
            start_gate.wait()
            n = 0
            while time.time() < stop_at:
                n += 1
                r = rng.random()
                with ids_lock:
                    known = ids[rng.randrange(len(ids))] if ids else None
                t = time.perf_counter()
                try:
                    if r < 0.2 or known is None:
                        op = "create"
                        resp = http.post("/v1/calls", json={"agent_id": agent,
                                                            "to": f"+1202555{(i * 7919 + n) % 10000:04d}"})
                        if resp.status_code == 201:
                            with ids_lock:
                                ids.append(resp.json()["id"])
                    elif r < 0.6:
                        op = "read"
                        resp = http.get(f"/v1/calls/{known}")
                    else:
                        op = "list"
                        resp = http.get("/v1/calls", params={"limit": 20})
                    status = resp.status_code
                except httpx.HTTPError as exc:
                    op, status = "error", 0
                    with ids_lock:
                        errors.append(f"{exc.__class__.__name__}: {exc}"[:200])
                took = time.perf_counter() - t
                with ids_lock:
                    statuses[status] = statuses.get(status, 0) + 1
                    if op in lat:
                        lat[op].append(took)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(args.clients)]
    try:
        for th in threads:
            th.start()
        start_gate.wait()
        begun = time.time()
        for th in threads:
            th.join(args.load_seconds + 120)
        elapsed = time.time() - begun
        total = sum(statuses.values())
        all_lat = [x for v in lat.values() for x in v]
        five = sum(c for s, c in statuses.items() if s >= 500)
        # Every request is valid and the rate limit is lifted, so a 4xx means the mix itself is broken.
        four = sum(c for s, c in statuses.items() if 400 <= s < 500)
        counts = {"clients": args.clients, "seconds": args.load_seconds, "requests": total,
                  "req/s": round(total / elapsed, 1),
                  "reads/s": round((len(lat["read"]) + len(lat["list"])) / elapsed, 1),
                  "p50 ms": round(percentile(all_lat, 50) * 1000, 1), "p99 ms": round(percentile(all_lat, 99) * 1000, 1),
                  **{f"{op} p50/p99 ms": f"{percentile(v, 50) * 1000:.0f}/{percentile(v, 99) * 1000:.0f}"
                     for op, v in lat.items()},
                  "statuses": ", ".join(f"{s}:{c}" for s, c in sorted(statuses.items())),
                  "5xx": five, "transport errors": statuses.get(0, 0), "4xx": four,
                  "web/worker peak RSS MB": "{web}/{worker_max}".format(**cluster.rss_mb())}
        notes = sorted(set(errors))[:3] + cluster.errors_logged()
        return Result("load", counts, five == 0 and four == 0 and statuses.get(0, 0) == 0 and total > 0, notes, time.time() - t0)
    finally:
        cluster.stop()
