"""Failure triage: what went wrong in a window, grouped by cause, with actions on each group.

Three sources, each grouped in the database (aggregate queries only; the query count does not grow
with the number of groups or rows):
- calls that ended failed, unanswered or busy, by (status, error_code, hangup_cause, provider reason
  when there is no error code);
- extractions that failed, by the error kind read from `result_error`;
- webhook attempts that failed for deliveries still undelivered, by error kind (and HTTP class).

Each group shows its count, the count in the previous window of the same length, first and last
seen, affected providers, agents and batches (for webhooks through the deliveries' calls, plus the
endpoints) and a few samples. A group marked
reviewed is hidden until something new happens in it after the review.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib import messages
from django.db.models import Case, CharField, Count, F, Max, Min, Q, Value, When, Window
from django.db.models.functions import Concat, RowNumber, Substr
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from callops.accounts.decorators import org_required, require_role
from callops.accounts.models import Role
from callops.accounts.services import audit, client_ip
from callops.accounts.tenancy import parse_public_id
from callops.calls.models import Agent, Batch, Call, CallStatus, EventSource, ResultStatus, TriageReview
from callops.calls.retry import RetryRefused, retry_call
from callops.calls.triage_reviews import mark_reviewed
from callops.webhooks.models import DeliveryStatus, Trigger, WebhookAttempt, WebhookDelivery

from . import causes

WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
WINDOW_LABELS = {"1h": "Last hour", "24h": "Last 24 hours", "7d": "Last 7 days", "30d": "Last 30 days"}
DEFAULT_WINDOW = "24h"
SAMPLES = 5
# One action touches at most this many rows; the rest stay for the next click.
ACTION_CAP = 200
PROBLEM_STATUSES = [CallStatus.FAILED, CallStatus.NO_ANSWER, CallStatus.BUSY]
UNDELIVERED = [DeliveryStatus.PENDING, DeliveryStatus.FAILED, DeliveryStatus.SKIPPED]
REASON_CHARS = 120
# Above this many groups the samples query falls back to the window function (one huge UNION
# would cost more to plan than it saves).
MAX_UNION_GROUPS = 60
SEP = "|"


@dataclass
class Group:
    kind: str  # call | extraction | webhook
    key: str
    cause: causes.Cause
    count: int
    previous: int
    first_seen: object
    last_seen: object
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
        import hashlib

        return f"g-{self.kind}-{hashlib.sha1(self.key.encode()).hexdigest()[:10]}"


def parse_window(value) -> str:
    return value if value in WINDOWS else DEFAULT_WINDOW


def _bounds(window: str, now=None):
    now = now or timezone.now()
    length = WINDOWS[window]
    return now - 2 * length, now - length, now


# --- calls -----------------------------------------------------------------------------------------
def _reason_key():
    # Provider reason only distinguishes groups that have no error code (PolyAI failures, for one);
    # with a code, the code says it and free-text reasons would split one cause into many groups.
    return Case(When(error_code="", then=Substr("provider_reason", 1, REASON_CHARS)), default=Value(""),
                output_field=CharField())


CALL_KEY = ("status", "error_code", "hangup_cause", "reason_key")


# Windows are on created_at everywhere (as on the calls list), which the (organization, status,
# created_at) index serves; first and last seen are when the failures happened (ended_at).
def _calls(org, since):
    return (Call.objects.filter(organization=org, status__in=PROBLEM_STATUSES, created_at__gte=since)
            .annotate(reason_key=_reason_key()))


def call_key(row) -> str:
    return SEP.join(str(row[k] or "") for k in CALL_KEY)


def calls_for_key(org, key: str, since, until):
    status, error_code, hangup, reason = (key.split(SEP, 3) + ["", "", "", ""])[:4]
    return _calls(org, since).filter(created_at__lt=until, status=status, error_code=error_code,
                                     hangup_cause=hangup, reason_key=reason)


def _extraction_kind():
    return Case(
        When(result_error__startswith="empty transcript", then=Value("empty_transcript")),
        When(result_error__startswith="the call ended before any conversation", then=Value("no_conversation")),
        When(result_error__startswith="llm extractor", then=Value("llm_failed")),
        When(result_error__startswith="provider extractor", then=Value("provider_failed")),
        When(result_error__startswith="rules extractor", then=Value("rules_failed")),
        When(result_error__startswith="no return field", then=Value("nothing_parsed")),
        default=Value("other"), output_field=CharField())


def _extractions(org, since):
    return (Call.objects.filter(organization=org, status=CallStatus.COMPLETED, result_status=ResultStatus.FAILED,
                                created_at__gte=since)
            .annotate(cause=_extraction_kind()))


def _webhook_kind():
    http = Q(error_kind="http")
    return Case(
        When(http & Q(response_status=410), then=Value("webhook_gone")),
        When(http & Q(response_status=429), then=Value("webhook_rate_limited")),
        When(http & Q(response_status__in=[401, 403]), then=Value("webhook_auth")),
        When(http & Q(response_status__gte=500), then=Value("webhook_server_error")),
        When(http, then=Value("webhook_client_error")),
        When(error_kind="network", then=Value("webhook_unreachable")),
        default=Concat(Value("webhook_"), F("error_kind")), output_field=CharField())


def _attempts(org, since):
    # Windowed on the delivery's creation (the (organization, created_at) index of deliveries).
    return (WebhookAttempt.objects.filter(delivery__organization=org, succeeded=False,
                                          delivery__created_at__gte=since, delivery__status__in=UNDELIVERED)
            .annotate(cause=_webhook_kind()))


SKIPPED_KEY = "webhook_endpoint_disabled"


def _skipped(org, since):
    # Deliveries never tried because their endpoint was disabled; ones that also failed an attempt
    # are already counted under that attempt's cause.
    return (WebhookDelivery.objects.filter(organization=org, status=DeliveryStatus.SKIPPED, created_at__gte=since)
            .exclude(attempts__succeeded=False))


def deliveries_for_key(org, key: str, since, until):
    if key == SKIPPED_KEY:
        return _skipped(org, since).filter(created_at__lt=until)
    attempts = _attempts(org, since).filter(delivery__created_at__lt=until, cause=key)
    return WebhookDelivery.objects.filter(organization=org, status__in=UNDELIVERED,
                                          pk__in=attempts.values("delivery_id"))


# --- building the page -----------------------------------------------------------------------------
def _counted(qs, key_fields, seen_field, start):
    """Group rows: (current count, previous count, first, last seen) per key, in one query."""
    current = Q(created_at__gte=start)
    return list(qs.values(*key_fields).annotate(
        n=Count("pk", filter=current), prev=Count("pk", filter=~current),
        first=Min(seen_field, filter=current), last=Max(seen_field, filter=current)).order_by())


def _samples(qs, key_fields, time_field, fields, keys=None):
    """The latest SAMPLES rows of every group, in one query.

    PostgreSQL gets one `(… ORDER BY … LIMIT 5)` branch per group joined with UNION ALL, each
    served by an index scan that stops after five rows; elsewhere (SQLite, small data) a
    ROW_NUMBER() window over the window's rows does the same.
    """
    from django.db import connection

    if keys and connection.features.supports_slicing_ordering_in_compound and len(keys) <= MAX_UNION_GROUPS:
        branches = [qs.filter(**dict(zip(key_fields, key, strict=True))).order_by(f"-{time_field}", "-pk")
                    .values(*key_fields, *fields)[:SAMPLES] for key in keys]
        first, *rest = branches
        return list(first.union(*rest, all=True)) if rest else list(first)
    ranked = qs.annotate(rn=Window(RowNumber(), partition_by=[F(k) for k in key_fields],
                                   order_by=[F(time_field).desc(), F("pk").desc()]))
    return list(ranked.filter(rn__lte=SAMPLES).values(*key_fields, *fields))


SPREAD = ("provider", "agent_id", "batch_id")


def _grouped(base, key_fields, seen_field, start):
    """One aggregate per (group, provider, agent, batch); folded here into group rows plus their spread."""
    rows = _counted(base, [*key_fields, *SPREAD], seen_field, start)
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
    base = _calls(org, prev_start).filter(created_at__lt=now)
    rows, spread = _grouped(base, CALL_KEY, "ended_at", start)
    if not rows:
        return []
    current = base.filter(created_at__gte=start)
    samples = _samples(current, CALL_KEY, "created_at",
                       ["public_id", "to_number", "ended_at", "provider", "agent__name", "error_message",
                        "provider_reason", "status"], keys=[tuple(r[k] for k in CALL_KEY) for r in rows])
    return _assemble(org, "call", rows, call_key, spread, samples,
                     lambda r: causes.for_call(r["status"], r["error_code"], r["hangup_cause"]),
                     lambda r: " · ".join(x for x in (r["error_code"], r["hangup_cause"], r["reason_key"]) if x))


def extraction_groups(org, prev_start, start, now) -> list[Group]:
    base = _extractions(org, prev_start).filter(created_at__lt=now)
    rows, spread = _grouped(base, ["cause"], "ended_at", start)
    if not rows:
        return []
    current = base.filter(created_at__gte=start)
    samples = _samples(current, ["cause"], "created_at",
                       ["public_id", "to_number", "ended_at", "provider", "agent__name", "result_error", "status"],
                       keys=[(r["cause"],) for r in rows])
    return _assemble(org, "extraction", rows, lambda r: r["cause"], spread, samples,
                     lambda r: causes.for_extraction(r["cause"]), lambda r: r["cause"])


def webhook_groups(org, prev_start, start, now) -> list[Group]:
    base = _attempts(org, prev_start).filter(delivery__created_at__lt=now)
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
        g = Group("webhook", r["cause"], causes.for_webhook(r["cause"]), r["n"], r["prev"], r["first"], r["last"],
                  detail=r["cause"].removeprefix("webhook_"))
        endpoints, providers, agents, batch_counts = {}, {}, {}, {}
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
    base = _skipped(org, prev_start).filter(created_at__lt=now)
    current = Q(created_at__gte=start)
    agg = base.aggregate(n=Count("pk", filter=current), prev=Count("pk", filter=~current),
                         first=Min("created_at", filter=current), last=Max("created_at", filter=current))
    if not agg["n"]:
        return []
    g = Group("webhook", SKIPPED_KEY, causes.for_webhook(SKIPPED_KEY), agg["n"], agg["prev"], agg["first"],
              agg["last"], detail="skipped")
    g.endpoints = [(row["url"], row["n"]) for row in base.filter(current).values("url").annotate(n=Count("pk"))
                   .order_by("-n")[:10]]
    g.samples = [{"delivery__public_id": d["public_id"], "delivery__url": d["url"], "delivery__status": d["status"],
                  "delivery__event__type": d["event__type"], "created_at": d["created_at"], "error": d["last_error"]}
                 for d in base.filter(current).order_by("-created_at", "-id")
                 .values("public_id", "url", "status", "event__type", "created_at", "last_error")[:SAMPLES]]
    return [g]


def _assemble(org, kind, rows, key_of, spread, samples, cause_of, detail_of) -> list[Group]:
    agent_ids = {s["agent_id"] for s in spread}
    batch_ids = {s["batch_id"] for s in spread if s["batch_id"]}
    agent_names = dict(Agent.objects.filter(organization=org, pk__in=agent_ids).values_list("pk", "name"))
    batches = {pk: (pid, name) for pk, pid, name in
               Batch.objects.filter(organization=org, pk__in=batch_ids).values_list("pk", "public_id", "name")}
    groups = []
    for r in rows:
        key = key_of(r)
        g = Group(kind, key, cause_of(r), r["n"], r["prev"], r["first"], r["last"], detail=detail_of(r))
        providers, agents, batch_counts = {}, {}, {}
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
        g.samples = [s for s in samples if key_of(s) == key]
        groups.append(g)
    return groups


def build(org, window: str, *, show_reviewed: bool = False, now=None):
    prev_start, start, now = _bounds(window, now)
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
    _, start, now = _bounds(window, now)
    reviews = {(kind, cause): at for kind, cause, at in
               TriageReview.objects.filter(organization=org).values_list("kind", "cause", "reviewed_at")}

    def shown(kind, key, last) -> bool:
        at = reviews.get((kind, key[:300]))
        return not (at and last and last <= at)

    calls = (_calls(org, start).filter(created_at__lt=now).values(*CALL_KEY)
             .annotate(n=Count("pk"), last=Max("ended_at")).order_by())
    extractions = (_extractions(org, start).filter(created_at__lt=now).values("cause")
                   .annotate(n=Count("pk"), last=Max("ended_at")).order_by())
    attempts = (_attempts(org, start).filter(delivery__created_at__lt=now).values("cause")
                .annotate(n=Count("delivery_id", distinct=True), last=Max("created_at")).order_by())
    skipped = _skipped(org, start).filter(created_at__lt=now).aggregate(n=Count("pk"), last=Max("created_at"))
    webhook = sum(r["n"] for r in attempts if shown("webhook", r["cause"], r["last"]))
    if skipped["n"] and shown("webhook", SKIPPED_KEY, skipped["last"]):
        webhook += skipped["n"]
    return {
        "call": sum(r["n"] for r in calls if shown("call", call_key(r), r["last"])),
        "extraction": sum(r["n"] for r in extractions if shown("extraction", r["cause"], r["last"])),
        "webhook": webhook,
    }


# --- views -----------------------------------------------------------------------------------------
@org_required()
def triage(request):
    window = parse_window(request.GET.get("window"))
    show_reviewed = request.GET.get("reviewed") == "1"
    groups, hidden = build(request.org, window, show_reviewed=show_reviewed)
    by_kind = {k: [g for g in groups if g.kind == k] for k in ("call", "extraction", "webhook")}
    return render(request, "dashboard/triage.html", {
        "nav": "triage",
        "groups": groups,
        "by_kind": by_kind,
        "hidden": hidden,
        "window": window,
        "windows": WINDOW_LABELS.items(),
        "window_label": WINDOW_LABELS[window],
        "show_reviewed": show_reviewed,
        "can_act": request.membership.allows(Role.MEMBER),
        "totals": {k: sum(g.count for g in v) for k, v in by_kind.items()},
    })


def _back(request, window):
    return redirect(reverse("dashboard:triage") + f"?window={window}")


@require_POST
@org_required()
def triage_action(request):
    """One action on one group (all of it in the window) or on the rows ticked inside it."""
    require_role(request, Role.MEMBER)
    window = parse_window(request.POST.get("window"))
    kind, key, action = request.POST.get("kind", ""), request.POST.get("key", ""), request.POST.get("action", "")
    allowed = {"call": {"retry", "review"}, "extraction": {"rerun", "review"}, "webhook": {"redeliver", "review"}}
    if kind not in allowed or action not in allowed[kind] or not key or len(key) > 400:
        messages.error(request, "Unknown triage action.")
        return _back(request, window)
    prev_start, start, now = _bounds(window)
    ip = client_ip(request)
    actor = request.user
    if action == "review":
        mark_reviewed(request.org, kind, key, actor=actor)
        audit(request.org, "triage.reviewed", actor=actor, ip=ip, target=f"{kind}:{key}"[:200],
              detail={"window": window})
        messages.success(request, "Marked as reviewed. The group comes back if it happens again.")
        return _back(request, window)

    selected = [pid for pid in (parse_public_id(v) for v in request.POST.getlist("item")) if pid]
    if action in ("retry", "rerun"):
        qs = calls_for_key(request.org, key, start, now) if kind == "call" else \
            _extractions(request.org, start).filter(created_at__lt=now, cause=key)
        if selected:
            qs = qs.filter(public_id__in=selected)
        calls = list(qs.select_related("agent").order_by("-ended_at")[:ACTION_CAP])
        done, refused = _run_calls(request, action, calls)
        audit(request.org, f"triage.bulk_{action}", actor=actor, ip=ip, target=f"{kind}:{key}"[:200],
              detail={"window": window, "done": done, "refused": len(refused), "selected": len(selected)})
        verb = "Retried" if action == "retry" else "Re-ran extraction for"
        if done:
            messages.success(request, f"{verb} {done} call{'s' if done != 1 else ''}.")
        if refused:
            messages.error(request, f"{len(refused)} skipped: {refused[0]}" + (" (and others)" if len(refused) > 1
                                                                                else ""))
        if not done and not refused:
            messages.error(request, "Nothing to do: no matching calls in this window.")
        return _back(request, window)

    # redeliver
    from callops.webhooks import services as webhooks

    qs = deliveries_for_key(request.org, key, start, now)
    if selected:
        qs = qs.filter(public_id__in=selected)
    deliveries = list(qs.order_by("-id")[:ACTION_CAP])
    for d in deliveries:
        # One audit entry for the whole action (below), not one per delivery.
        webhooks.redeliver(d, None, trigger=Trigger.BULK)
    audit(request.org, "triage.bulk_redeliver", actor=actor, ip=ip, target=f"{kind}:{key}"[:200],
          detail={"window": window, "deliveries": len(deliveries), "selected": len(selected)})
    if deliveries:
        messages.success(request, f"Queued {len(deliveries)} redeliver{'ies' if len(deliveries) != 1 else 'y'}.")
    else:
        messages.error(request, "Nothing to redeliver: every delivery in this group has been delivered since.")
    return _back(request, window)


def _run_calls(request, action, calls):
    from callops.calls.services import CallActionError

    done, refused = 0, []
    label = request.user.get_username()
    rerun = None
    if action == "rerun":
        from callops.extraction.services import rerun
    for call in calls:
        try:
            if action == "retry":
                retry_call(call, EventSource.USER, label)
            else:
                rerun(call, source=EventSource.USER, actor_label=label)
            done += 1
        except (RetryRefused, CallActionError) as exc:
            refused.append(str(exc))
    return done, refused

