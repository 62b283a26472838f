"""Batch pages: list, create (upload or paste) with a preview, live progress, recipients, exports."""

import csv

from django.contrib import messages
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from callops.accounts.decorators import org_required
from callops.accounts.models import Role
from callops.accounts.tenancy import get_for_org, scoped
from callops.calls import batch_csv, batches
from callops.calls.models import Agent, Batch, BatchRecipient, BatchStatus, RecipientState
from callops.calls.validation import ValidationFailed

from .views import stop_polling_if

PAGE = 100
CSV_CHUNK = 2000


def _get_batch(request, public_id) -> Batch:
    return get_for_org(Batch.objects.select_related("agent"), request.org, public_id, label="batch")


def _actor(request) -> str:
    return request.user.get_username()


@org_required()
def batch_list(request):
    rows = list(scoped(Batch, request.org).select_related("agent").order_by("-created_at", "-id")[:200])
    return render(request, "dashboard/batches.html", {"nav": "batches", "batches": rows,
                                                       "can_act": request.membership.allows(Role.MEMBER)})


@org_required(Role.MEMBER)
def batch_new(request):
    agents = list(scoped(Agent, request.org).filter(is_active=True).select_related("provider_account"))
    values = request.POST if request.method == "POST" else {"calls_per_minute": "60", "max_concurrency": "10",
                                                             "max_attempts": "1", "retry_intervals": "300",
                                                             "timezone": "UTC"}
    errors: dict[str, str] = {}
    if request.method == "POST":
        agent = next((a for a in agents if str(a.public_id) == request.POST.get("agent_id")), None)
        if agent is None:
            errors["agent_id"] = "choose one of your agents"
        data = {k: request.POST.get(k) for k in request.POST}
        data["window_days"] = request.POST.getlist("window_days")
        data["retry_on"] = request.POST.getlist("retry_on")
        try:
            clean = batches.clean_settings(data, agent=agent)
        except ValidationFailed as exc:
            errors.update(exc.fields)
        table = None
        upload = request.FILES.get("file")
        pasted = request.POST.get("pasted", "")
        try:
            if upload is not None:
                table = batch_csv.read_csv(upload.file, phone_column=data.get("phone_column") or None)
            elif pasted.strip():
                table = batch_csv.read_pasted(pasted, phone_column=data.get("phone_column") or None)
            else:
                errors["file"] = "upload a CSV file or paste a list of numbers"
        except batch_csv.CsvError as exc:
            errors["file"] = str(exc)
        if not errors:
            try:
                batch = batches.create_batch(org=request.org, agent=agent, settings=clean, rows=table.rows,
                                             columns=table.columns, phone_column=table.phone_column,
                                             created_by=_actor(request), start=False)
            except batch_csv.CsvError as exc:
                errors["file"] = str(exc)
            else:
                return redirect("dashboard:batch_detail", public_id=batch.public_id)
    return render(request, "dashboard/batches_new.html", {"nav": "batches", "agents": agents, "v": values,
                                                           "errors": errors, "weekdays": WEEKDAYS,
                                                           "retry_options": list(batches.RETRYABLE),
                                                           "days": [str(d) for d in (request.POST.getlist(
                                                               "window_days") if request.method == "POST" else [])],
                                                           "retry_on": request.POST.getlist("retry_on")
                                                           if request.method == "POST" else ["no_answer", "busy"]})


WEEKDAYS = [("1", "Mon"), ("2", "Tue"), ("3", "Wed"), ("4", "Thu"), ("5", "Fri"), ("6", "Sat"), ("7", "Sun")]


def _detail_context(request, batch):
    outcome = request.GET.get("outcome", "")
    state = request.GET.get("state", "")
    recipients = BatchRecipient.objects.filter(batch=batch).select_related("last_call").order_by("row_number")
    if outcome:
        recipients = recipients.filter(outcome=outcome)
    if state in RecipientState.values:
        recipients = recipients.filter(state=state)
    after = request.GET.get("after", "")
    if after.isdigit():
        recipients = recipients.filter(row_number__gt=int(after))
    rows = list(recipients[:PAGE + 1])
    next_after = rows[PAGE - 1].row_number if len(rows) > PAGE else None
    return {
        "nav": "batches", "batch": batch, "progress": batches.progress(batch),
        "recipients": rows[:PAGE], "next_after": next_after, "outcome": outcome, "state": state,
        "rejections": list(batch.rejections.order_by("row_number")[:50]) if batch.rejected_count else [],
        "can_act": request.membership.allows(Role.MEMBER),
        "live": batch.status in (BatchStatus.RUNNING, BatchStatus.SCHEDULED, BatchStatus.PAUSED)
        or (batch.status == BatchStatus.STOPPED and not batch.finished_at),
        "states": RecipientState.choices, "outcomes": ["completed", "no_answer", "busy", "failed", "canceled"],
        "redial_outcomes": batches.REDIAL_OUTCOMES,
    }


