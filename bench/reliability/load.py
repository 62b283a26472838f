"""Load: N concurrent API clients (threads, one keep-alive httpx client each) for S seconds,
mixing creates (20 %), reads (40 %) and lists (40 %) against gunicorn, with the RQ workers and
the sweeper placing and polling the created sandbox calls at the same time.

The same mix is driven through the same gunicorn (same workers, threads and settings) against a
bare Django JSON view (bench/views.py `bare`, routed only by the benchmarks' urlconf: no key
check, no database) and against the API, S seconds each, in alternating slices (--load-rounds),
so a change in the rest of the host's load weighs on both alike. Each bare slice starts once the
API slice's calls are terminal, so the bare view is measured on an idle cluster and the API's
own background work (placing and polling what it created) counts against the API.

Goal (issue 20): zero 5xx (and zero transport errors and 4xx: every request is valid), and API
throughput at least 0.5x the bare view's. p50/p99 are reported per operation and overall.

The web process runs with production settings (DEBUG off: no query log, no debug error pages),
as it would be deployed; only the HTTPS redirect is off on loopback.
"""

from __future__ import annotations

import random
import ssl
import threading
import time
from dataclasses import dataclass, field

import httpx

from . import cluster as cl
from ._stats import percentile
from .common import Result

GOAL_RATIO = 0.5
OPS = ("create", "read", "list")


@dataclass
class Phase:
    """What one S-second run of the mix measured."""

    elapsed: float = 0.0
    lat: dict[str, list[float]] = field(default_factory=lambda: {op: [] for op in OPS})
    statuses: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.statuses.values())

    @property
    def rps(self) -> float:
        return self.total / self.elapsed if self.elapsed else 0.0

    def pct(self, p: float, op: str | None = None) -> float:
        values = self.lat[op] if op else [x for v in self.lat.values() for x in v]
        return percentile(values, p) * 1000

    @classmethod
    def merge(cls, phases: list[Phase]) -> Phase:
        out = cls()
        for p in phases:
            out.elapsed += p.elapsed
            for op in OPS:
                out.lat[op].extend(p.lat[op])
            for s, c in p.statuses.items():
                out.statuses[s] = out.statuses.get(s, 0) + c
            out.errors.extend(p.errors)
        return out

    def count(self, low: int, high: int) -> int:
        return sum(c for s, c in self.statuses.items() if low <= s < high)


# The bare view stands in for each route with the same methods, bodies and query strings.
ROUTES = {
    "app": {"create": "/v1/calls", "read": "/v1/calls/{id}", "list": "/v1/calls"},
    "bare": {"create": "/bench/bare", "read": "/bench/bare/{id}", "list": "/bench/bare"},
}


def http_clients(url: str, headers: dict, n: int) -> list[httpx.Client]:
    """One keep-alive client per simulated API client, built once for the whole run. They share
    one SSL context: building a context per client (loading the CA bundle) costs ~30 ms each."""
    context = ssl.create_default_context()
    return [httpx.Client(base_url=url, headers=headers, timeout=60, trust_env=False, verify=context)
            for _ in range(n)]


def drive(clients: list[httpx.Client], routes: dict, agent: str, seconds: float, ids: list[str],
          seed: int) -> Phase:
    """One thread per client runs the mix for `seconds` against `routes`, reading the ids in
    `ids` and adding those they create; returns what they measured."""
    phase = Phase()
    lock = threading.Lock()
    stop_at = [0.0]
    # The clock starts once every thread is running.
    start_gate = threading.Barrier(len(clients) + 1, action=lambda: stop_at.__setitem__(0, time.time() + seconds))

    def client(i: int):
        rng = random.Random(seed * 100_003 + i)
        http = clients[i]
        start_gate.wait()
        n = 0
        while time.time() < stop_at[0]:
            n += 1
            r = rng.random()
            with lock:
                known = ids[rng.randrange(len(ids))] if ids else None
            t = time.perf_counter()
            try:
                if r < 0.2 or known is None:
                    op = "create"
                    resp = http.post(routes["create"], json={"agent_id": agent,
                                                             "to": f"+1202555{(i * 7919 + n + seed) % 10000:04d}"})
                    if resp.status_code == 201:
                        with lock:
                            ids.append(resp.json()["id"])
                elif r < 0.6:
                    op = "read"
                    resp = http.get(routes["read"].format(id=known))
                else:
                    op = "list"
                    resp = http.get(routes["list"], params={"limit": 20})
                status = resp.status_code
            except httpx.HTTPError as exc:
                op, status = "error", 0
                with lock:
                    phase.errors.append(f"{exc.__class__.__name__}: {exc}"[:200])
            took = time.perf_counter() - t
            with lock:
                phase.statuses[status] = phase.statuses.get(status, 0) + 1
                if op in phase.lat:
                    phase.lat[op].append(took)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(len(clients))]
    for th in threads:
        th.start()
    start_gate.wait()
    begun = time.time()
    for th in threads:
        th.join(seconds + 120)
    phase.elapsed = time.time() - begun
    return phase


