"""Calls-list filters read from the URL, and keyset pagination over (created_at, id).

The list never counts the whole filtered set: it fetches one page plus one row to know whether
another page exists, and counts at most COUNT_CAP rows for the "N calls" label and for where a
page starts. That keeps every page cheap with a million calls, on the `call_org_recent` /
`call_org_status_recent` indexes.
"""

import base64
import re
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db.models import Q
from django.utils.dateparse import parse_datetime

from callops.accounts.tenancy import parse_public_id, scoped
from callops.calls.models import AnsweredBy, Call, CallStatus, ResultStatus, WebhookStatus

from .tz import day_range

PAGE_SIZE = 50
COUNT_CAP = 1000
PHONE_RE = re.compile(r"^\+?[0-9 ().-]{3,}$")
# The start of a call id as the breadcrumb and support tickets show it ("6f0c1a2b", "6f0c1a2b-9d").
ID_PREFIX_RE = re.compile(r"^[0-9a-f]{4,8}(-[0-9a-f-]{0,27})?$", re.IGNORECASE)


@dataclass
class CallFilters:
    statuses: list[str] = field(default_factory=list)
    provider: str = ""
    agent: str = ""
    batch: str = ""
    date_from: date | None = None
    date_to: date | None = None
    answered_by: str = ""
    result_status: str = ""
    webhook_status: str = ""
    q: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return any([self.statuses, self.provider, self.agent, self.batch, self.date_from, self.date_to,
                    self.answered_by, self.result_status, self.webhook_status, self.q])


def _date(value: str, label: str, errors: list) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.append(f"{label} must be a date like 2026-01-31")
        return None


def _choice(value: str, choices, label: str, errors: list) -> str:
    if value and value not in choices:
        errors.append(f"unknown {label} {value!r}")
        return ""
    return value


def parse_filters(params) -> CallFilters:
    errors: list[str] = []
    statuses = [s for s in params.getlist("status") if s]
    bad = [s for s in statuses if s not in CallStatus.values]
    if bad:
        errors.append("unknown status " + ", ".join(bad))
        statuses = [s for s in statuses if s in CallStatus.values]
    result_choices = [*ResultStatus.values, "none"]
    webhook_choices = [*WebhookStatus.values, "none"]
    return CallFilters(
        statuses=statuses,
        provider=params.get("provider", "").strip(),
        agent=params.get("agent", "").strip(),
        batch=params.get("batch", "").strip(),
        date_from=_date(params.get("from", "").strip(), "from", errors),
        date_to=_date(params.get("to", "").strip(), "to", errors),
        answered_by=_choice(params.get("answered_by", ""), AnsweredBy.values, "answered_by", errors),
        result_status=_choice(params.get("result_status", ""), result_choices, "result_status", errors),
        webhook_status=_choice(params.get("webhook_status", ""), webhook_choices, "webhook_status", errors),
        q=params.get("q", "").strip()[:100],
        errors=errors,
    )


def filtered_calls(org, f: CallFilters, tz):
    """The org's calls matching `f`, newest first (not yet sliced)."""
    qs = scoped(Call, org)
    if f.statuses:
        qs = qs.filter(status=f.statuses[0]) if len(f.statuses) == 1 else qs.filter(status__in=f.statuses)
    if f.provider:
        qs = qs.filter(provider=f.provider)
    if f.agent:
        pid = parse_public_id(f.agent)
        qs = qs.filter(agent__public_id=pid) if pid else qs.none()
    if f.batch:
        pid = parse_public_id(f.batch)
        qs = qs.filter(batch__public_id=pid) if pid else qs.none()
    if f.date_from:
        qs = qs.filter(created_at__gte=day_range(tz, f.date_from, f.date_from)[0])
    if f.date_to:
        qs = qs.filter(created_at__lt=day_range(tz, f.date_to, f.date_to)[1])
    if f.answered_by:
        qs = qs.filter(answered_by=f.answered_by)
    if f.result_status:
        qs = qs.filter(result_status="" if f.result_status == "none" else f.result_status)
    if f.webhook_status:
        qs = qs.filter(webhook_status="" if f.webhook_status == "none" else f.webhook_status)
    if f.q:
        qs = _search(qs, f.q)
    return qs.order_by("-created_at", "-id")


def _search(qs, q: str):
    """Calls whose number contains the typed digits, whose id starts with the typed characters, or
    whose provider call id is the text: one box for what an operator has at hand."""
    pid = parse_public_id(q)
    if pid:
        return qs.filter(public_id=pid)
    match = Q(provider_call_id=q)  # support tickets often quote the provider's own id
    if PHONE_RE.match(q):
        digits = re.sub(r"[^0-9]", "", q)
        if q.startswith("+"):
            # A number typed from its start ("+1415") stays on the (organization, to_number) index.
            match |= Q(to_number__startswith="+" + digits)
        else:
            # A fragment ("0105", the last digits a callee reads out) can sit anywhere in the
            # number; this scans the organization's calls, which the filters above narrow first.
            match |= Q(to_number__contains=digits)
    if ID_PREFIX_RE.match(q):
        match |= Q(public_id__startswith=q.lower())
    return qs.filter(match)


def encode_cursor(call) -> str:
    raw = f"{call.created_at.isoformat()}|{call.pk}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(value: str) -> tuple[datetime, int] | None:
    if not value:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        when, pk = raw.rsplit("|", 1)
        at = parse_datetime(when)
        return (at, int(pk)) if at else None
    except (ValueError, UnicodeDecodeError):
        return None


@dataclass
class Page:
    """One page of calls, newest first, and whether newer and older calls lie beyond it."""

    rows: list
    newer: bool
    older: bool


def _newer_than(at: datetime, pk: int) -> Q:
    return Q(created_at__gt=at) | Q(created_at=at, id__gt=pk)


def page_after(qs, cursor: tuple[datetime, int] | None, size: int | None = None):
    """One page of `qs` strictly after `cursor`, and whether more rows follow."""
    size = size or PAGE_SIZE
    if cursor:
        at, pk = cursor
        qs = qs.filter(Q(created_at__lt=at) | Q(created_at=at, id__lt=pk))
    rows = list(qs[: size + 1])
    return rows[:size], len(rows) > size


def page(qs, *, after: tuple[datetime, int] | None = None, before: tuple[datetime, int] | None = None,
         oldest: bool = False, size: int | None = None) -> Page:
    """The page just older than `after`, just newer than `before`, the oldest page, or else the
    newest; always newest first. `qs` is ordered newest first."""
    size = size or PAGE_SIZE
    if before or oldest:
        rising = qs.order_by("created_at", "id")
        if before:
            rising = rising.filter(_newer_than(*before))
        rows = list(rising[: size + 1])
        more = len(rows) > size
        rows = rows[:size][::-1]
        return Page(rows, newer=more, older=bool(before))
    rows, more = page_after(qs, after, size)
    return Page(rows, newer=after is not None, older=more)


def rows_newer_than(qs, call, cap: int | None = None) -> tuple[int, bool]:
    """How many rows of `qs` are newer than `call` (at most `cap`): where its page starts."""
    return capped_count(qs.filter(_newer_than(call.created_at, call.pk)), cap)


def capped_count(qs, cap: int | None = None) -> tuple[int, bool]:
    """How many rows match, counting at most `cap` + 1 of them."""
    cap = COUNT_CAP if cap is None else cap
    n = qs.order_by()[: cap + 1].count()
    return min(n, cap), n > cap
