"""Providers, agents, batches and routing profiles side by side over a period, from the rollups.

GET /v1/analytics/providers and the dashboard's Comparison page both come here. Everything is
read from the rollups (counters per hour and per day, kept in the status change's transaction;
calls.rollup_windows reads a period's whole days from the daily ones), never from the calls: two
reads of the period's counters (one for the table, one for the chart), whose cost follows the
days and tuples in the period, not the number of calls.

Definitions (the README's "Comparison" says the same):
- answer and completion rates are over finished calls (terminal, not canceled), as the overview's;
- extraction success rate: calls whose extraction completed over those where it completed or failed;
- talk time: answered calls with a duration; p90 is read from the fixed histogram in the rollups
  (rollups.TALK_EDGES): the upper edge of the bucket holding the 90th percentile call, so it is at
  most one bucket width above the true value (for the last, open bucket its lower edge, 1200 s);
- time to answer: from ringing (started_at) to answer, over calls with both;
- cost per call: the group's cost in a currency over all its calls; per completed call: over its
  completed calls; `estimated` when any part of it came from a price table;
- failovers: calls whose routing took more than one attempt.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Sum

from callops.accounts.tenancy import scoped
from callops.batches.models import Batch
from callops.calls import rollup_windows
from callops.calls.models import TERMINAL, Agent, CallRollup, CallStatus, ResultStatus, RoutingProfile
from callops.calls.rollups import TALK_BUCKETS, TALK_EDGES
from callops.lib import isotime
from callops.lib.aggregate_memory import hash_room
from callops.providers.models import ProviderAccount

from .periods import Period

GROUP_BY = ("provider", "agent", "batch", "profile")
DIMENSION = {"provider": "provider_account_pk", "agent": "agent_pk", "batch": "batch_pk",
             "profile": "routing_profile_pk"}
GROUP_LABELS = {"provider": "Provider account", "agent": "Agent", "batch": "Batch", "profile": "Routing profile"}
FINISHED = frozenset(TERMINAL - {CallStatus.CANCELED})
MEASURES = ("n", "answered", "billed", "cost_milli_cents", "estimated", "failovers", "answer_waited",
            "answer_wait_seconds", "answered_talk_seconds", *TALK_BUCKETS)
# The chart draws this many groups, the busiest, and the rest as one "other" series.
CHART_GROUPS = 6


@dataclass
class Cost:
    currency: str
    total_milli_cents: int = 0
    billed: int = 0
    estimated: int = 0


@dataclass
class Group:
    pk: int
    key: str | None = None  # the public id; None for "no batch/profile" and rows since deleted
    name: str = ""
    provider: str | None = None
    calls: int = 0
    finished: int = 0
    answered: int = 0
    completed: int = 0
    extraction_attempted: int = 0
    extraction_succeeded: int = 0
    talked: int = 0
    talk_seconds: int = 0
    histogram: list[int] = field(default_factory=lambda: [0] * len(TALK_BUCKETS))
    waited: int = 0
    wait_seconds: int = 0
    failovers: int = 0
    costs: dict[str, Cost] = field(default_factory=dict)

    @property
    def answer_rate(self) -> float | None:
        return _ratio(self.answered, self.finished)

    @property
    def completion_rate(self) -> float | None:
        return _ratio(self.completed, self.finished)

    @property
    def extraction_success_rate(self) -> float | None:
        return _ratio(self.extraction_succeeded, self.extraction_attempted)

    @property
    def talk_average_seconds(self) -> float | None:
        return round(self.talk_seconds / self.talked, 1) if self.talked else None

    @property
    def talk_p90_seconds(self) -> int | None:
        return percentile(self.histogram, 0.9)

    @property
    def answer_average_seconds(self) -> float | None:
        return round(self.wait_seconds / self.waited, 1) if self.waited else None

    def cost_rows(self) -> list[dict[str, Any]]:
        return [{"currency": c.currency, "total_milli_cents": c.total_milli_cents,
                 "per_call_milli_cents": _per(c.total_milli_cents, self.calls),
                 "per_completed_call_milli_cents": _per(c.total_milli_cents, self.completed),
                 "estimated": c.estimated > 0} for c in sorted(self.costs.values(), key=lambda c: c.currency)]

    def as_dict(self) -> dict[str, Any]:
        """The API's and the CSV's shape of one group."""
        return {
            "key": self.key, "name": self.name, "provider": self.provider,
            "calls": self.calls, "finished": self.finished, "answered": self.answered, "completed": self.completed,
            "answer_rate": self.answer_rate, "completion_rate": self.completion_rate,
            "extraction_attempted": self.extraction_attempted, "extraction_succeeded": self.extraction_succeeded,
            "extraction_success_rate": self.extraction_success_rate,
            "talk_time": {"calls": self.talked, "average_seconds": self.talk_average_seconds,
                          "p90_seconds": self.talk_p90_seconds},
            "time_to_answer": {"calls": self.waited, "average_seconds": self.answer_average_seconds},
            "cost": self.cost_rows(),
            "failovers": self.failovers,
        }


@dataclass
class Bucket:
    start: Any
    end: Any
    calls: int = 0
    answered: int = 0
    completed: int = 0
    failovers: int = 0
    by_group: list[int] = field(default_factory=list)


@dataclass
class Comparison:
    group_by: str
    period: Period
    groups: list[Group]
    buckets: list[Bucket]

    def as_dict(self) -> dict[str, Any]:
        p = self.period
        return {
            "object": "provider_comparison", "group_by": self.group_by,
            "since": isotime.format(p.since), "until": isotime.format(p.until), "interval": p.interval,
            "tz": str(p.tz), "data": [g.as_dict() for g in self.groups],
            "series": [{"start": isotime.format(b.start), "end": isotime.format(b.end), "calls": b.calls,
                        "answered": b.answered, "completed": b.completed, "failovers": b.failovers,
                        "calls_by_group": b.by_group} for b in self.buckets],
        }


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _per(total: int, count: int) -> int | None:
    """total / count in whole milli-cents, halves rounded up; None with nothing to divide by."""
    return (2 * total + count) // (2 * count) if count else None


def percentile(histogram: list[int], q: float) -> int | None:
    """The q-th percentile of a talk time histogram, as the upper edge of its bucket (see above)."""
    total = sum(histogram)
    if not total:
        return None
    rank = math.ceil(q * total)
    seen = 0
    for i, count in enumerate(histogram):
        seen += count
        if seen >= rank:
            return TALK_EDGES[i + 1] if i + 1 < len(TALK_EDGES) else TALK_EDGES[i]
    raise AssertionError("unreachable: rank is at most the total")


def _fold(group: Group, r: dict[str, Any]) -> None:
    status, n = r["status"], r["n"]
    group.calls += n
    if status in FINISHED:
        group.finished += n
        group.answered += r["answered"]
    if status == CallStatus.COMPLETED:
        group.completed += n
    if r["result_status"] in (ResultStatus.COMPLETED, ResultStatus.FAILED):
        group.extraction_attempted += n
        if r["result_status"] == ResultStatus.COMPLETED:
            group.extraction_succeeded += n
    group.histogram = [a + r[name] for a, name in zip(group.histogram, TALK_BUCKETS, strict=True)]
    group.talked = sum(group.histogram)
    group.talk_seconds += r["answered_talk_seconds"]
    group.waited += r["answer_waited"]
    group.wait_seconds += r["answer_wait_seconds"]
    group.failovers += r["failovers"]
    if r["currency"] and r["billed"]:
        cost = group.costs.setdefault(r["currency"], Cost(r["currency"]))
        cost.total_milli_cents += r["cost_milli_cents"]
        cost.billed += r["billed"]
        cost.estimated += r["estimated"]


def _name(groups: Iterable[Group], org, group_by: str) -> None:
    """Each group's public id, name and provider, read from the organization's own rows."""
    pks = [g.pk for g in groups if g.pk]
    found: dict[int, tuple[str, str, str | None]] = {}
    if group_by == "provider":
        found = {pk: (str(pid), name, kind) for pk, pid, name, kind in scoped(ProviderAccount, org).filter(
            pk__in=pks).values_list("pk", "public_id", "name", "kind")}
    elif group_by == "agent":
        found = {pk: (str(pid), name, kind) for pk, pid, name, kind in scoped(Agent, org).filter(
            pk__in=pks).values_list("pk", "public_id", "name", "provider_account__kind")}
    elif group_by == "batch":
        found = {pk: (str(pid), name, None) for pk, pid, name in scoped(Batch, org).filter(
            pk__in=pks).values_list("pk", "public_id", "name")}
    else:
        found = {pk: (str(pid), name, None) for pk, pid, name in scoped(RoutingProfile, org).filter(
            pk__in=pks).values_list("pk", "public_id", "name")}
    none_label = {"batch": "No batch", "profile": "No routing profile"}
    for g in groups:
        if g.pk in found:
            g.key, g.name, g.provider = found[g.pk]
        elif not g.pk:
            g.name = none_label[group_by]
        else:
            g.name = f"Deleted {GROUP_LABELS[group_by].lower()}"


def compare(org, group_by: str, period: Period) -> Comparison:
    """The comparison of the organization's calls created in `period`, grouped by `group_by`."""
    dim = DIMENSION[group_by]
    groups: dict[int, Group] = {}
    for r in rollup_windows.counters(org.pk, period.since, period.until, ("status", "result_status", "currency", dim),
                                     MEASURES):
        _fold(groups.setdefault(r[dim], Group(r[dim])), r)
    _name(groups.values(), org, group_by)
    ordered = sorted(groups.values(), key=lambda g: (-g.calls, g.name, g.pk))
    return Comparison(group_by, period, ordered, _series(org, period, dim, ordered))


def _series(org, period: Period, dim: str, groups: list[Group]) -> list[Bucket]:
    index = {g.pk: i for i, g in enumerate(groups)}
    buckets = {key: Bucket(start, end, by_group=[0] * len(groups)) for key, start, end in period.buckets()}
    measures = ("n", "answered", "failovers")
    if period.interval == "hour":
        # The hours themselves, with room to hash them (lib/aggregate_memory.py).
        with hash_room():
            rows = list(CallRollup.objects.filter(organization=org, hour__gte=period.since, hour__lt=period.until,
                                                  n__gt=0)
                        .values("status", dim, "hour").annotate(**{name: Sum(name) for name in measures}).order_by())
    else:
        rows = rollup_windows.counters(org.pk, period.since, period.until, ("status", dim), measures,
                                       local_days=period.tz)
    for r in rows:
        b = buckets[r["hour" if period.interval == "hour" else "day"]]
        b.calls += r["n"]
        if r["status"] in FINISHED:
            b.answered += r["answered"]
        if r["status"] == CallStatus.COMPLETED:
            b.completed += r["n"]
        b.failovers += r["failovers"]
        b.by_group[index[r[dim]]] += r["n"]
    return list(buckets.values())
