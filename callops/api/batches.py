"""/v1/batches: create (JSON recipients or a multipart CSV), list, read with progress, calls, actions."""

from __future__ import annotations

from django.conf import settings
from django.http import JsonResponse
from django.http.multipartparser import MultiPartParserError
from ninja import Query, Router

from callops.accounts.tenancy import parse_public_id, scoped
from callops.batches import recipient_lists, services
from callops.batches.batch_settings import clean_settings
from callops.batches.models import Batch, BatchStatus
from callops.batches.representations import batch_to_dict
from callops.calls.models import Agent, Call, CallStatus, RoutingProfile
from callops.calls.representations import call_to_dict, rows_for_api
from callops.calls.validation import ValidationFailed
from callops.lib.nul_chars import has_nul

from . import schemas
from .base import ApiError, json_body, require_write
from .idempotency import idempotent
from .pagination import CURSOR, ENDING_BEFORE, LIMIT, STARTING_AFTER, page
from .schemas import declare

router = Router(tags=["batches"])

NESTED = {
    "window": {"start_hour": "window_start_hour", "end_hour": "window_end_hour", "days": "window_days"},
    "retry": {"max_attempts": "max_attempts", "intervals": "retry_intervals", "on": "retry_on"},
    "circuit_breaker": {"threshold": "breaker_threshold", "min_calls": "breaker_min_calls",
                        "window_seconds": "breaker_window_seconds"},
}


def _get_batch(request, batch_id) -> Batch:
    pid = parse_public_id(batch_id)
    batch = scoped(Batch, request.org).select_related("agent").filter(public_id=pid).first() if pid else None
    if batch is None:
        raise ApiError(404, f"batch {batch_id} not found")
    return batch


def _flatten(data: dict) -> dict:
    flat = dict(data)
    for key, mapping in NESTED.items():
        value = flat.pop(key, None)
        if value is None:
            continue
        if not isinstance(value, dict):
            raise ApiError(400, f"{key} must be an object", fields={key: "must be an object"})
        for sub, target in mapping.items():
            if sub in value:
                flat[target] = value[sub]
    return flat


def _truthy(value) -> bool:
    return value in (True, "true", "1", "on", "yes", 1)


def _read_request(request) -> tuple[dict, recipient_lists.CsvTable | None]:
    """Settings and recipients from either a JSON body or a multipart form with a `file`."""
    ctype = request.content_type or ""
    if ctype.startswith("multipart/form-data"):
        try:
            data = {k: request.POST.get(k) for k in request.POST}
            upload = request.FILES.get("file")
        except MultiPartParserError as exc:
            raise ApiError(400, f"the multipart body cannot be read: {exc}")
        if has_nul(data):
            raise ApiError(400, "form fields contain a NUL character, which is not allowed")
        if upload is None:
            raise ApiError(400, "multipart upload needs a CSV in the 'file' field", fields={"file": "is required"})
        try:
            table = recipient_lists.read_csv(upload.file, phone_column=data.get("phone_column") or None)
        except recipient_lists.CsvError as exc:
            raise ApiError(400, str(exc), fields={"file": str(exc)})
        return data, table
    return _flatten(json_body(request, limit=settings.API_MAX_UPLOAD_BYTES)), None


# A recipient is a phone number, or an object with `phone` (or `to`) and optional `context`;
# other keys also become context.
RECIPIENT_SCHEMA = {"anyOf": [
    {"type": "string", "minLength": 1},
    {"type": "object", "properties": {"phone": {"type": "string", "minLength": 1}, "to": {"type": "string"},
                                      "context": {"type": "object"}}},
]}
AGENT_ID_SCHEMA = {"type": "string", "minLength": 1, "format": "uuid"}


