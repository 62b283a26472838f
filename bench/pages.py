"""Dashboard pages benchmark (make bench-pages).

Server time of the overview, a filtered calls list and a call detail page, each requested through
the whole Django stack (middleware, session, templates) with 1,000,000 calls in PostgreSQL
(`--calls` for a smaller data set, in a database of its own: the data set is only ever grown).
Goal: every page's p95 under the 300 ms budget as the data grows.

Beside each page is the raw SQL that the same request runs (every statement the page executed,
captured once and then replayed on the same connection); the ratio says what the ORM, the
templates and the middleware add on top of the database work. It is reported, not a goal.

The last line is `pages: slowest_p95_ms=<x> goal=300`.
"""

from __future__ import annotations

import argparse
import sys
import time

from _harness import percentile, row, setup_django

ROUNDS = {"overview": 40, "list": 300, "detail": 1000}
BUDGET_MS = 300


def bench_user(org):
    """A member of the bench org to sign in with (created once)."""
    from callops.accounts import services as accounts
    from callops.accounts.models import Membership

    user = accounts.ensure_user("bench-pages@bench.test", "bench-pages-password")
    if not Membership.objects.filter(user=user, organization=org).exists():
        accounts.add_member(org, user, "owner")
    return user


def detail_call(org):
    """A completed call with a realistic timeline (events and provider payloads), made once."""
    from callops.calls.models import Call, CallEvent

    call = Call.objects.filter(organization=org, status="completed").order_by("-created_at", "-id")[5]
    if not call.events.exists():
        steps = [("queued", "", "api", None), ("initiated", "queued", "poll", {"status": "queued"}),
                 ("ringing", "initiated", "callback", {"status": "ringing"}),
                 ("in_progress", "ringing", "callback", {"status": "answered"}),
                 ("ringing", "in_progress", "poll", {"status": "ringing"}),
                 ("completed", "in_progress", "callback", {"status": "completed", "duration": 48})]
        CallEvent.objects.bulk_create([
            CallEvent(call=call, source=src, status=status, from_status=prev, raw_status=(p or {}).get("status", ""),
                      ignored=(status == "ringing" and prev == "in_progress"), payload=p)
            for status, prev, src, p in steps])
        Call.objects.filter(pk=call.pk).update(
            transcript=[{"role": "agent", "text": "Hello, this is a reminder call."},
                        {"role": "user", "text": "Yes, I will be there."}] * 6,
            returns={"confirmed": "boolean"}, result={"confirmed": True}, result_status="completed")
    return call


def measure(client, path: str, rounds: int) -> tuple[float, float, int]:
    """p95 of the page through Django and p95 of replaying the SQL it ran, in ms; and its query count."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(5):
        assert client.get(path).status_code == 200, path
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(path).status_code == 200
    statements = [q["sql"] for q in ctx.captured_queries]
    page_times, sql_times = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        response = client.get(path)
        page_times.append(time.perf_counter() - t0)
        assert response.status_code == 200
        t0 = time.perf_counter()
        with connection.cursor() as cur:
            for sql in statements:
                cur.execute(sql)
                if cur.description:
                    cur.fetchall()
        sql_times.append(time.perf_counter() - t0)
    return percentile(page_times, 95) * 1000, percentile(sql_times, 95) * 1000, len(statements)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="dashboard pages benchmark")
    p.add_argument("--calls", type=int, default=1_000_000, help="calls in the data set")
    args = p.parse_args(argv)
    setup_django()
    import dataset
    from django.test import Client

    t0 = time.perf_counter()
    data = dataset.ensure(args.calls)
    print(f"data set ready in {time.perf_counter() - t0:.1f}s", flush=True)
    org = data["org"]
    client = Client(HTTP_HOST="127.0.0.1")  # an ALLOWED_HOSTS name, as a real browser would send
    client.force_login(bench_user(org))
    call = detail_call(org)
    agent = data["agents"][3]

    pages = [
        ("overview", "/"),
        ("list", f"/calls/?status=failed&status=no_answer&provider={agent.provider}&agent={agent.public_id}"),
        ("detail", f"/calls/{call.public_id}/"),
    ]
    if args.calls != 1_000_000:
        print(f"Note: {args.calls} calls, not the specified 1,000,000; the figures are for the smaller set.")
    slowest = 0.0
    for name, path in pages:
        page_p95, sql_p95, n = measure(client, path, ROUNDS[name])
        slowest = max(slowest, page_p95)
        print(row(f"{name} p95 ({n} queries)", page_p95, sql_p95, "ms", page_p95 / sql_p95,
                  f"< {BUDGET_MS} ms (ratio reported)"), flush=True)
    print(f"pages: slowest_p95_ms={slowest:.1f} goal={BUDGET_MS}")
    return 0 if slowest < BUDGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