@org_required()
def batch_detail(request, public_id):
    batch = _get_batch(request, public_id)
    return render(request, "dashboard/batches_detail.html", _detail_context(request, batch))


@org_required()
def batch_live(request, public_id):
    """The progress fragment, polled every 2 s; HTTP 286 stops the polling once the batch is over."""
    batch = _get_batch(request, public_id)
    context = _detail_context(request, batch)
    response = render(request, "dashboard/batches_detail.html#progress", context)
    return stop_polling_if(not context["live"], response)


ACTIONS = {
    "start": lambda b, r: batches.start_batch(b),
    "pause": lambda b, r: batches.pause_batch(b, by=_actor(r)),
    "resume": lambda b, r: batches.resume_batch(b),
    "stop": lambda b, r: batches.stop_batch(b, by=_actor(r)),
}


@require_POST
@org_required(Role.MEMBER)
def batch_action(request, public_id, action):
    batch = _get_batch(request, public_id)
    if action == "redial":
        try:
            new = batches.redial(batch, outcomes=request.POST.getlist("outcomes"), created_by=_actor(request),
                                 start=False)
        except batches.BatchActionError as exc:
            messages.error(request, str(exc))
            return redirect("dashboard:batch_detail", public_id=batch.public_id)
        messages.success(request, f"New batch of {new.recipient_count} recipients; review it and start it.")
        return redirect("dashboard:batch_detail", public_id=new.public_id)
    func = ACTIONS.get(action)
    if func is None:
        messages.error(request, f"unknown action {action!r}")
    else:
        try:
            func(batch, request)
            messages.success(request, f"Batch {action} done.")
        except batches.BatchActionError as exc:
            messages.error(request, str(exc))
    return redirect(reverse("dashboard:batch_detail", args=[batch.public_id]))


class _Echo:
    def write(self, value):
        return value


def _stream_csv(header, rows):
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([batch_csv._safe(v) for v in row])


@org_required()
def batch_export(request, public_id):
    """Every recipient's outcome, its last attempt and the extracted fields, streamed."""
    batch = _get_batch(request, public_id)
    qs = BatchRecipient.objects.filter(batch=batch).order_by("row_number").values_list(
        "row_number", "phone", "state", "outcome", "attempts", "context", "last_call__public_id",
        "last_call__status", "last_call__duration_seconds", "last_call__result", "last_call__provider_result")
    # Extracted field names come from the agent's returns schema, so every row has the same columns.
    result_fields = sorted((batch.agent.returns or {}).keys())
    columns = batch.columns or []
    context_columns = [c for c in columns if c != batch.phone_column]

    def rows():
        for r in qs.iterator(chunk_size=CSV_CHUNK):
            result = r[9] or r[10] or {}
            result = result if isinstance(result, dict) else {}
            context = r[5] or {}
            yield [r[0], r[1], r[2], r[3], r[4], r[6] or "", r[7] or "", r[8] if r[8] is not None else "",
                   *[context.get(c, "") for c in context_columns], *[_cell(result.get(f)) for f in result_fields]]

    header = ["row", "phone", "state", "outcome", "attempts", "last_call_id", "last_call_status",
              "duration_seconds", *context_columns, *[f"result.{f}" for f in result_fields]]
    response = StreamingHttpResponse(_stream_csv(header, rows()), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="batch-{batch.public_id}-outcomes.csv"'
    response["Cache-Control"] = "no-store"
    return response


def _cell(value):
    if isinstance(value, (dict, list)):
        import json

        return json.dumps(value, separators=(",", ":"))
    return "" if value is None else value


@org_required()
def batch_rejected(request, public_id):
    batch = _get_batch(request, public_id)
    rows = batch.rejections.order_by("row_number").values("row_number", "reason", "row").iterator(chunk_size=CSV_CHUNK)
    response = StreamingHttpResponse(batch_csv.rejections_csv(rows, batch.columns or ["phone"]),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="batch-{batch.public_id}-rejected.csv"'
    response["Cache-Control"] = "no-store"
    return response

