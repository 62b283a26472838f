"""Calling-rules benchmark: what the gate costs each call.

`gate.admit` (suppression list, calling hours, the per-number advisory lock, the cap count and the
record) for N calls spread over 50 numbers, each in its own transaction as a placement makes it,
beside a transaction of one trivial query: the round trips a call spends in the rules.

Run: `make bench-rules` (or `.venv/bin/python bench/rules.py [--calls N]`).
The last line is `rules: admit_ms=<x> goal=50`: a ceiling for these shared 2-core machines, where
a one-query transaction alone takes several milliseconds; the ratio (6 to 8: the gate's round
trips) is the figure that holds from machine to machine.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import row, setup_django  # noqa: E402

GOAL_MS = 50


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args()
    setup_django()
    from django.core.management import call_command
    from django.db import transaction

    from callops.accounts import services as accounts
    from callops.accounts.models import Organization
    from callops.rules import gate, policy
    from callops.rules.models import DialRecord

    call_command("migrate", verbosity=0)
    org = Organization.objects.filter(name="bench-rules").first() or accounts.create_organization("bench-rules")
    policy.update(org, {"max_calls_per_day": 1000, "max_calls_per_week": 1000, "max_answered_per_week": 1000,
                        "hours_start": None, "hours_end": None})
    DialRecord.objects.filter(organization=org).delete()
    n = args.calls

    started = time.perf_counter()
    for _ in range(n):
        with transaction.atomic():
            DialRecord.objects.filter(pk=-1).exists()
    baseline = (time.perf_counter() - started) / n * 1000

    started = time.perf_counter()
    for i in range(n):
        with transaction.atomic():
            gate.admit(org, f"+1415555{i % 50:04d}", call_public_id=uuid.uuid4())
    admit = (time.perf_counter() - started) / n * 1000
    DialRecord.objects.filter(organization=org).delete()

    print(row(f"gate.admit per call ({n} calls, 50 numbers)", admit, baseline, "ms", admit / baseline,
              f"<= {GOAL_MS} ms"))
    print(f"rules: admit_ms={admit:.2f} goal={GOAL_MS}")


if __name__ == "__main__":
    main()