@router.post("/batches", response={201: schemas.BatchCreatedOut, 200: schemas.BatchPreviewOut,
                                   **schemas.errors(*schemas.COMMON_ERRORS, 403, 409, 413)},
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": {"type": "object", "required": ["agent_id", "recipients"],
                                                 "properties": {"agent_id": AGENT_ID_SCHEMA,
                                                                "routing_profile_id": AGENT_ID_SCHEMA,
                                                                "recipients": {"type": "array", "minItems": 1,
                                                                               "items": RECIPIENT_SCHEMA},
                                                                "dry_run": {"type": "boolean"},
                                                                "hold": {"type": "boolean"}}}},
                 "multipart/form-data": {"schema": {"type": "object", "required": ["agent_id", "file"],
                                                    "properties": {"agent_id": AGENT_ID_SCHEMA,
                                                                   "file": {"type": "string", "format": "binary"},
                                                                   "phone_column": {"type": "string"}}}}}},
                 "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                                 "schema": {"type": "string", "maxLength": 255}}]},
             summary="Create a batch from JSON recipients or a CSV upload",
             description="`dry_run` validates and previews without storing anything; `hold` stores the batch "
                         "without starting it (status `created`). Settings: `name`, `default_country`, "
                         "`timezone`, `start_at`, `window` {start_hour, end_hour, days}, `max_concurrency`, "
                         "`calls_per_minute`, `retry` {max_attempts, intervals, on}, `circuit_breaker` "
                         "{threshold, min_calls, window_seconds}, `mode` (fanout | provider). `mode` provider "
                         "hands the list to the provider's own batch API (Bolna, Trillet agents); the provider "
                         "dials at its own pace, so `window`, `max_concurrency`, `calls_per_minute` and "
                         "`circuit_breaker` are refused with a 400 naming the field, and pausing is refused "
                         "(409) while the provider is dialing. A multipart upload sends the CSV as `file` and "
                         "the settings as flat form fields.")
@idempotent
def create_batch(request):
    require_write(request)
    data, table = _read_request(request)
    profile = None
    if data.get("routing_profile_id") not in (None, ""):
        # Each call's agent is the profile's pick for it; agent_id, when left out, is its first agent.
        profile_pid = parse_public_id(str(data["routing_profile_id"]))
        profile = scoped(RoutingProfile, request.org).filter(public_id=profile_pid).first() if profile_pid else None
        if profile is None:
            raise ApiError(400, "routing_profile_id must be the id of one of your routing profiles",
                           fields={"routing_profile_id": "unknown routing profile"})
        if data.get("mode") == "provider":
            raise ApiError(400, "a provider-run batch dials through one agent; it cannot use a routing profile",
                           fields={"routing_profile_id": "not with mode provider"})
        first = profile.weights.order_by("position").values_list("agent__public_id", flat=True).first()
        data = {**data, "agent_id": data.get("agent_id") or str(first)}
    pid = parse_public_id(str(data.get("agent_id") or ""))
    agent = scoped(Agent, request.org).select_related("provider_account").filter(public_id=pid).first() \
        if pid else None
    if agent is None:
        raise ApiError(400, "agent_id must be the id of one of your agents", fields={"agent_id": "unknown agent"})
    try:
        clean = clean_settings(data, agent=agent, org=request.org)
    except ValidationFailed as exc:
        raise ApiError(400, exc.message, fields=exc.fields)
    if table is None:
        items = data.get("recipients")
        if not isinstance(items, list) or not items:
            raise ApiError(400, "recipients must be a non-empty list", fields={"recipients": "is required"})
        rows, columns, phone_column = recipient_lists.rows_from_json(items), ["phone"], "phone"
    else:
        rows, columns, phone_column = table.rows, table.columns, table.phone_column
    try:
        if _truthy(data.get("dry_run")):
            return JsonResponse({"object": "batch_preview", "columns": columns, "phone_column": phone_column,
                                 **services.preview(rows, default_region=clean.default_region, org=request.org)})
        batch = services.create_batch(org=request.org, agent=agent, settings=clean, rows=rows, columns=columns,
                                     phone_column=phone_column, created_by=f"API key {request.api_key.name}",
                                     start=not _truthy(data.get("hold")), routing_profile=profile)
    except recipient_lists.CsvError as exc:
        raise ApiError(400, str(exc), fields={"recipients" if table is None else "file": str(exc)})
    body = batch_to_dict(Batch.objects.select_related("agent").get(pk=batch.pk), progress=True)
    body["rejected_rows"] = list(batch.rejections.order_by("row_number").values(
        "row_number", "phone", "reason")[:services.PREVIEW_ROWS])
    return JsonResponse(body, status=201)


