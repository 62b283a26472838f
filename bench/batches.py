"""Batch benchmarks: CSV import throughput and memory, and fan-out against a plain placement loop.

1. Import: a 100,000-row CSV (E.164 and national numbers, some invalid, some duplicates) through
   `batches.create_batch` (decode, validate, de-duplicate, bulk insert). Figure: validated rows
   stored per second, beside a baseline that bulk-inserts the same rows already validated (the
   database's own ceiling), and the process's peak memory growth during the import.
2. Fan-out: a sandbox batch of N recipients (default 10,000) dispatched by the batch ticks and
   placed by real RQ jobs (SimpleWorker, in-process), beside calling create_call + place_call in a
   plain loop for the same number of calls.

Run: `make bench-batches` (or `.venv/bin/python bench/batches.py [--recipients N] [--rows N]`).
The last line is `batches: rows_per_s=<x> goal=20000`.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import row, setup_django  # noqa: E402

GOAL_ROWS = 20_000
GOAL_MB = 300


def make_csv(n: int) -> bytes:
    lines = ["phone,first_name,account,plan"]
    for i in range(n):
        if i % 50 == 0:
            phone = "not a number"
        elif i % 97 == 0:
            phone = f"+1415{2000000 + i - 1:07d}"  # duplicate of the previous row
        elif i % 10 == 0:
            phone = f"(415) {200 + i // 10000:03d}-{i % 10000:04d}"  # national format, default country
        else:
            phone = f"+1415{2000000 + i:07d}"
        lines.append(f"{phone},Name{i},ACC-{i:07d},gold")
    return ("\n".join(lines) + "\n").encode()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def bench_import(org, agent, n_rows: int) -> tuple[float, float, float]:
    from callops.batches import recipient_lists, services
    from callops.batches.batch_settings import clean_settings
    from callops.batches.models import Batch, BatchRecipient

    body = make_csv(n_rows)
    settings = clean_settings({"default_country": "US"})
    rss_before = peak_rss_mb()
    started = time.perf_counter()
    table = recipient_lists.read_csv(io.BytesIO(body))
    batch = services.create_batch(org=org, agent=agent, settings=settings, rows=table.rows, columns=table.columns,
                                 phone_column=table.phone_column, start=False)
    elapsed = time.perf_counter() - started
    peak_growth = peak_rss_mb() - rss_before
    stored = BatchRecipient.objects.filter(batch=batch).count()
    rows_per_s = stored / elapsed

    # Baseline: the same recipients, already validated, bulk-inserted in the same chunk size.
    values = list(BatchRecipient.objects.filter(batch=batch).values_list("row_number", "phone", "context", "tz"))
    other = Batch.objects.create(organization=org, agent=agent, name="baseline")
    started = time.perf_counter()
    for i in range(0, len(values), services.CHUNK):
        BatchRecipient.objects.bulk_create([BatchRecipient(batch=other, row_number=r, phone=p, context=c, tz=t)
                                            for r, p, c, t in values[i:i + services.CHUNK]])
    baseline = len(values) / (time.perf_counter() - started)
    print(f"import: {n_rows} rows, {stored} stored, {batch.rejected_count} rejected "
          f"({batch.duplicate_count} duplicates) in {elapsed:.2f}s")
    print(row("validated rows stored/s (100k CSV import)", rows_per_s, baseline, "rows/s", rows_per_s / baseline,
              f">= {GOAL_ROWS}"))
    print(f"{'peak memory growth during import':<44} {peak_growth:>10.1f} MB       "
          f"(process peak {peak_rss_mb():.0f} MB)  goal < {GOAL_MB} MB")
    return rows_per_s, peak_growth, baseline


def bench_fanout(org, agent, n: int) -> float:
    import django_rq
    from django.conf import settings
    from rq import SimpleWorker

    from callops.batches import jobs as batch_jobs
    from callops.batches import recipient_lists
    from callops.batches import services as batch_services
    from callops.batches.batch_settings import clean_settings
    from callops.batches.models import Batch, BatchStatus
    from callops.calls import services
    from callops.calls.models import Call, EventSource

    phones = [f"+1212{2000000 + i:07d}" for i in range(n)]
    # Baseline: the placement service in a plain loop, one call after another.
    started = time.perf_counter()
    for p in phones:
        services.place_call(services.create_call(org=org, agent=agent, to_number=p, source=EventSource.API))
    plain = n / (time.perf_counter() - started)

    conn = django_rq.get_connection("calls")
    queues = [django_rq.get_queue(q) for q in settings.QUEUE_NAMES]
    for q in queues:
        q.empty()
    clean = clean_settings({"calls_per_minute": 100_000, "max_concurrency": 1000})
    batch = batch_services.create_batch(org=org, agent=agent, settings=clean, rows=recipient_lists.rows_from_json(
        [f"+1646{2000000 + i:07d}" for i in range(n)]), columns=["phone"], start=True)
    started = time.perf_counter()
    placed = 0
    while placed < n:
        batch_jobs.tick_batch(batch.pk)
        # Calls end on their own in the sandbox; mark them done so the concurrency cap frees up
        # without paying for status polls, which are not what this measures.
        SimpleWorker([q for q in queues if q.name == "calls"], connection=conn).work(burst=True,
                                                                                     with_scheduler=False)
        placed = Call.objects.filter(batch=batch, dial_claimed_at__isnull=False).count()
        Call.objects.filter(batch=batch, status__in=["queued", "initiated"], dial_claimed_at__isnull=False).update(
            status="completed")
    fanout = n / (time.perf_counter() - started)
    batch.refresh_from_db()
    print(f"fan-out: {n} recipients placed through ticks and RQ jobs (batch {batch.status}); "
          f"plain loop of create_call + place_call for {n}")
    print(row(f"fan-out calls placed/s ({n} recipients)", fanout, plain, "calls/s", fanout / plain, "none set (reported)"))
    Batch.objects.filter(pk=batch.pk).update(status=BatchStatus.STOPPED)
    return fanout


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--recipients", type=int, default=10_000)
    args = parser.parse_args()
    os.environ.setdefault("SANDBOX_SPEED", "1")
    setup_django()
    import logging

    logging.disable(logging.WARNING)
    from callops.accounts import services as accounts
    from callops.calls.models import Agent
    from callops.providers.models import ProviderAccount

    org = accounts.create_organization(f"bench-batches-{uuid.uuid4().hex[:8]}")
    account = ProviderAccount.objects.create(organization=org, kind="sandbox", name="Sandbox",
                                             rate_limit_per_minute=10_000_000)
    agent = Agent.objects.create(organization=org, provider_account=account, name="bench")
    rows_per_s, _, _ = bench_import(org, agent, args.rows)
    if args.recipients:
        bench_fanout(org, agent, args.recipients)
    print(f"batches: rows_per_s={rows_per_s:.0f} goal={GOAL_ROWS}")


if __name__ == "__main__":
    main()
