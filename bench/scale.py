"""Pages at two sizes: 1,000,000 and 10,000,000 calls, and the ratio of their p95s (bench/pages.py,
bench/triage.py).

Each size is an organization of its own ("Bench scale <n> g<generation>") in the benchmark database, so both
data sets live side by side and are reused by later runs: a data set is generated only when its
organization does not hold exactly its number of calls. Rows are streamed with COPY (text format,
generated here with a fixed seed), then the organization's rollups are rebuilt
(`manage.py rollups --rebuild` does the same) and checked for drift, and the table is analyzed.

Both sizes spread their calls over the same last 90 days, so the 10M organization has ten times
the calls in every window: a page whose cost follows the calls in its window shows a ratio near
10, one that reads the rollups and indexed pages of rows stays near 1. Goal: 10M p95 at most 1.3×
the 1M p95 for every page, in one run.

BENCH_SCALE (default 1) multiplies both sizes, to try the code on a small data set
(BENCH_SCALE=0.001: 1,000 and 10,000 calls); the figures are then not the specified ones.
"""

from __future__ import annotations

import gc
import os
import random
import time
import uuid
from datetime import UTC, datetime, timedelta

import dataset
from _harness import percentile, row

GOAL = 1.3
# Part of the data sets' organization names: a change to the generator makes new data sets.
GENERATION = 2
SPAN = timedelta(days=90)
SEED = 42
BATCH_SHARE = 0.05  # of the calls belong to the data set's one batch
ERRORS = ["invalid_number", "balance_low", "provider_error", "status_expired", "stale", "rate_limited"]
EXTRACTION_ERRORS = ["empty transcript: nothing to extract", "llm extractor: timed out", "no return field parsed"]
COLUMNS = ("public_id", "organization_id", "agent_id", "provider_account_id", "provider", "batch_id", "attempt",
           "direction", "to_number", "from_number", "status", "instructions", "context", "metadata", "returns",
           "result_status", "result_error", "transcript", "recording_url", "webhook_url", "webhook_status",
           "webhook_error", "created_at", "updated_at", "started_at", "answered_at", "ended_at", "duration_seconds",
           "billing_amount_milli_cents", "error_code", "error_message", "hangup_cause", "answered_by",
           "provider_call_id", "provider_job_id", "provider_status", "provider_reason", "sync_failures", "language",
           "voicemail_action", "tools", "reservation_status", "billing_currency", "billing_estimated", "routing")
NULL = r"\N"
PLACED = '[{"outcome": "placed"}]'
FAILED_OVER = '[{"outcome": "provider_unavailable"}, {"outcome": "placed"}]'


def _scale() -> float:
    return float(os.environ.get("BENCH_SCALE", "1"))


def sizes() -> tuple[int, int]:
    scale = _scale()
    return max(100, round(1_000_000 * scale)), max(1000, round(10_000_000 * scale))


def span() -> timedelta:
    """The time the data sets' calls are spread over: SPAN at full size; shrunk with BENCH_SCALE,
    so that a small run keeps the full size's calls per hour (463 at 1M, 4,630 at 10M).

    The rollups hold one row per hour and tuple, and below about a hundred calls an hour nearly
    every call is a tuple of its own: 1,000 calls over 90 days made 1,000 rollup rows and 10,000
    made 9,148, so a small run over 90 days measured rollups growing with the calls, which the
    full sizes do not (87 and 175 tuples an hour). Over the shrunk span a small run has the full
    size's tuples per hour and the pages' windows hold all of it, so its ratios mean something.
    """
    scale = _scale()
    return SPAN if scale >= 1 else max(timedelta(hours=1), SPAN * scale)


def _label(n: int) -> str:
    return f"{n / 1_000_000:g}M" if n >= 1_000_000 else f"{n:,}"


def _defaults() -> tuple[tuple[str, ...], str]:
    """The columns of Call the generator does not name, and their defaults as COPY text: a field
    added to Call later gets its default in every generated row instead of breaking the COPY."""
    import json

    from callops.calls.models import Call

    names, values = [], []
    for f in Call._meta.concrete_fields:
        if f.column in COLUMNS or f.column == "id":
            continue
        default = f.get_default()
        if default is None:
            text = NULL
        elif isinstance(default, bool):
            text = "t" if default else "f"
        elif isinstance(default, dict | list):
            text = json.dumps(default)
        else:
            text = str(default)
        names.append(f.column)
        values.append(text)
    return tuple(names), "".join("\t" + v for v in values)


