"""Calls list (filters in the URL, keyset pages, live rows, CSV export) and the call detail page."""

import csv
import json

from django.contrib import messages
from django.db.models import BooleanField, ExpressionWrapper, Prefetch, Q
from django.http import Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_htmx.http import push_url

from callops.accounts.decorators import org_required, require_role
from callops.accounts.models import Role
from callops.accounts.tenancy import get_for_org, parse_public_id, scoped
from callops.batches.models import Batch
from callops.calls import results as extraction
from callops.calls.models import (
    Agent,
    AnsweredBy,
    Call,
    CallStatus,
    EventSource,
    ResultStatus,
    WebhookStatus,
)
from callops.calls.services import CallActionError, cancel_call
from callops.lib import retention
from callops.providers.models import ProviderKind
from callops.webhooks import services as webhooks
from callops.webhooks.models import WebhookAttempt, WebhookDelivery

from . import call_filters
from .polling import stop_polling_if
from .tz import user_tz

CSV_CHUNK = 2000


def _actor(request) -> str:
    return request.user.get_username()


def _get_call(request, public_id, queryset=None) -> Call:
    """The org's call with this public id, else 404 (as get_for_org, which it mirrors).

    The batch is not joined (most calls have none, and its forty columns would be read and
    converted for nothing), and a unique lookup is a plain get() rather than first(), which would
    add an ORDER BY and a second queryset clone.
    """
    pid = parse_public_id(public_id)
    if pid is None:
        raise Http404(f"call {public_id} not found")
    qs = queryset if queryset is not None else Call.objects.select_related("agent", "provider_account")
    try:
        return scoped(qs, request.org).get(public_id=pid)
    except Call.DoesNotExist:
        raise Http404(f"call {public_id} not found") from None


# The detail page and its live poll: every column of the call, but of its agent and provider
# account only the names the page prints (the join would otherwise bring the agent's
# instructions and returns schema and the account's encrypted credentials).
_DETAIL_COLUMNS = (*(f.name for f in Call._meta.concrete_fields), "agent__name", "provider_account__name")


def _call_for_page(request, public_id) -> Call:
    call = _get_call(request, public_id, Call.objects.select_related("agent", "provider_account")
                     .only(*_DETAIL_COLUMNS))
    call.organization = request.org  # already loaded: spares a query for anything that asks
    return call


def _timeline(call) -> list:
    # The timeline rows without their payloads (provider bodies can be large; a panel fetches its
    # own when opened), each marked with whether it has one.
    return list(call.events.defer("payload").annotate(
        has_payload=ExpressionWrapper(Q(payload__isnull=False), output_field=BooleanField())))


# What the detail page shows of each delivery and attempt: attempts keep the request and response
# bodies and headers and events their whole JSON body, none of which is on this page (the webhooks
# page shows an attempt in full).
_DELIVERY_COLUMNS = ("id", "public_id", "status", "url", "attempt_count", "created_at", "event__type")
_ATTEMPT_COLUMNS = ("delivery", "number", "trigger", "created_at", "response_status", "error_kind", "error",
                    "duration_ms", "succeeded")


def _deliveries(call) -> list:
    """The call's webhook deliveries, oldest first, with their event type and attempts (two queries)."""
    attempts = WebhookAttempt.objects.only(*_ATTEMPT_COLUMNS).order_by("number", "id")
    return list(WebhookDelivery.objects.filter(call=call).select_related("event").only(*_DELIVERY_COLUMNS)
                .prefetch_related(Prefetch("attempts", queryset=attempts)).order_by("created_at", "id"))


def _batch_link(call):
    """(public id, label) of the call's batch, or None."""
    if not call.batch_id:
        return None
    row = Batch.objects.filter(pk=call.batch_id).values_list("public_id", "name").first()
    return (row[0], row[1] or str(row[0])) if row else None


