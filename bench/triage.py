"""Failure triage benchmark (python bench/triage.py): cost flat as calls grow from 1M to 10M.

Server time of the triage page for the 24-hour and 7-day windows over two data sets in
PostgreSQL, 1,000,000 and 10,000,000 calls over the same 90 days (bench/scale.py: made once with
COPY and reused, so the 10M set has ten times the failures in every window). Call and extraction
groups are counted from the hourly call rollups; their samples are indexed pages of calls.

Goal: each window's 10M p95 at most 1.3× its 1M p95. BENCH_SCALE scales both sizes down to try
the code. The last line is `triage: worst_ratio=<x> goal=1.3`; a miss exits 1.
"""

from __future__ import annotations

import sys

from _harness import setup_django

ROUNDS = {"24h": 40, "7d": 30}


def pages(data):
    return [(window, f"/triage/?window={window}") for window in ROUNDS]


def main() -> int:
    setup_django()
    import scale

    return scale.run("triage", pages, ROUNDS)


if __name__ == "__main__":
    sys.exit(main())
