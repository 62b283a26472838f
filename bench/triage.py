"""Failure triage benchmark (python bench/triage.py).

Server time of the triage page over the shared 1,000,000-call data set (bench/dataset.py) for the
24-hour and 7-day windows (goal: p95 under the 300 ms page budget, as for the other pages), beside
the raw SQL the same request runs (captured once, replayed on the same connection). The triage page
is aggregate queries only, so the ratio (reported, not a goal) shows what grouping in Python, the
templates and the middleware add on top of the database work, and the query count shows that it
does not grow with the data.

The last line is `triage: slowest_p95_ms=<x> goal=300`.
"""

from __future__ import annotations

import sys
import time

from _harness import row, setup_django

ROUNDS = {"24h": 15, "7d": 6}


def main() -> int:
    setup_django()
    import dataset
    from django.test import Client
    from pages import BUDGET_MS, bench_user, measure

    t0 = time.perf_counter()
    data = dataset.ensure()
    print(f"data set ready in {time.perf_counter() - t0:.1f}s", flush=True)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(bench_user(data["org"]))
    slowest = 0.0
    for window, rounds in ROUNDS.items():
        page_p95, sql_p95, n = measure(client, f"/triage/?window={window}", rounds)
        slowest = max(slowest, page_p95)
        print(row(f"triage {window} p95 ({n} queries)", page_p95, sql_p95, "ms", page_p95 / sql_p95,
                  f"< {BUDGET_MS} ms (ratio reported)"), flush=True)
    print(f"triage: slowest_p95_ms={slowest:.1f} goal={BUDGET_MS}")
    return 0 if slowest < BUDGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