def _list_url(params) -> str:
    """The calls list URL for these filters, without empty fields: what the address bar shows after
    a filter changes, so a copied URL opens the same list."""
    clean = params.copy()
    for key in list(clean.keys()):
        values = [v for v in clean.getlist(key) if v.strip()]
        if values:
            clean.setlist(key, values)
        else:
            del clean[key]
    return reverse("dashboard:calls") + ("?" + clean.urlencode() if clean else "")


@org_required()
def call_list(request):
    tz = user_tz(request)
    f = call_filters.parse_filters(request.GET)
    qs = call_filters.filtered_calls(request.org, f, tz)
    after = call_filters.decode_cursor(request.GET.get("after", ""))
    before = None if after else call_filters.decode_cursor(request.GET.get("before", ""))
    oldest = not (after or before) and request.GET.get("page") == "oldest"
    page = call_filters.page(qs.select_related("agent"), after=after, before=before, oldest=oldest)
    count, capped = call_filters.capped_count(qs)
    params = request.GET.copy()
    for key in ("after", "before", "page"):
        params.pop(key, None)
    here = _list_url(params)
    join = "&" if "?" in here else "?"
    rows = page.rows
    first = 1
    first_capped = False
    if page.newer and rows:
        newer, first_capped = call_filters.rows_newer_than(qs, rows[0])
        first = newer + 1
    nav = {
        "newest": here if page.newer else "",
        "newer": f"{here}{join}before={call_filters.encode_cursor(rows[0])}" if page.newer and rows else "",
        "older": f"{here}{join}after={call_filters.encode_cursor(rows[-1])}" if page.older and rows else "",
        "oldest": f"{here}{join}page=oldest" if page.older else "",
    }
    context = {
        "nav": "calls",
        "calls": rows,
        "f": f,
        "count": count,
        "capped": capped,
        "first": first,
        "last": first + len(rows) - 1,
        "first_capped": first_capped,
        "pages": nav,
        "export_url": reverse("dashboard:calls_export") + here[len(reverse("dashboard:calls")):],
        "statuses": CallStatus.choices,
        "providers": ProviderKind.choices,
        "agents": list(scoped(Agent, request.org).order_by("name").values_list("public_id", "name")[:200]),
        "batches": list(scoped(Batch, request.org).order_by("-created_at").values_list("public_id", "name")[:100]),
        "answered_by_choices": AnsweredBy.choices,
        "result_choices": [*ResultStatus.choices, ("none", "None")],
        "webhook_choices": [*WebhookStatus.choices, ("none", "None")],
    }
    if request.htmx and not request.htmx.history_restore_request:
        # A filter changed: the results and the export link, and the address bar shows the clean URL.
        response = render(request, "dashboard/calls/list.html#results", {**context, "oob": True})
        return push_url(response, here)
    return render(request, "dashboard/calls/list.html", context)


@org_required()
def call_row(request, public_id):
    """One list row, polled while the call is live; 286 once it is terminal."""
    call = _get_call(request, public_id)
    response = render(request, "dashboard/calls/list.html#row", {"call": call})
    return stop_polling_if(call.is_terminal, response)


class _Echo:
    """A file-like object whose write returns the line, so csv.writer can feed a generator."""

    def write(self, value):
        return value


CSV_COLUMNS = [
    ("id", "public_id"), ("created_at", "created_at"), ("status", "status"), ("to", "to_number"),
    ("from", "from_number"), ("agent", "agent__name"), ("provider", "provider"),
    ("provider_call_id", "provider_call_id"), ("provider_status", "provider_status"),
    ("answered_by", "answered_by"), ("duration_seconds", "duration_seconds"), ("started_at", "started_at"),
    ("answered_at", "answered_at"), ("ended_at", "ended_at"), ("result_status", "result_status"),
    ("webhook_status", "webhook_status"), ("error_code", "error_code"), ("error_message", "error_message"),
    ("hangup_cause", "hangup_cause"), ("batch_id", "batch__public_id"),
]
# Cells a spreadsheet would run as a formula; free-text columns get a leading quote.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_SAFE_COLUMNS = {"to_number", "from_number", "created_at", "started_at", "answered_at", "ended_at"}