def _rows(n: int, org_id: int, agents: list[tuple[int, int, str]], batch_id: int, now: datetime, seed: str,
          tail: str = "", over: timedelta = SPAN):
    """The COPY text lines of `n` calls, oldest first, with realistic shares of every state.

    As in a real organization the states are skewed, not uniform: a few agents place most calls,
    the batch's calls all use the batch's agent, an agent either has a webhook URL (then nearly
    every delivery succeeds) or none, and few extractions fail.
    """
    rnd = random.Random(seed)
    start = now - over
    step = over / n
    weights = [2 ** -(i // 2) for i in range(len(agents))]  # the first agents place most calls
    hooked = {a[0] for a in agents[::2]}  # every other agent sends webhooks
    for s in range(n):
        r1, r2, r3 = rnd.random(), rnd.random(), rnd.random()
        in_batch = rnd.random() < BATCH_SHARE
        agent_id, account_id, kind = agents[0] if in_batch else rnd.choices(agents, weights)[0]
        created = start + step * s
        status = ("completed" if r1 < 0.55 else "no_answer" if r1 < 0.70 else "busy" if r1 < 0.76 else
                  "failed" if r1 < 0.85 else "canceled" if r1 < 0.88 else "queued" if r1 < 0.94 else
                  "ringing" if r1 < 0.97 else "in_progress")
        live = status in ("queued", "ringing", "in_progress")
        answered = created + timedelta(seconds=8) if status in ("completed", "in_progress") else None
        duration = int(r2 * 300) if status == "completed" else (0 if not live else None)
        ended = None if live else created + timedelta(seconds=10 + (duration or 0))
        result_status = result_error = ""
        if status == "completed":
            result_status = "completed" if r3 < 0.97 else "failed"
            if result_status == "failed":
                result_error = EXTRACTION_ERRORS[0 if r2 < 0.8 else 1 if r2 < 0.95 else 2]
        # Failure causes are skewed too: most failures are the first two causes.
        error = ERRORS[0 if r2 < 0.5 else 1 if r2 < 0.8 else 2 + int(r2 * 40) % 4] if status == "failed" else ""
        hangup = "no_answer" if status == "no_answer" else "busy" if status == "busy" else ""
        webhook = "" if agent_id not in hooked else "pending" if live else "delivered" if r3 < 0.99 else "failed"
        cost = str(int(r2 * 90000)) if status == "completed" else NULL
        # A few calls failed over to a second agent; a third of the costs are price-table estimates.
        routing = FAILED_OVER if r3 > 0.97 else PLACED
        values = (
            str(uuid.UUID(int=rnd.getrandbits(128), version=4)), str(org_id), str(agent_id), str(account_id), kind,
            str(batch_id) if in_batch else NULL, "1", "outbound", f"+1202555{s % 10000:04d}", "",
            status, "", "{}", "{}", "{}", result_status, result_error, "[]", "", "", webhook, "",
            created.isoformat(), created.isoformat(), NULL if status in ("failed", "canceled", "queued") else
            (created + timedelta(seconds=2)).isoformat(), answered.isoformat() if answered else NULL,
            ended.isoformat() if ended else NULL, NULL if duration is None else str(duration), cost, error,
            f"{error} happened" if error else "", hangup,
            ("human" if r3 < 0.8 else "unknown") if status == "completed" else "", f"bench-{s}", "", "", "", "0",
            "", "", "[]", "", "USD" if cost != NULL else "", "t" if cost != NULL and r3 < 0.33 else "f", routing)
        yield "\t".join(values) + tail + "\n"


def _rollup_fingerprint() -> str:
    """What the rollups of a data set depend on besides its calls: the rollup tables' columns and
    the code that computes them (every rollup model the calls app has, so a rollup added later is
    covered too)."""
    import hashlib
    import inspect

    from django.apps import apps

    from callops.calls import rollup_reconcile, rollups

    parts = [inspect.getsource(rollups), inspect.getsource(rollup_reconcile)]
    for model in apps.get_app_config("calls").get_models():
        if "rollup" in model._meta.db_table:
            parts.append(model._meta.db_table + ":" + ",".join(f.column for f in model._meta.concrete_fields))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _marks(cur) -> None:
    # A table of the benchmark database only (no model: it is not part of the product).
    cur.execute("CREATE TABLE IF NOT EXISTS bench_scale_rollups (organization_id bigint PRIMARY KEY, "
                "fingerprint text NOT NULL)")


def _mark_rollups(org_id: int) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        _marks(cur)
        cur.execute("INSERT INTO bench_scale_rollups VALUES (%s, %s) ON CONFLICT (organization_id) "
                    "DO UPDATE SET fingerprint = EXCLUDED.fingerprint", [org_id, _rollup_fingerprint()])


def _rollups_current(org_id: int) -> bool:
    from django.db import connection

    with connection.cursor() as cur:
        _marks(cur)
        cur.execute("SELECT fingerprint FROM bench_scale_rollups WHERE organization_id = %s", [org_id])
        found = cur.fetchone()
    return bool(found) and found[0] == _rollup_fingerprint()


def ensure(n: int) -> dict:
    """The organization holding exactly `n` generated calls (made once), with its agents and batch."""
    from django.db import connection, transaction

    from callops.accounts import services as accounts
    from callops.accounts.models import Organization
    from callops.batches.models import Batch
    from callops.calls import rollup_reconcile
    from callops.calls.models import Call, CallEvent, CallRollup

    if connection.vendor != "postgresql":
        raise SystemExit("the scale data sets need PostgreSQL (set DATABASE_URL)")
    over = span()
    name = f"Bench scale {n} g{GENERATION}" + ("" if over == SPAN else f" over {over.total_seconds() / 3600:g}h")
    org = Organization.objects.filter(name=name).first() or accounts.create_organization(name)
    agents = dataset.bench_agents(org)
    batch, _ = Batch.objects.get_or_create(organization=org, name="bench batch",
                                           defaults={"agent": agents[0], "status": "completed"})
    have = Call.objects.filter(organization=org).count()
    if have != n:
        t0 = time.perf_counter()
        with transaction.atomic():
            # Generated rows have no timeline, deliveries or retries pointing at them but the
            # detail page's: clear those, then the calls, without the ORM's per-row cascade.
            CallEvent.objects.filter(call__organization=org).delete()
            with connection.cursor() as cur:
                cur.execute("DELETE FROM calls_call WHERE organization_id = %s", [org.pk])
            extra, tail = _defaults()
            rows = _rows(n, org.pk, [(a.pk, a.provider_account_id, a.provider_account.kind) for a in agents],
                         batch.pk, datetime.now(UTC), f"{SEED}-{GENERATION}-{n}", tail, over)
            # The list indexes are dropped for the load and built again after it: building an
            # index once is several times faster than maintaining it row by row over 10M rows.
            with connection.schema_editor() as editor:
                for index in Call._meta.indexes:
                    editor.remove_index(Call, index)
            with connection.cursor() as cur:
                # The generated rows point only at this organization's agents, accounts and batch,
                # so the per-row foreign key checks (minutes over 10M rows) are skipped for the load.
                cur.execute("SET LOCAL session_replication_role = replica")
            with connection.cursor() as cur, cur.cursor.copy(
                    f"COPY calls_call ({', '.join(COLUMNS + extra)}) FROM STDIN") as copy:
                chunk = []
                for line in rows:
                    chunk.append(line)
                    if len(chunk) >= 10_000:
                        copy.write("".join(chunk))
                        chunk = []
                copy.write("".join(chunk))
            print(f"copied {n:,} calls in {time.perf_counter() - t0:.1f}s", flush=True)
            with connection.cursor() as cur:
                # The foreign keys are checked at commit; an index cannot be built while those
                # checks are pending, so they run now.
                cur.execute("SET LOCAL session_replication_role = origin")
                cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cur.execute("SET LOCAL maintenance_work_mem = '512MB'")
            with connection.schema_editor() as editor:
                for index in Call._meta.indexes:
                    editor.add_index(Call, index)
            print(f"indexed in {time.perf_counter() - t0:.1f}s", flush=True)
            written = rollup_reconcile.rebuild(org_id=org.pk)
            _mark_rollups(org.pk)
        print(f"generated {n:,} calls with COPY and {written:,} rollup rows in {time.perf_counter() - t0:.1f}s",
              flush=True)
        with connection.cursor() as cur:
            cur.execute("ANALYZE calls_call")
            cur.execute("ANALYZE calls_callrollup")
        drift = rollup_reconcile.check(org_id=org.pk)
        print(f"rollups --check for {_label(n)}: {len(drift)} rows of drift", flush=True)
        if drift:
            raise SystemExit("the rebuilt rollups do not match the generated calls")
    elif not _rollups_current(org.pk):
        # The rollups changed shape or rules since the data set was made (a new column, a new
        # dimension): the calls are still good, only their counters are rebuilt.
        t0 = time.perf_counter()
        written = rollup_reconcile.rebuild(org_id=org.pk)
        _mark_rollups(org.pk)
        with connection.cursor() as cur:
            cur.execute("ANALYZE calls_callrollup")
        print(f"rebuilt {written:,} rollup rows of {_label(n)} in {time.perf_counter() - t0:.1f}s", flush=True)
    print(f"data set {_label(n)}: {n:,} calls, {CallRollup.objects.filter(organization=org).count():,} rollup rows",
          flush=True)
    return {"org": org, "agents": agents, "batch": batch}


# Tables whose rows grow with the calls: the calls, their timelines and their webhook traffic.
CALL_TABLES = ("calls_call", "calls_callevent", "webhooks_webhookevent", "webhooks_webhookdelivery",
               "webhooks_webhookattempt")


def storage_per_call() -> str:
    """Bytes on disk (tables, indexes, TOAST) of CALL_TABLES per stored call, every organization's;
    RAW_PAYLOAD_RETENTION_DAYS (README "Retention") is what brings the timeline and attempt parts down."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT " + ", ".join("pg_total_relation_size(%s)" for _ in CALL_TABLES), list(CALL_TABLES))
        sizes = dict(zip(CALL_TABLES, cur.fetchone(), strict=True))
        cur.execute("SELECT count(*) FROM calls_call")
        calls = cur.fetchone()[0] or 1
    parts = ", ".join(f"{table} {size / calls:,.0f}" for table, size in sizes.items())
    return f"storage per call: {sum(sizes.values()) / calls:,.0f} bytes over {calls:,} calls ({parts})"


def login(org):
    """A client signed in as an owner of `org` (one user per data set, so each has one organization)."""
    from django.test import Client

    from callops.accounts import services as accounts
    from callops.accounts.models import Membership

    user = accounts.ensure_user(f"bench-scale-{org.pk}@bench.test", "bench-scale-password")
    if not Membership.objects.filter(user=user, organization=org).exists():
        accounts.add_member(org, user, "owner")
    client = Client(HTTP_HOST="127.0.0.1")  # an ALLOWED_HOSTS name, as a real browser would send
    client.force_login(user)
    return client


WARMUP = 5


def p95_pair(clients: tuple, paths: tuple[str, str], rounds: int) -> tuple[float, float]:
    """The p95 (ms) of one page at both sizes, requested in turns (small, large, then large, small):
    the machine is shared, so a burst of load falls on both sides of the ratio instead of one.
    Each side is warmed up first (connections, template and plan caches)."""
    for client, path in zip(clients, paths, strict=True):
        for _ in range(WARMUP):
            assert client.get(path).status_code == 200, path
    # As a web process does after loading the app (gunicorn.conf.py): without it, full garbage
    # collections of this long-lived process (104-149 ms each, whatever the data set) fell on 5 of
    # 80 comparison requests, so the p95 of each side was one of them or not, by chance.
    gc.freeze()
    times: tuple[list[float], list[float]] = ([], [])
    for i in range(rounds):
        for side in ((0, 1) if i % 2 == 0 else (1, 0)):
            t0 = time.perf_counter()
            response = clients[side].get(paths[side])
            times[side].append(time.perf_counter() - t0)
            assert response.status_code == 200, paths[side]
    return percentile(times[0], 95) * 1000, percentile(times[1], 95) * 1000


def run(bench: str, pages, rounds: dict[str, int]) -> int:
    """Measure every page at both sizes; print p95s, the 10M/1M ratios and the worst as the last line.

    `pages(data)` gives [(name, path)] for one data set (ids differ between the organizations).
    """
    small, large = sizes()
    if (small, large) != (1_000_000, 10_000_000):
        print(f"Note: BENCH_SCALE sizes {small:,} and {large:,} calls over {span()}, not the specified 1M and 10M "
              "over 90 days.")
    data = {n: ensure(n) for n in (small, large)}
    clients = (login(data[small]["org"]), login(data[large]["org"]))
    paths = {n: dict(pages(data[n])) for n in (small, large)}
    measured: dict[int, dict[str, float]] = {small: {}, large: {}}
    for name in paths[small]:
        measured[small][name], measured[large][name] = p95_pair(
            clients, (paths[small][name], paths[large][name]), rounds[name])
        for n in (small, large):
            print(f"{bench} {name} p95 at {_label(n)}: {measured[n][name]:.2f} ms ({rounds[name]} requests)",
                  flush=True)
    print(storage_per_call(), flush=True)
    worst = 0.0
    for name in measured[small]:
        ratio = measured[large][name] / measured[small][name]
        worst = max(worst, ratio)
        print(row(f"{name} p95 {_label(large)} vs {_label(small)}", measured[large][name], measured[small][name],
                  "ms", ratio, f"<= {GOAL}x"), flush=True)
    print(f"{bench}: worst_ratio={worst:.2f} goal={GOAL}")
    return 0 if worst <= GOAL else 1
