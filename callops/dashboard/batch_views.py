"""Batch pages: list, create in two steps (upload or paste, then preview and settings), live
progress, recipients, exports."""

import csv
import json
from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib import messages
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from callops.accounts.decorators import org_required
from callops.accounts.models import Role
from callops.accounts.tenancy import get_for_org, scoped
from callops.batches import recipient_lists, recipient_validation, services
from callops.batches.batch_settings import RETRYABLE, clean_settings, supports_provider_batches
from callops.batches.models import Batch, BatchRecipient, BatchStatus, RecipientState
from callops.batches.progress import progress
from callops.calls.models import Agent, RoutingProfile
from callops.calls.validation import ValidationFailed
from callops.rules import suppressions

from . import batch_drafts
from .polling import stop_polling_if
from .tz import tz_choices, user_tz

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
    """Step 1: the list (a CSV file or pasted numbers). Nothing is validated against settings yet;
    the list is kept as a draft and step 2 (batch_preview) shows what is in it."""
    errors: dict[str, str] = {}
    if request.method == "POST":
        upload = request.FILES.get("file")
        pasted = request.POST.get("pasted", "")
        try:
            if upload is not None:
                if upload.size > batch_drafts.max_bytes():
                    raise batch_drafts.DraftTooLarge(f"the file is {upload.size // (1024 * 1024)} MB; at most "
                                                     f"{batch_drafts.max_bytes() // (1024 * 1024)} MB")
                token = batch_drafts.save(request, data=upload.read(), filename=upload.name or "upload.csv",
                                          pasted=False)
            elif pasted.strip():
                token = batch_drafts.save(request, data=pasted.encode("utf-8"), filename="pasted list", pasted=True)
            else:
                errors["file"] = "upload a CSV file or paste a list of numbers"
        except batch_drafts.DraftTooLarge as exc:
            errors["file"] = str(exc)
        if not errors:
            problem = _whole_list_problem(batch_drafts.load(request, token))
            if not problem:
                return redirect("dashboard:batch_preview", token=token)
            batch_drafts.discard(request, token)
            errors["file"] = problem
    return render(request, "dashboard/batches_new.html", {"nav": "batches", "step": "upload", "errors": errors,
                                                           "v": request.POST if request.method == "POST" else {}},
                  status=400 if errors else 200)


NO_ROWS = "the list has a header but no rows: add one row for each number to call"


def _whole_list_problem(draft) -> str:
    """Why this list can make no batch whatever step 2's choices (not a CSV, no rows), or "".

    Step 1 says so itself, instead of a step 2 offering Start for nothing. A phone column that
    could not be guessed is step 2's question, so it is no problem here.
    """
    try:
        table = batch_drafts.table(draft, None)
    except recipient_lists.CsvError as exc:
        return "" if exc.columns else str(exc)
    return NO_ROWS if next(iter(table.rows), None) is None else ""


WEEKDAYS = [("1", "Mon"), ("2", "Tue"), ("3", "Wed"), ("4", "Thu"), ("5", "Fri"), ("6", "Sat"), ("7", "Sun")]
# Settings posted as lists (checkboxes); the rest are single values passed to clean_settings as is.
LIST_FIELDS = ("window_days", "retry_on")
SETTING_FIELDS = ("name", "default_country", "timezone", "window_start_hour", "window_end_hour", "max_concurrency",
                  "calls_per_minute", "max_attempts", "retry_intervals", "breaker_threshold", "breaker_min_calls",
                  "breaker_window_seconds", "mode")
# Every field the form shows an error beside; anything else clean_settings reports is listed on top.
FORM_FIELDS = ("agent_id", "routing_profile_id", "file", "phone_column", "start_at", "start_tz", "window", "window_days", "retry_on",
               *SETTING_FIELDS)


def _start_at(post, errors) -> str:
    """The datetime-local value read in the chosen zone, as ISO 8601 with its offset ("" = on start)."""
    raw = post.get("start_at", "").strip()
    if not raw:
        return ""
    zone_name = post.get("start_tz") or "UTC"
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        errors["start_tz"] = f"{zone_name!r} is not a time zone"
        return ""
    try:
        local = datetime.fromisoformat(raw)
    except ValueError:
        errors["start_at"] = f"{raw!r} is not a date and time"
        return ""
    if local.tzinfo is None:
        local = local.replace(tzinfo=zone)
    return local.isoformat()