def production_env(env: dict) -> dict:
    """The cluster's environment with DEBUG off, as a deployment runs (DEBUG on records every
    query and is not what capacity is measured with), the benchmarks' urlconf for the bare view,
    and this process's secrets, so the web process reads what the suite seeded."""
    from django.conf import settings

    env.update({"DEBUG": "0", "SECURE_SSL_REDIRECT": "0", "DJANGO_SETTINGS_MODULE": "bench.settings",
                "SECRET_KEY": settings.SECRET_KEY, "ENCRYPTION_KEY": ",".join(settings.ENCRYPTION_KEYS)})
    return env


def settle(org, timeout: float = 30) -> None:
    """Wait until the workers are done with the created calls, so a bare slice never runs while
    they still place and poll the API slice's calls: the bare view is measured on an idle cluster.
    Done is none left in flight, or none finishing for 3 s (a few sandbox numbers ring for
    minutes by design), or `timeout`."""
    from django.db import close_old_connections

    from callops.calls.models import TERMINAL, Call

    deadline = time.time() + timeout
    last, since = -1, time.time()
    while time.time() < deadline:
        close_old_connections()
        live = Call.objects.filter(organization=org).exclude(status__in=TERMINAL).count()
        if live != last:
            last, since = live, time.time()
        if live == 0 or time.time() - since >= 3:
            return
        time.sleep(0.5)


def run(ctx, args) -> Result:
    t0 = time.time()
    env = production_env(cl.base_env(ctx.redis.url, ["127.0.0.1/32"]))
    cluster = cl.Cluster(env, workers=args.workers, web_workers=args.web_workers, web_threads=args.web_threads,
                         log_dir=ctx.log_dir)
    agent = str(ctx.agents["a"].public_id)
    headers = {"Authorization": f"Bearer {ctx.keys[('a', 'rw')]}"}
    rounds = max(1, args.load_rounds)
    clients = http_clients(cluster.url, headers, args.clients)
    try:
        # Slices alternate (bare, API, bare, API, ...) so a change in the host's other load during
        # the run weighs on both sides alike; each side gets `load_seconds` in all.
        phases: dict[str, list[Phase]] = {"bare": [], "app": []}
        ids: dict[str, list[str]] = {"bare": [], "app": []}
        for round_ in range(rounds):
            for target in ("bare", "app"):
                if target == "bare":
                    settle(ctx.orgs["a"])
                phases[target].append(drive(clients, ROUTES[target], agent, args.load_seconds / rounds, ids[target],
                                            seed=round_))
        bare, app = (Phase.merge(phases[t]) for t in ("bare", "app"))
        ratio = app.rps / bare.rps if bare.rps else 0.0
        five = app.count(500, 600) + bare.count(500, 600)
        # Every request is valid and the rate limit is lifted, so a 4xx means the mix itself is broken.
        four = app.count(400, 500) + bare.count(400, 500)
        transport = app.statuses.get(0, 0) + bare.statuses.get(0, 0)
        met = five == 0 and four == 0 and transport == 0 and app.total > 0 and ratio >= GOAL_RATIO
        counts = {"clients": args.clients, "seconds": args.load_seconds, "slices": f"{rounds} x 2",
                  "web": cluster.web_config,
                  "requests": app.total, "req/s": round(app.rps, 1),
                  "bare req/s": round(bare.rps, 1), "ratio": round(ratio, 2),
                  "p50 ms": round(app.pct(50), 1), "p99 ms": round(app.pct(99), 1),
                  "bare p50/p99 ms": f"{bare.pct(50):.0f}/{bare.pct(99):.0f}",
                  **{f"{op} p50/p99 ms": f"{app.pct(50, op):.0f}/{app.pct(99, op):.0f}" for op in OPS},
                  "statuses": ", ".join(f"{s}:{c}" for s, c in sorted(app.statuses.items())),
                  "5xx": five, "transport errors": transport, "4xx": four,
                  "web/worker peak RSS MB": "{web}/{worker_max}".format(**cluster.rss_mb())}
        goal = (f"load: req_s={app.rps:.1f} bare_req_s={bare.rps:.1f} ratio={ratio:.2f} p50_ms={app.pct(50):.0f} "
                f"p99_ms={app.pct(99):.0f} 5xx={five} goal=0 5xx and ratio>={GOAL_RATIO} "
                f"{'met' if met else 'MISSED'}")
        notes = sorted(set(app.errors + bare.errors))[:3] + cluster.errors_logged()
        return Result("load", counts, met, notes, time.time() - t0, goal=goal)
    finally:
        for http in clients:
            http.close()
        cluster.stop()
