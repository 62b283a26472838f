"""Failure groups: what went wrong in a window, grouped by cause, with its trend and spread.

Each source (callops.triage.sources) is grouped in the database: aggregate queries only, so the
query count does not grow with the number of groups or rows. Call and extraction failures are
counted from the hourly call rollups (callops.triage.counts), so their cost does not grow with the
calls either; the samples are read from the calls. Each group has its count, the count in
the previous window of the same length, first and last seen, the affected providers, agents and
batches (for webhooks through the deliveries' calls, plus the endpoints), a few samples, and the
plain-language explanation of its cause. A group marked reviewed is hidden until something new
happens in it after the review.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Count, F, Max, Min, Q, Window
from django.db.models.functions import RowNumber

from callops.batches.models import Batch
from callops.calls import failure_keys, rollup_windows
from callops.calls.models import Agent

from . import counts, explanations, sources, windows
from .models import TriageReview
from .sources import CALL_KEY, SKIPPED_KEY, call_key

KINDS = ("call", "extraction", "webhook")
SAMPLES = 5
# Above this many groups the samples query falls back to the window function (one huge UNION
# would cost more to plan than it saves).
MAX_UNION_GROUPS = 60


@dataclass
class Group:
    kind: str  # one of KINDS
    key: str
    cause: explanations.Cause
    count: int
    previous: int
    first_seen: datetime | None
    last_seen: datetime | None
    detail: str = ""  # the raw code / cause words shown under the title
    providers: list = field(default_factory=list)
    agents: list = field(default_factory=list)
    batches: list = field(default_factory=list)
    endpoints: list = field(default_factory=list)
    samples: list = field(default_factory=list)
    review: TriageReview | None = None

    @property
    def trend(self) -> int:
        return self.count - self.previous

    @property
    def dom_id(self) -> str:
        return f"g-{self.kind}-{hashlib.sha1(self.key.encode()).hexdigest()[:10]}"


def _samples(qs, key_fields, time_field, fields, keys=None):
    """The latest SAMPLES rows of every group, in one query.

    PostgreSQL gets one `(… ORDER BY … LIMIT 5)` branch per group joined with UNION ALL, each
    served by an index scan that stops after five rows; elsewhere (SQLite, small data) a
    ROW_NUMBER() window over the window's rows does the same.
    """
    if keys and connection.features.supports_slicing_ordering_in_compound and len(keys) <= MAX_UNION_GROUPS:
        branches = [qs.filter(**dict(zip(key_fields, key, strict=True))).order_by(f"-{time_field}", "-pk")
                    .values(*key_fields, *fields)[:SAMPLES] for key in keys]
        first, *rest = branches
        return list(first.union(*rest, all=True)) if rest else list(first)
    ranked = qs.annotate(rn=Window(RowNumber(), partition_by=[F(k) for k in key_fields],
                                   order_by=[F(time_field).desc(), F("pk").desc()]))
    return list(ranked.filter(rn__lte=SAMPLES).values(*key_fields, *fields))


def _folded(rows, key_fields):
    """Rows per (group, provider, agent, batch) folded into group rows plus their spread."""
    groups: dict = {}
    spread = []
    for r in rows:
        key = tuple(r[k] for k in key_fields)
        g = groups.setdefault(key, {**{k: r[k] for k in key_fields}, "n": 0, "prev": 0, "first": None, "last": None})
        g["n"] += r["n"]
        g["prev"] += r["prev"]
        if r["first"] and (g["first"] is None or r["first"] < g["first"]):
            g["first"] = r["first"]
        if r["last"] and (g["last"] is None or r["last"] > g["last"]):
            g["last"] = r["last"]
        if r["n"]:
            spread.append(r)
    return [g for g in groups.values() if g["n"]], spread


def call_groups(org, prev_start, start, now) -> list[Group]:
    # Counted from the hourly rollups; the samples are the calls themselves.
    rows, spread = _folded(counts.counted(counts.failed_call_counters(org, prev_start, now), counts.CALL_COLUMNS,
                                          start), CALL_KEY)
    if not rows:
        return []
    # Each key narrows the sample query to one group, so the group index serves it.
    samples = _samples(sources.group_calls(org, start, now), CALL_KEY, "created_at",
                       ["public_id", "to_number", "ended_at", "provider", "agent_id", "error_message",
                        "provider_reason", "status"], keys=[tuple(r[k] for k in CALL_KEY) for r in rows])
    return _assemble(org, "call", rows, call_key, spread, samples,
                     lambda r: explanations.for_call(r["status"], r["error_code"], r["hangup_cause"]),
                     lambda r: " · ".join(x for x in (r["error_code"], r["hangup_cause"], r["reason_key"]) if x))


def extraction_groups(org, prev_start, start, now) -> list[Group]:
    base = sources.failed_extractions(org, prev_start).filter(created_at__lt=now)
    rows, spread = _folded(counts.counted(counts.failed_extraction_counters(org, prev_start, now),
                                          counts.EXTRACTION_COLUMNS, start), ["cause"])
    if not rows:
        return []
    current = base.filter(created_at__gte=start)
    samples = _samples(current, ["cause"], "created_at",
                       ["public_id", "to_number", "ended_at", "provider", "agent_id", "result_error", "status"],
                       keys=[(r["cause"],) for r in rows])
    return _assemble(org, "extraction", rows, lambda r: r["cause"], spread, samples,
                     lambda r: explanations.for_extraction(r["cause"]), lambda r: r["cause"])


def webhook_groups(org, prev_start, start, now) -> list[Group]:
    base = sources.failed_attempts(org, prev_start).filter(delivery__created_at__lt=now)
    current = Q(delivery__created_at__gte=start)
    rows = [r for r in base.values("cause").annotate(
        n=Count("delivery_id", distinct=True, filter=current), prev=Count("delivery_id", distinct=True, filter=~current),
        first=Min("created_at", filter=current), last=Max("created_at", filter=current)).order_by() if r["n"]]
    if not rows:
        return _skipped_group(org, prev_start, start, now)
    # Each delivery has one URL and at most one call (batch events have a batch, no call), so the
    # distinct counts of these combinations add up exactly per endpoint, provider, agent, batch.
    spread = list(base.filter(current).values("cause", "delivery__url", "delivery__call__provider",
                                              "delivery__call__agent_id", "delivery__call__batch_id",
                                              "delivery__event__batch_id")
                  .annotate(n=Count("delivery_id", distinct=True)).order_by())
    agent_names = dict(Agent.objects.filter(organization=org, pk__in={
        s["delivery__call__agent_id"] for s in spread if s["delivery__call__agent_id"]}).values_list("pk", "name"))
    batch_ids = {s["delivery__call__batch_id"] or s["delivery__event__batch_id"] for s in spread} - {None}
    batch_names = {pk: (pid, name) for pk, pid, name in Batch.objects.filter(organization=org, pk__in=batch_ids)
                   .values_list("pk", "public_id", "name")} if batch_ids else {}
    samples = _samples(base.filter(current), ["cause"], "created_at",
                       ["delivery__public_id", "delivery__url", "delivery__status", "delivery__event__type",
                        "delivery__call__public_id", "created_at", "error", "response_status", "duration_ms"])
    groups = _skipped_group(org, prev_start, start, now)
    for r in rows:
        g = Group("webhook", r["cause"], explanations.for_webhook(r["cause"]), r["n"], r["prev"], r["first"],
                  r["last"], detail=r["cause"].removeprefix("webhook_"))
        endpoints: dict[str, int] = {}
        providers: dict[str, int] = {}
        agents: dict[str, int] = {}
        batch_counts: dict[tuple[Any, str], int] = {}  # (batch public id, name) -> count
        for s in spread:
            if s["cause"] != r["cause"]:
                continue
            n = s["n"]
            endpoints[s["delivery__url"]] = endpoints.get(s["delivery__url"], 0) + n
            if s["delivery__call__provider"]:
                providers[s["delivery__call__provider"]] = providers.get(s["delivery__call__provider"], 0) + n
            if s["delivery__call__agent_id"]:
                name = agent_names.get(s["delivery__call__agent_id"], "?")
                agents[name] = agents.get(name, 0) + n
            batch = batch_names.get(s["delivery__call__batch_id"] or s["delivery__event__batch_id"])
            if batch:
                batch_counts[batch] = batch_counts.get(batch, 0) + n
        g.endpoints = sorted(endpoints.items(), key=lambda x: -x[1])
        g.providers = sorted(providers.items(), key=lambda x: -x[1])
        g.agents = sorted(agents.items(), key=lambda x: -x[1])
        g.batches = sorted(((pid, name, n) for (pid, name), n in batch_counts.items()), key=lambda x: -x[2])
        # One sample per delivery: several failed attempts of the same delivery say the same thing.
        seen = set()
        for s in samples:
            if s["cause"] == r["cause"] and s["delivery__public_id"] not in seen:
                seen.add(s["delivery__public_id"])
                g.samples.append(s)
        groups.append(g)
    return groups


def _skipped_group(org, prev_start, start, now) -> list[Group]:
    base = sources.held_deliveries(org, prev_start).filter(created_at__lt=now)
    current = Q(created_at__gte=start)
    agg = base.aggregate(n=Count("pk", filter=current), prev=Count("pk", filter=~current),
                         first=Min("created_at", filter=current), last=Max("created_at", filter=current))
    if not agg["n"]:
        return []
    g = Group("webhook", SKIPPED_KEY, explanations.for_webhook(SKIPPED_KEY), agg["n"], agg["prev"],
              agg["first"], agg["last"], detail="skipped")
    g.endpoints = [(row["url"], row["n"]) for row in base.filter(current).values("url").annotate(n=Count("pk"))
                   .order_by("-n")[:10]]
    g.samples = [{"delivery__public_id": d["public_id"], "delivery__url": d["url"], "delivery__status": d["status"],
                  "delivery__event__type": d["event__type"], "created_at": d["created_at"], "error": d["last_error"]}
                 for d in base.filter(current).order_by("-created_at", "-id")
                 .values("public_id", "url", "status", "event__type", "created_at", "last_error")[:SAMPLES]]
    return [g]


def _assemble(org, kind, rows, key_of, spread, samples, cause_of, detail_of) -> list[Group]:
    # The samples carry agent ids, named here from the same read as the spread's: joining the
    # agents into the sample query let PostgreSQL, misjudging a large group as two rows, hash-join
    # all of it (21,329 rows, 69 ms at 10,000,000 calls) instead of stopping after five.
    agent_ids = {s["agent_id"] for s in spread} | {s["agent_id"] for s in samples}
    batch_ids = {s["batch_id"] for s in spread if s["batch_id"]}
    agent_names = dict(Agent.objects.filter(organization=org, pk__in=agent_ids).values_list("pk", "name"))
    batches = {pk: (pid, name) for pk, pid, name in
               Batch.objects.filter(organization=org, pk__in=batch_ids).values_list("pk", "public_id", "name")}
    groups = []
    for r in rows:
        key = key_of(r)
        g = Group(kind, key, cause_of(r), r["n"], r["prev"], r["first"], r["last"], detail=detail_of(r))
        providers: dict[str, int] = {}
        agents: dict[str, int] = {}
        batch_counts: dict[tuple[Any, str], int] = {}  # (batch public id, name) -> count
        for s in spread:
            if key_of(s) != key:
                continue
            providers[s["provider"]] = providers.get(s["provider"], 0) + s["n"]
            name = agent_names.get(s["agent_id"], "?")
            agents[name] = agents.get(name, 0) + s["n"]
            if s["batch_id"] in batches:
                batch_counts[batches[s["batch_id"]]] = batch_counts.get(batches[s["batch_id"]], 0) + s["n"]
        g.providers = sorted(providers.items(), key=lambda x: -x[1])
        g.agents = sorted(agents.items(), key=lambda x: -x[1])
        g.batches = sorted(((pid, name, n) for (pid, name), n in batch_counts.items()), key=lambda x: -x[2])
        g.samples = [{**s, "agent__name": agent_names.get(s["agent_id"], "?")} for s in samples if key_of(s) == key]
        groups.append(g)
    return groups


def build(org, window: str, *, show_reviewed: bool = False, now=None) -> tuple[list[Group], int]:
    """The triage page's groups for `window`, largest first, and how many reviewed ones are hidden."""
    prev_start, start, now = windows.bounds(window, now)
    groups = (call_groups(org, prev_start, start, now) + extraction_groups(org, prev_start, start, now)
              + webhook_groups(org, prev_start, start, now))
    reviews = {(r.kind, r.cause): r for r in TriageReview.objects.filter(organization=org)}
    visible, hidden = [], 0
    for g in groups:
        g.review = reviews.get((g.kind, g.key[:300]))
        if g.review and g.last_seen and g.last_seen <= g.review.reviewed_at and not show_reviewed:
            hidden += 1
            continue
        visible.append(g)
    visible.sort(key=lambda g: (-g.count, g.kind, g.key))
    return visible, hidden


