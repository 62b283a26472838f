"""Triage's counts from the hourly call rollups (CallRollup) instead of the calls.

Call and extraction failures are counted from the counters of the window's hours, so a page's
cost follows the hours and causes in the window, not the number of calls; samples and bulk
actions still read the calls themselves (callops.triage.sources), through their indexes. Webhook
failures are attempts, not call states, and are still grouped from the attempts.

Each function returns rows shaped like the grouping of raw rows in callops.triage.groups: the
key fields, the spread (provider, agent_id, batch_id; batch 0 for none) and n, prev, first, last.
"""

from __future__ import annotations

from django.db.models import F, Max, Min, Q, Sum
from django.db.models.functions import Coalesce

from callops.calls import failure_keys
from callops.calls.models import CallRollup, CallStatus

from .explanations import CALLING_RULE_CODES
from .sources import PROBLEM_STATUSES

# The rollup columns each kind of group is keyed by, under the names triage's rows use (a name
# that is the column's own stays plain: values() refuses an alias that shadows a field).
CALL_COLUMNS = {"status": "status", "error_code": "error_code", "hangup_cause": "hangup_cause",
                "reason_key": "reason_key"}
EXTRACTION_COLUMNS = {"cause": "extraction_cause"}
SPREAD_COLUMNS = {"provider": "provider", "agent_id": "agent_pk", "batch_id": "batch_pk"}


def _window(org, prev_start, now):
    return CallRollup.objects.filter(organization=org, hour__gte=prev_start, hour__lt=now)


# The tuples triage counts as call failures: failed, unanswered and busy calls, and canceled ones
# a calling rule canceled.
FAILED_CALLS = Q(status__in=PROBLEM_STATUSES) | Q(status=CallStatus.CANCELED, error_code__in=CALLING_RULE_CODES)


def failed_call_counters(org, prev_start, now):
    # The first filter is the partial index's condition (callrollup_failures), stated as it is
    # there: PostgreSQL uses that index only for a query whose conditions prove it, and does not
    # prove it from the OR alone.
    return _window(org, prev_start, now).filter(failure_keys.FAILURE_ROWS).filter(FAILED_CALLS)


def failed_extraction_counters(org, prev_start, now):
    return _window(org, prev_start, now).filter(failure_keys.FAILED_EXTRACTION_ROWS)  # callrollup_extraction_failures


def counted(counters, columns: dict[str, str], start, *, spread: bool = True) -> list[dict]:
    """(current count, previous count, first, last seen) per key (and spread when asked)."""
    current = Q(hour__gte=start)
    seen = current & Q(n__gt=0)
    group = {**columns, **(SPREAD_COLUMNS if spread else {})}
    names = [name for name, column in group.items() if name == column]
    aliased = {name: F(column) for name, column in group.items() if name != column}
    rows = counters.values(*names, **aliased).annotate(
        current_n=Coalesce(Sum("n", filter=current), 0), previous_n=Coalesce(Sum("n", filter=~current), 0),
        first=Min("first_ended_at", filter=seen), last=Max("last_ended_at", filter=seen)).order_by()
    # `n` is a rollup column, so the sums take other names in SQL and triage's names here.
    out = []
    for r in rows:
        r["n"], r["prev"] = r.pop("current_n"), r.pop("previous_n")
        out.append(r)
    return out