@org_required(Role.MEMBER)
def batch_preview(request, token):
    """Step 2: the draft's columns (pick the phone column), valid and rejected rows with reasons,
    and the settings; confirming stores the batch and starts it (or keeps it to start later)."""
    draft = batch_drafts.load(request, token)
    agents = list(scoped(Agent, request.org).filter(is_active=True).select_related("provider_account")
                  .order_by("name"))
    profiles = list(scoped(RoutingProfile, request.org).order_by("name"))
    reader_zone = getattr(user_tz(request), "key", "UTC")
    post = request.POST if request.method == "POST" else None
    source = post if post is not None else request.GET
    phone_column = source.get("phone_column") or None
    region = (source.get("default_country") or "").strip().upper()
    errors: dict[str, str] = {}
    preview = None
    try:
        preview = batch_drafts.preview(request, token, draft, phone_column, region if len(region) == 2 else "")
    except recipient_lists.CsvError as exc:
        errors["phone_column" if exc.columns else "file"] = str(exc)
    empty = preview is not None and preview["total_rows"] == 0
    if empty:
        errors["file"] = NO_ROWS
    action = post.get("action", "") if post is not None else ""
    if post is not None and action in ("start", "hold") and preview is not None and not empty:
        agent = next((a for a in agents if str(a.public_id) == post.get("agent_id")), None)
        if agent is None:
            errors["agent_id"] = "choose one of your agents"
        profile = next((p for p in profiles if str(p.public_id) == post.get("routing_profile_id")), None)
        if post.get("routing_profile_id") and profile is None:
            errors["routing_profile_id"] = "choose one of your routing profiles"
        elif profile is not None and post.get("mode") == "provider":
            errors["routing_profile_id"] = "a provider-run batch dials through one agent; choose no routing profile"
        data = {k: post.get(k) for k in SETTING_FIELDS}
        data.update({k: post.getlist(k) for k in LIST_FIELDS})
        data["start_at"] = _start_at(post, errors)
        try:
            clean = clean_settings(data, agent=agent, org=request.org)
        except ValidationFailed as exc:
            errors.update({k: v for k, v in exc.fields.items() if k not in errors})
        if not errors:
            table = batch_drafts.table(draft, preview["phone_column"])
            try:
                batch = services.create_batch(org=request.org, agent=agent, settings=clean, rows=table.rows,
                                             columns=table.columns, phone_column=table.phone_column,
                                             created_by=_actor(request), start=action == "start",
                                             routing_profile=profile)
            except recipient_lists.CsvError as exc:
                errors["file"] = str(exc)
            else:
                batch_drafts.discard(request, token)
                verb = {"running": "started", "scheduled": "scheduled"}.get(batch.status, "saved; start it when ready")
                messages.success(request, f"Batch of {batch.recipient_count} recipients {verb}.")
                return redirect("dashboard:batch_detail", public_id=batch.public_id)
    if post is not None:
        values = post
        days, retry_on = post.getlist("window_days"), post.getlist("retry_on")
    else:
        values = {"timezone": reader_zone, "start_tz": reader_zone, "max_attempts": "1", "retry_intervals": "300",
                  "default_country": region, "name": draft["filename"].rsplit(".", 1)[0][:200]
                  if not draft["pasted"] else ""}
        days, retry_on = [], ["no_answer", "busy"]
    columns = preview["columns"] if preview else batch_drafts.columns(draft)
    return render(request, "dashboard/batches_new.html", {
        "nav": "batches", "step": "preview", "token": token, "draft": draft, "agents": agents, "v": values,
        "routing_profiles": profiles,
        "errors": errors, "other_errors": {k: v for k, v in errors.items() if k not in FORM_FIELDS},
        "preview": preview, "columns": columns, "empty": empty,
        "phone_column": preview["phone_column"] if preview else (phone_column or ""),
        "region": region, "weekdays": WEEKDAYS, "days": days, "retry_on": retry_on,
        "retry_options": list(RETRYABLE), "zones": tz_choices(),
        "provider_batches": {str(a.public_id) for a in agents if supports_provider_batches(a)},
        "rejected_url": reverse("dashboard:batch_preview_rejected", args=[token]) + "?" + urlencode(
            {"phone_column": preview["phone_column"] if preview else "", "default_country": region}),
    }, status=400 if errors else 200)