def problem_totals(org, window: str = "7d", *, now=None) -> dict[str, int]:
    """What the triage page's summary counts for `window`, without building its groups.

    The same querysets and the same rule for reviewed groups (hidden until something happens in
    them after the review), so a count elsewhere (the overview) and the triage page it links to
    always agree. One aggregate per source, grouped only by cause.
    """
    _, start, now = windows.bounds(window, now)
    reviews = {(kind, cause): at for kind, cause, at in
               TriageReview.objects.filter(organization=org).values_list("kind", "cause", "reviewed_at")}

    def shown(kind, key, last) -> bool:
        at = reviews.get((kind, key[:300]))
        return not (at and last and last <= at)

    reviewed = {kind for kind, _ in reviews}

    def counted(kind: str, hourly, columns: dict[str, str], where: Q) -> list[dict]:
        if kind in reviewed:
            # A reviewed group counts only if a call of it ended after the review: only the hours
            # keep when their calls ended.
            return counts.counted(hourly, columns, start, spread=False)
        # With no review every group counts, whenever its calls ended: the counts alone, read
        # mostly from the daily rollups (the calls' 7 days at 10,000,000 calls: 4.9 ms, against
        # 14.1 ms from the hours alone; bench/pages.py's data set).
        rows = rollup_windows.counters(org.pk, start, now, list(columns.values()), ("n",), where=where)
        return [{**{name: r[column] for name, column in columns.items()}, "n": r["n"], "last": None} for r in rows]

    calls = counted("call", counts.failed_call_counters(org, start, now), counts.CALL_COLUMNS,
                    failure_keys.FAILURE_ROWS & counts.FAILED_CALLS)
    extractions = counted("extraction", counts.failed_extraction_counters(org, start, now), counts.EXTRACTION_COLUMNS,
                          failure_keys.FAILED_EXTRACTION_ROWS)
    attempts = (sources.failed_attempts(org, start).filter(delivery__created_at__lt=now).values("cause")
                .annotate(n=Count("delivery_id", distinct=True), last=Max("created_at")).order_by())
    skipped = (sources.held_deliveries(org, start).filter(created_at__lt=now)
               .aggregate(n=Count("pk"), last=Max("created_at")))
    webhook = sum(r["n"] for r in attempts if shown("webhook", r["cause"], r["last"]))
    if skipped["n"] and shown("webhook", SKIPPED_KEY, skipped["last"]):
        webhook += skipped["n"]
    return {
        "call": sum(r["n"] for r in calls if shown("call", call_key(r), r["last"])),
        "extraction": sum(r["n"] for r in extractions if shown("extraction", r["cause"], r["last"])),
        "webhook": webhook,
    }
