"""Dashboard pages benchmark (make bench-pages): cost flat as calls grow from 1M to 10M.

Server time of the overview, a filtered calls list, a call detail page, a batch page and the
comparison view (30 days by agent), each requested through the whole Django stack (middleware,
session, templates), over two data sets in
PostgreSQL: 1,000,000 and 10,000,000 calls spread over the same 90 days (bench/scale.py: made
once with COPY and reused). Each page's p95 is printed at both sizes, then beside each other
with their ratio 10M/1M.

Goal: every page's 10M p95 at most 1.3× its 1M p95 (the overview, the batch page and the
comparison view read the call rollups; the list and the detail page read indexed pages of rows).
BENCH_SCALE scales both sizes down to try the code (BENCH_SCALE=0.001: 1,000 and 10,000 calls).

The last line is `pages: worst_ratio=<x> goal=1.3`; a miss exits 1.
"""

from __future__ import annotations

import sys

from _harness import setup_django

ROUNDS = {"overview": 40, "list": 200, "detail": 300, "batch": 60, "comparison": 40}


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


def pages(data):
    agent = data["agents"][3]
    call = detail_call(data["org"])
    return [
        ("overview", "/"),
        ("list", f"/calls/?status=failed&status=no_answer&provider={agent.provider}&agent={agent.public_id}"),
        ("detail", f"/calls/{call.public_id}/"),
        ("batch", f"/batches/{data['batch'].public_id}/"),
        ("comparison", "/comparison/?period=30d&group_by=agent"),
    ]


def main() -> int:
    setup_django()
    import scale

    return scale.run("pages", pages, ROUNDS)


if __name__ == "__main__":
    sys.exit(main())