@router.get("/batches", response={200: schemas.BatchListOut, **schemas.errors(*schemas.COMMON_ERRORS)},
            summary="List batches, newest first")
def list_batches(request, limit: int = LIMIT, cursor: str | None = CURSOR, starting_after: str | None = STARTING_AFTER,
                 ending_before: str | None = ENDING_BEFORE,
                 status: str | None = declare(Query(None, max_length=20), enum=BatchStatus.values)):
    qs = scoped(Batch, request.org).select_related("agent")
    if status:
        qs = qs.filter(status=_choice("status", status, BatchStatus.values))
    result = page(qs, limit=limit, cursor=cursor, starting_after=starting_after, ending_before=ending_before,
                  anchors=scoped(Batch, request.org))
    return JsonResponse(result.body(batch_to_dict))


@router.get("/batches/{batch_id}", response={200: schemas.BatchDetailOut, **schemas.errors(*schemas.COMMON_ERRORS, 404)},
            summary="Read a batch with counts per status")
def read_batch(request, batch_id: str = schemas.path_id("batch_id")):
    return JsonResponse(batch_to_dict(_get_batch(request, batch_id), progress=True))


@router.get("/batches/{batch_id}/calls", response={200: schemas.CallListOut, **schemas.errors(*schemas.COMMON_ERRORS, 404)},
            summary="The batch's calls (every attempt), newest first")
def batch_calls(request, batch_id: str = schemas.path_id("batch_id"), limit: int = LIMIT, cursor: str | None = CURSOR,
                starting_after: str | None = STARTING_AFTER, ending_before: str | None = ENDING_BEFORE,
                status: str | None = declare(Query(None, max_length=20), enum=CallStatus.values)):
    batch = _get_batch(request, batch_id)
    qs = scoped(Call, request.org).filter(batch=batch)
    if status:
        qs = qs.filter(status=_choice("status", status, CallStatus.values))
    result = page(qs, limit=limit, cursor=cursor, starting_after=starting_after, ending_before=ending_before,
                  anchors=scoped(Call, request.org), rows=rows_for_api)
    return JsonResponse(result.body(call_to_dict))


def _choice(name: str, value: str, allowed) -> str:
    if value not in allowed:
        raise ApiError(400, f"{name} must be one of {', '.join(allowed)}", fields={name: f"unknown value {value!r}"})
    return value


def _action(request, batch_id, func, **kw):
    require_write(request)
    batch = _get_batch(request, batch_id)
    try:
        func(batch, **kw)
    except services.BatchActionError as exc:
        raise ApiError(409, str(exc))
    return JsonResponse(batch_to_dict(_get_batch(request, batch_id), progress=True))


ACTION_RESPONSES = {200: schemas.BatchDetailOut, **schemas.errors(*schemas.COMMON_ERRORS, 403, 404, 409)}


@router.post("/batches/{batch_id}/pause", response=ACTION_RESPONSES,
             summary="Pause a running or scheduled batch (409 for a provider batch the provider is dialing)")
def pause_batch(request, batch_id: str = schemas.path_id("batch_id")):
    return _action(request, batch_id, services.pause_batch, by=f"API key {request.api_key.name}")


@router.post("/batches/{batch_id}/resume", response=ACTION_RESPONSES,
             summary="Resume a paused batch (back to scheduled if its start time is still ahead)")
def resume_batch(request, batch_id: str = schemas.path_id("batch_id")):
    return _action(request, batch_id, services.resume_batch)


@router.post("/batches/{batch_id}/stop", response=ACTION_RESPONSES,
             summary="Stop a batch: undialed recipients are canceled, calls in progress finish")
def stop_batch(request, batch_id: str = schemas.path_id("batch_id")):
    return _action(request, batch_id, services.stop_batch, by=f"API key {request.api_key.name}")