def _cell(field, value):
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    text = str(value)
    if field not in _SAFE_COLUMNS and text.startswith(_FORMULA_START):
        return "'" + text
    return text


# JSON columns: written as compact JSON, so a spreadsheet or a script reads them back unchanged.
CSV_JSON_COLUMNS = [("result", "result"), ("result_error", "result_error"), ("context", "context"),
                    ("metadata", "metadata")]


def _json_cell(value) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        return _cell("result_error", value)
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    return _cell("json", text)


def _result_cell(value) -> str:
    """One `returns` field's value: text and numbers as they are, lists and objects as JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return _cell("json", json.dumps(value, separators=(",", ":"), ensure_ascii=False))
    return _cell("result", value)


def _csv_rows(qs, result_fields: list[str]):
    """The export: the call columns, its result, context and metadata as JSON, then, when the export
    is one agent's calls, one `result.<field>` column per field its `returns` declares."""
    writer = csv.writer(_Echo())
    yield writer.writerow([name for name, _ in CSV_COLUMNS] + [name for name, _ in CSV_JSON_COLUMNS]
                          + [f"result.{name}" for name in result_fields])
    fields = [f for _, f in CSV_COLUMNS]
    json_fields = [f for _, f in CSV_JSON_COLUMNS]
    # iterator(chunk_size) streams rows with a server-side cursor on PostgreSQL: memory stays flat
    # whatever the size of the export.
    for row in qs.values_list(*fields, *json_fields).iterator(chunk_size=CSV_CHUNK):
        plain, extra = row[:len(fields)], row[len(fields):]
        result = extra[0] if isinstance(extra[0], dict) else {}
        yield writer.writerow([_cell(f, v) for f, v in zip(fields, plain, strict=True)]
                              + [_json_cell(v) for v in extra]
                              + [_result_cell(result.get(name)) for name in result_fields])


def _export_result_fields(org, f: call_filters.CallFilters) -> list[str]:
    """The `returns` fields of the agent the export is filtered to (none when it is not one agent's)."""
    pid = parse_public_id(f.agent) if f.agent else None
    agent = scoped(Agent, org).filter(public_id=pid).only("returns").first() if pid else None
    # Sorted by name: PostgreSQL's jsonb does not keep the order the fields were declared in.
    return sorted(agent.returns) if agent and isinstance(agent.returns, dict) else []