@org_required(Role.MEMBER)
def batch_preview_rejected(request, token):
    """The draft's rejected rows with their reasons, as CSV, before anything is stored or dialed."""
    draft = batch_drafts.load(request, token)
    region = (request.GET.get("default_country") or "").strip().upper()
    try:
        table = batch_drafts.table(draft, request.GET.get("phone_column") or None)
    except recipient_lists.CsvError as exc:
        raise Http404(str(exc)) from None
    validator = recipient_validation.Validator(region if len(region) == 2 else "",
                                                suppressions.refusals(request.org))
    rejected = (r for r in recipient_validation.validate(table.rows, validator) if isinstance(r, recipient_validation.Rejection))
    response = StreamingHttpResponse(recipient_lists.rejections_csv(rejected, [c for c in table.columns if c]),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="rejected-rows.csv"'
    response["Cache-Control"] = "no-store"
    return response


def _recipients_context(request, batch):
    """One page of the recipient table (filtered by state and outcome, in file order)."""
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
    query = {k: v for k, v in (("state", state), ("outcome", outcome), ("after", after)) if v}
    return {"recipients": rows[:PAGE], "next_after": next_after, "outcome": outcome, "state": state,
            "recipients_query": urlencode(query)}


def _detail_context(request, batch):
    return {
        **_progress_context(request, batch),
        **_recipients_context(request, batch),
        "rejections": list(batch.rejections.order_by("row_number")[:50]) if batch.rejected_count else [],
        "states": RecipientState.choices, "outcomes": ["completed", "no_answer", "busy", "failed", "canceled"],
        "redial_outcomes": services.REDIAL_OUTCOMES,
    }


def _progress_context(request, batch):
    """What the live progress fragment needs, and nothing else: it is polled every 2 s, so the
    recipient table and the rejections (static, or changing only on a reload) are not queried."""
    return {
        "nav": "batches", "batch": batch, "progress": progress(batch),
        "can_act": request.membership.allows(Role.MEMBER),
        "live": batch.status in (BatchStatus.RUNNING, BatchStatus.SCHEDULED, BatchStatus.PAUSED)
        or (batch.status == BatchStatus.STOPPED and not batch.finished_at),
    }


@org_required()
def batch_detail(request, public_id):
    batch = _get_batch(request, public_id)
    return render(request, "dashboard/batches_detail.html", _detail_context(request, batch))


@org_required()
def batch_live(request, public_id):
    """The progress fragment, polled every 2 s; HTTP 286 stops the polling once the batch is over."""
    batch = _get_batch(request, public_id)
    context = _progress_context(request, batch)
    response = render(request, "dashboard/batches_detail.html#progress", context)
    return stop_polling_if(not context["live"], response)


@org_required()
def batch_recipients(request, public_id):
    """The recipient table's page, polled beside the progress fragment (at its own URL so the 2 s
    progress poll stays one small query); HTTP 286 stops it once the batch is over."""
    batch = _get_batch(request, public_id)
    context = {**_progress_context(request, batch), **_recipients_context(request, batch)}
    response = render(request, "dashboard/batches_detail.html#recipients", context)
    return stop_polling_if(not context["live"], response)


ACTIONS = {
    "start": lambda b, r: services.start_batch(b),
    "pause": lambda b, r: services.pause_batch(b, by=_actor(r)),
    "resume": lambda b, r: services.resume_batch(b),
    "stop": lambda b, r: services.stop_batch(b, by=_actor(r)),
}


@require_POST
@org_required(Role.MEMBER)
def batch_action(request, public_id, action):
    batch = _get_batch(request, public_id)
    if action == "redial":
        try:
            new = services.redial(batch, outcomes=request.POST.getlist("outcomes"), created_by=_actor(request),
                                 start=False)
        except services.BatchActionError as exc:
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
        except services.BatchActionError as exc:
            messages.error(request, str(exc))
    return redirect(reverse("dashboard:batch_detail", args=[batch.public_id]))


class _Echo:
    def write(self, value):
        return value


def _stream_csv(header, rows):
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([recipient_lists.safe_cell(v) for v in row])


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
        return json.dumps(value, separators=(",", ":"))
    return "" if value is None else value


@org_required()
def batch_rejected(request, public_id):
    batch = _get_batch(request, public_id)
    rows = batch.rejections.order_by("row_number").values("row_number", "reason", "row").iterator(chunk_size=CSV_CHUNK)
    response = StreamingHttpResponse(recipient_lists.rejections_csv(rows, batch.columns or ["phone"]),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="batch-{batch.public_id}-rejected.csv"'
    response["Cache-Control"] = "no-store"
    return response

