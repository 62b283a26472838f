"""Failed webhooks: endpoint health, failing deliveries with their attempts, redelivery, bulk recovery.

Every write goes through `callops.webhooks.services`; this module only reads and renders. Reads are
aggregate queries over the window, so the page costs the same number of queries whatever the
volume of deliveries.
"""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Count, F, Max, Q, Window
from django.db.models.functions import RowNumber
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from callops.accounts.decorators import acts_on, org_required
from callops.accounts.models import Role
from callops.accounts.tenancy import get_for_org, parse_public_id, scoped
from callops.lib import retention
from callops.triage.windows import WINDOW_LABELS, WINDOWS, parse_window
from callops.webhooks import events as webhook_events
from callops.webhooks import services as webhooks
from callops.webhooks.models import (
    DeliveryStatus,
    RecoveryJob,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

from .polling import stop_polling_if

LIST_CAP = 100
INLINE = "inline"  # the endpoint filter value for per-call and agent webhook URLs


# Request headers shown in full; every other one (custom headers carry auth tokens, the signature
# is derived from the secret) is masked.
SAFE_HEADERS = {"content-type", "user-agent", "webhook-id", "webhook-timestamp", "content-length"}


def mask(value) -> str:
    text = str(value)
    return (text[:4] + "…") if len(text) > 8 else "…"


def _failing_q():
    # Failed and skipped deliveries, plus pending ones whose last try failed (retries still due).
    return Q(status__in=[DeliveryStatus.FAILED, DeliveryStatus.SKIPPED]) | Q(
        status=DeliveryStatus.PENDING, attempt_count__gt=0)


# Below this share of successful attempts in the window the rate is shown in red, and an endpoint
# that is not failing right now is called Degraded rather than Healthy: the two never disagree.
HEALTHY_RATE = 0.95


def health_word(endpoint, rate) -> str:
    """One word for the State column: disabled, paused, failing (a failure streak now), degraded
    (delivering now, but below HEALTHY_RATE in the window), healthy, or idle (nothing was tried)."""
    if endpoint.state in ("disabled", "paused"):
        return endpoint.state
    if endpoint.failing_since:
        return "failing"
    if rate is None:
        return "idle"
    return "degraded" if rate < HEALTHY_RATE else "healthy"


def endpoint_health(org, since):
    """Per endpoint (and the inline-URL pseudo endpoint): attempts, success rate, last error."""
    endpoints = list(scoped(WebhookEndpoint, org).order_by("created_at", "id"))
    attempts = WebhookAttempt.objects.filter(delivery__organization=org, created_at__gte=since)
    stats = {row["delivery__endpoint_id"]: row for row in attempts.values("delivery__endpoint_id").annotate(
        total=Count("pk"), ok=Count("pk", filter=Q(succeeded=True)), last_at=Max("created_at")).order_by()}
    last_errors = {row["delivery__endpoint_id"]: row for row in attempts.filter(succeeded=False).annotate(
        rn=Window(RowNumber(), partition_by=[F("delivery__endpoint_id")], order_by=[F("created_at").desc(),
                                                                                   F("pk").desc()]))
        .filter(rn=1).values("delivery__endpoint_id", "error", "created_at")}
    failing = dict(WebhookDelivery.objects.filter(organization=org).filter(_failing_q())
                   .values("endpoint_id").annotate(n=Count("pk")).order_by().values_list("endpoint_id", "n"))
    rows = []
    for ep in [*endpoints, None]:
        pk = ep.pk if ep else None
        s = stats.get(pk, {})
        if ep is None and not s and not failing.get(None):
            continue  # no inline-URL traffic at all: leave the row out
        total, ok = s.get("total", 0), s.get("ok", 0)
        rate = (ok / total) if total else None
        rows.append({"endpoint": ep, "total": total, "ok": ok, "rate": rate, "low": rate is not None and rate < HEALTHY_RATE,
                     "state": health_word(ep, rate) if ep else "", "last_error": last_errors.get(pk),
                     "failing": failing.get(pk, 0)})
    return rows


def failing_deliveries(org, since, endpoint_filter: str):
    qs = (WebhookDelivery.objects.filter(organization=org, created_at__gte=since).filter(_failing_q())
          .select_related("endpoint", "event", "call"))
    if endpoint_filter == INLINE:
        qs = qs.filter(endpoint__isnull=True)
    elif endpoint_filter:
        pid = parse_public_id(endpoint_filter)
        qs = qs.filter(endpoint__public_id=pid) if pid else qs.none()
    rows = list(qs.order_by("-created_at", "-id")[:LIST_CAP + 1])
    groups: dict = {}
    for d in rows[:LIST_CAP]:
        groups.setdefault(d.endpoint_id, {"endpoint": d.endpoint, "url": d.url, "deliveries": []})
        groups[d.endpoint_id]["deliveries"].append(d)
    return list(groups.values()), len(rows) > LIST_CAP


def _recover_filters(request, source):
    """(filters for the webhooks service, errors, echo values for the form)."""
    errors = []
    window = parse_window(source.get("window"))
    endpoint_value = source.get("endpoint", "")
    endpoint = None
    if endpoint_value and endpoint_value != INLINE:
        endpoint = get_for_org(WebhookEndpoint, request.org, endpoint_value, label="endpoint")
    event_type, status = source.get("event_type", ""), source.get("status", "")
    try:
        event_type, status = webhooks.clean_recovery_filters(event_type=event_type, delivery_status=status)
    except webhooks.WebhookInputError as exc:
        errors.append(exc.message)
        event_type, status = "", ""
    filters = {"since": timezone.now() - WINDOWS[window], "endpoint": endpoint,
               "inline_only": endpoint_value == INLINE, "event_type": event_type, "delivery_status": status}
    return filters, errors, {"window": window, "endpoint": endpoint_value, "event_type": event_type, "status": status}


def _count(org, filters) -> dict[str, int]:
    return webhooks.count_recoverable_by_kind(org, **filters)


@org_required()
def failed_webhooks(request):
    window = parse_window(request.GET.get("window"))
    since = timezone.now() - WINDOWS[window]
    endpoint_filter = request.GET.get("endpoint", "")
    groups, capped = failing_deliveries(request.org, since, endpoint_filter)
    progress = {}
    rid = request.GET.get("recovery")
    if rid:
        progress = _progress(get_for_org(RecoveryJob, request.org, rid, label="recovery"))
    preview = None
    recover_values = {"window": window, "endpoint": endpoint_filter, "event_type": "", "status": ""}
    if request.GET.get("preview"):
        filters, errors, recover_values = _recover_filters(request, request.GET)
        if errors:
            messages.error(request, "; ".join(errors))
        else:
            by_kind = _count(request.org, filters)
            preview = {"total": sum(by_kind.values()), **by_kind}
    return render(request, "dashboard/webhooks.html", {
        "nav": "webhooks",
        "window": window,
        "windows": WINDOW_LABELS.items(),
        "window_label": WINDOW_LABELS[window],
        "health": endpoint_health(request.org, since),
        "groups": groups,
        "capped": capped,
        "endpoints": scoped(WebhookEndpoint, request.org).order_by("created_at").values_list("public_id", "url"),
        "endpoint_filter": endpoint_filter,
        "event_types": webhook_events.EVENT_TYPES,
        **progress,
        "preview": preview,
        "recover": recover_values,
        "can_act": request.membership.allows(Role.MEMBER),
        "can_admin": request.membership.allows(Role.ADMIN),
        "list_cap": LIST_CAP,
    })


@org_required()
@acts_on(WebhookDelivery.objects.select_related("event", "endpoint"), "delivery_id", label="delivery")
def delivery_attempts(request, delivery):
    """The attempts of one delivery: request, response, error and duration (loaded on expand)."""
    attempts = list(delivery.attempts.order_by("-number", "-id")[:20])
    for a in attempts:
        a.shown_headers = [(k, v if k.lower() in SAFE_HEADERS else mask(v)) for k, v in
                           (a.request_headers or {}).items()]
    # An attempt's request body is never empty when sent: "" is what retention leaves of an old one.
    return render(request, "dashboard/webhooks.html#attempts", {"delivery": delivery, "attempts": attempts,
                                                                "retention_days": retention.retention_days()})


@require_POST
@org_required()
@acts_on(WebhookDelivery, "delivery_id", label="delivery", role=Role.MEMBER)
def delivery_redeliver(request, delivery):
    webhooks.redeliver(delivery, actor=request.user)
    messages.success(request, "Redelivery queued; the new attempt appears below in a moment.")
    return redirect(reverse("dashboard:webhooks") + f"#d-{delivery.public_id}")


@require_POST
@org_required(Role.MEMBER)
@acts_on()
def recover(request):
    """Start a bulk recovery (the count was shown first by the preview step)."""
    filters, errors, values = _recover_filters(request, request.POST)
    if errors:
        messages.error(request, "; ".join(errors))
        return redirect("dashboard:webhooks")
    job = webhooks.start_recovery(request.org, actor=request.user, **filters)
    return redirect(reverse("dashboard:webhooks") + f"?window={values['window']}&recovery={job.public_id}#recovery")


@org_required()
@acts_on(RecoveryJob, "recovery_id", label="recovery")
def recovery_progress(request, recovery):
    ctx = _progress(recovery)
    response = render(request, "dashboard/webhooks.html#progress", ctx)
    if not ctx["polling"] and request.htmx:
        # Finished: reload the page once so health and the failing list show the outcome too (the
        # reloaded page renders the finished bar without polling, so this happens once).
        response["HX-Refresh"] = "true"
    return stop_polling_if(not ctx["polling"], response)


def _progress(job) -> dict:
    """The progress fragment's context; it keeps polling until every marked delivery was re-sent."""
    done = job.status in (RecoveryJob.Status.DONE, RecoveryJob.Status.FAILED)
    outcome = {"delivered": job.delivered, "failed": job.failed_again, "waiting": job.waiting}
    return {"recovery": job, "delivered": outcome if (done or job.done) else None, "polling": not done}


@require_POST
@org_required()
@acts_on(WebhookEndpoint, "endpoint_id", label="endpoint", role=Role.ADMIN)
def endpoint_state(request, endpoint):
    """Re-enable, disable, pause or resume an endpoint (admins)."""
    action = request.POST.get("action")
    if action == "enable":
        webhooks.set_enabled(endpoint, True, actor=request.user)
        messages.success(request, f"{endpoint.url} re-enabled. Skipped deliveries can be recovered below.")
    elif action == "disable":
        webhooks.set_enabled(endpoint, False, actor=request.user, reason=f"disabled by {request.user}")
        messages.success(request, f"{endpoint.url} disabled.")
    elif action in ("pause", "resume"):
        webhooks.set_paused(endpoint, action == "pause", actor=request.user)
        messages.success(request, f"{endpoint.url} {'paused' if action == 'pause' else 'resumed'}.")
    else:
        messages.error(request, "Unknown endpoint action.")
    return redirect(request.POST.get("next") if request.POST.get("next") in (
        reverse("dashboard:webhooks"), reverse("dashboard:endpoints")) else reverse("dashboard:webhooks"))