@org_required()
def call_export(request):
    f = call_filters.parse_filters(request.GET)
    qs = call_filters.filtered_calls(request.org, f, user_tz(request))
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(_csv_rows(qs, _export_result_fields(request.org, f)),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="calls-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response


def _still_changing(call, deliveries) -> bool:
    if not call.is_terminal or call.result_status == ResultStatus.PENDING:
        return True
    if call.webhook_status == WebhookStatus.PENDING:
        return True
    return False


def _detail_context(request, call):
    # Payloads are not read here: the timeline only marks which events have one, and a payload
    # panel fetches its body when opened (call_payload).
    events = _timeline(call)
    payload_events = [e for e in events if e.has_payload]
    deliveries = _deliveries(call)
    can_act = request.membership.allows(Role.MEMBER)
    return {
        "nav": "calls",
        "call": call,
        "batch_link": _batch_link(call),
        "events": events,
        "payload_events": payload_events,
        "payloads_url": reverse("dashboard:call_payloads", args=[call.public_id]),
        "last_payload_id": payload_events[-1].id if payload_events else 0,
        "deliveries": deliveries,
        "can_act": can_act,
        "can_rerun": can_act and bool(call.returns) and call.status == CallStatus.COMPLETED
        and call.result_status != ResultStatus.PENDING,
        "live": _still_changing(call, deliveries),
        "oob": False,  # set by the live poll's out-of-band parts; a missing name costs an exception
    }


@org_required()
def call_detail(request, public_id):
    call = _call_for_page(request, public_id)
    return render(request, "dashboard/calls/detail.html", _detail_context(request, call))


@org_required()
def call_live(request, public_id):
    """The live parts of the detail page, polled while the call can still change.

    The polled element holds the timeline, transcript, summary, result and deliveries; the title
    (with the status) and the cancel button are swapped out of band, the call id and its copy
    button are left alone; payloads that arrived since the last
    poll (`payloads_after`) are appended out of band to the payload list, so a payload panel the
    reader opened stays open.
    """
    call = _call_for_page(request, public_id)
    ctx = _detail_context(request, call)
    after = request.GET.get("payloads_after", "")
    seen = int(after) if after.isdigit() else None
    parts = [render_to_string("dashboard/calls/detail.html#live", ctx, request),
             render_to_string("dashboard/calls/detail.html#title", {**ctx, "oob": True}, request),
             render_to_string("dashboard/calls/detail.html#actions", {**ctx, "oob": True}, request)]
    new = [e for e in ctx["payload_events"] if seen is not None and e.id > seen]
    if new:
        items = render_to_string("dashboard/calls/detail.html#payload_items", {**ctx, "payload_events": new}, request)
        parts.append(f'<div hx-swap-oob="beforeend:#payload-list">{items}</div>')
        if seen == 0:  # the page said "no payloads yet"
            parts.append('<p id="payloads-empty" hx-swap-oob="delete"></p>')
    response = HttpResponse("".join(parts))
    return stop_polling_if(not ctx["live"], response)


@org_required()
def call_payload(request, public_id, event_id):
    """One timeline event's raw provider payload, pretty-printed, for its panel on the detail page."""
    call = _get_call(request, public_id)
    payload = call.events.filter(pk=event_id, payload__isnull=False).values_list("payload", flat=True).first()
    if payload is None:
        raise Http404("no such payload on this call")
    # {} is what retention leaves of an old payload: say so rather than show an empty object.
    days = retention.retention_days()
    return render(request, "dashboard/calls/detail.html#payload_body",
                  {"payload": payload, "removed_after_days": days if payload == {} and days else 0})


@org_required()
def call_payloads(request, public_id):
    """Every raw provider payload on the call's timeline, as JSON (attachment with ?download=1)."""
    call = _get_call(request, public_id)
    events = call.events.filter(payload__isnull=False).values("id", "created_at", "kind", "source", "status",
                                                      "raw_status", "ignored", "payload")
    body = {"call_id": str(call.public_id), "provider": call.provider, "provider_call_id": call.provider_call_id,
            "events": [{**e, "created_at": e["created_at"].isoformat()} for e in events]}
    response = JsonResponse(body, json_dumps_params={"indent": 2})
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="call-{call.public_id}-payloads.json"'
    return response


@require_POST
@org_required()
def call_cancel(request, public_id):
    call = _get_call(request, public_id)
    require_role(request, Role.MEMBER)
    try:
        cancel_call(call, source=EventSource.USER, actor_label=_actor(request))
    except CallActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Call canceled.")
    return redirect("dashboard:call_detail", public_id=call.public_id)


@require_POST
@org_required()
def call_rerun_extraction(request, public_id):
    call = _get_call(request, public_id)
    require_role(request, Role.MEMBER)
    if not call.returns:
        messages.error(request, "This call has no returns schema, so there is nothing to extract.")
    else:
        try:
            extraction.rerun(call, source=EventSource.USER, actor_label=_actor(request))
        except (CallActionError, ValueError) as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, "Extraction re-run started.")
    return redirect("dashboard:call_detail", public_id=call.public_id)


@require_POST
@org_required()
def delivery_redeliver(request, public_id, delivery_id):
    call = _get_call(request, public_id)
    require_role(request, Role.MEMBER)
    delivery = get_for_org(WebhookDelivery.objects.filter(call=call), request.org, delivery_id, label="delivery")
    try:
        webhooks.redeliver(delivery, actor=request.user)
    except (CallActionError, ValueError) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Redelivery queued.")
    return redirect("dashboard:call_detail", public_id=call.public_id)

