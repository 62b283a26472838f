"""/v1/calls: create, list, read, transcript, cancel, re-run extraction."""

from django.http import JsonResponse
from ninja import Query, Router

from callops.accounts.tenancy import parse_public_id, scoped
from callops.calls import results as extraction
from callops.calls import services
from callops.calls.models import Call, CallStatus, EventSource, ResultStatus, WebhookStatus
from callops.calls.representations import call_to_dict, for_api, rows_for_api, transcript_segments
from callops.calls.validation import ValidationFailed, normalize_phone, validate_call_input
from callops.rules.gate import CallRefused

from . import schemas
from .base import ApiError, json_body, query_datetime, require_write
from .idempotency import idempotent
from .pagination import CURSOR, ENDING_BEFORE, LIMIT, STARTING_AFTER, page
from .schemas import declare

router = Router(tags=["calls"])


def _get_call(request, call_id) -> Call:
    pid = parse_public_id(call_id)
    call = for_api(scoped(Call, request.org)).filter(public_id=pid).first() if pid else None
    if call is None:
        raise ApiError(404, f"call {call_id} not found")
    return call


def _detail(call: Call, status: int = 200, *, reload: bool = True) -> JsonResponse:
    """The call with its timeline; `reload=False` when `call` is already current (just read or
    just written by this request)."""
    if reload:
        call = for_api(Call.objects.all()).get(pk=call.pk)
    return JsonResponse(call_to_dict(call, timeline=True), status=status)


@router.post("/calls", response={201: schemas.CallDetailOut, **schemas.errors(*schemas.COMMON_ERRORS, 403, 409, 502)},
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": schemas.CallCreate.model_json_schema()}}},
                 "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                                 "schema": {"type": "string", "maxLength": 255}}]},
             summary="Place a call")
@idempotent
def create_call(request):
    require_write(request)
    data = json_body(request)
    outside_hours = _outside_hours(data)
    try:
        clean = validate_call_input(request.org, data)
    except ValidationFailed as exc:
        raise ApiError(400, exc.message, fields=exc.fields)
    try:
        call = services.submit_call(request.org, clean, source=EventSource.API, outside_hours=outside_hours,
                                    actor=f"API key {request.api_key.name}")
    except CallRefused as exc:
        raise ApiError(409, exc.message) from None
    if call.status == CallStatus.FAILED:
        # The provider refused or could not be reached: the call stays, failed, for triage.
        raise ApiError(502, f"the provider could not place the call: {call.error_message or call.error_code}",
                       extra={"call_id": str(call.public_id)})
    # submit_call returns the row as it just wrote it: no need to read it back.
    return _detail(call, status=201, reload=False)


def _outside_hours(data) -> str:
    """Take `outside_hours` out of the body (it steers the calling rules, it is not part of the
    call): "schedule" (the default) or "reject"."""
    if not isinstance(data, dict) or "outside_hours" not in data:
        return "schedule"
    value = data.pop("outside_hours")
    if value is None:
        return "schedule"
    if value not in services.OUTSIDE_HOURS_CHOICES:
        raise ApiError(400, f"outside_hours must be schedule or reject, not {value!r}",
                       fields={"outside_hours": "must be schedule or reject"})
    return value


def _csv(values: list[str] | None) -> list[str]:
    out: list[str] = []
    for v in values or []:
        out.extend(p.strip() for p in v.split(",") if p.strip())
    return out


def _choice(name: str, values: list[str], allowed) -> list[str]:
    bad = [v for v in values if v not in allowed]
    if bad:
        raise ApiError(400, f"{name} must be one of {', '.join(allowed)}",
                       fields={name: f"unknown value {bad[0]!r}"})
    return values


@router.get("/calls", response={200: schemas.CallListOut, **schemas.errors(*schemas.COMMON_ERRORS)},
            summary="List calls, newest first")
def list_calls(
    request,
    limit: int = LIMIT,
    cursor: str | None = CURSOR,
    starting_after: str | None = STARTING_AFTER,
    ending_before: str | None = ENDING_BEFORE,
    status: list[str] | None = declare(Query(None, description="one or more statuses, repeated or comma-separated"),
                                       items={"type": "string", "enum": CallStatus.values}),
    agent_id: str | None = declare(Query(None, max_length=64), format="uuid"),
    provider: str | None = Query(None, max_length=20),
    batch_id: str | None = declare(Query(None, max_length=64), format="uuid"),
    to: str | None = Query(None, max_length=32),
    created_after: str | None = declare(Query(None, max_length=64), format="date-time"),
    created_before: str | None = declare(Query(None, max_length=64), format="date-time"),
    result_status: list[str] | None = declare(Query(None), items={"type": "string", "enum": ResultStatus.values}),
    webhook_status: list[str] | None = declare(Query(None), items={"type": "string", "enum": WebhookStatus.values}),
):
    statuses = _choice("status", _csv(status), CallStatus.values)
    result_statuses = _choice("result_status", _csv(result_status), ResultStatus.values)
    webhook_statuses = _choice("webhook_status", _csv(webhook_status), WebhookStatus.values)
    qs = scoped(Call, request.org)
    if statuses:
        qs = qs.filter(status__in=statuses)
    if provider:
        qs = qs.filter(provider=provider)
    if result_statuses:
        qs = qs.filter(result_status__in=result_statuses)
    if webhook_statuses:
        qs = qs.filter(webhook_status__in=webhook_statuses)
    for name, value, relation in (("agent_id", agent_id, "agent"), ("batch_id", batch_id, "batch")):
        if value is not None:  # present but empty is not a UUID either
            pid = parse_public_id(value)
            if pid is None:
                raise ApiError(400, f"{name} must be a UUID", fields={name: "is not a UUID"})
            qs = qs.filter(**{f"{relation}__public_id": pid})
    if to:
        try:
            qs = qs.filter(to_number=normalize_phone(to))
        except ValueError as exc:
            raise ApiError(400, f"to {exc}", fields={"to": str(exc)})
    after = query_datetime("created_after", created_after)
    before = query_datetime("created_before", created_before)
    if after:
        qs = qs.filter(created_at__gte=after)
    if before:
        qs = qs.filter(created_at__lt=before)
    # A page of light rows (rows_for_api): the call object's columns only (not the transcript or
    # the provider's payloads) and the related public ids joined in, newest first.
    result = page(qs, limit=limit, cursor=cursor, starting_after=starting_after, ending_before=ending_before,
                  anchors=scoped(Call, request.org), rows=rows_for_api)
    return JsonResponse(result.body(call_to_dict))


@router.get("/calls/{call_id}", response={200: schemas.CallDetailOut, **schemas.errors(*schemas.COMMON_ERRORS, 404)},
            summary="Read a call with its timeline")
def read_call(request, call_id: str = schemas.path_id("call_id")):
    return _detail(_get_call(request, call_id), reload=False)


@router.get("/calls/{call_id}/transcript",
            response={200: schemas.TranscriptOut, **schemas.errors(*schemas.COMMON_ERRORS, 404)},
            summary="Read a call's transcript as ordered segments")
def read_transcript(request, call_id: str):
    pid = parse_public_id(call_id)
    call = scoped(Call, request.org).only("id", "transcript").filter(public_id=pid).first() if pid else None
    if call is None:
        raise ApiError(404, f"call {call_id} not found")
    return JsonResponse({"segments": transcript_segments(call)})


@router.post("/calls/{call_id}/cancel",
             response={200: schemas.CallDetailOut, **schemas.errors(*schemas.COMMON_ERRORS, 403, 404, 409)},
             summary="Cancel a call that has not been answered")
@idempotent
def cancel_call(request, call_id: str = schemas.path_id("call_id")):
    require_write(request)
    call = _get_call(request, call_id)
    try:
        call = services.cancel_call(call, source=EventSource.API, actor_label=f"API key {request.api_key.name}")
    except services.CallActionError as exc:
        raise ApiError(409, str(exc))
    return _detail(call)


@router.post("/calls/{call_id}/extract",
             response={202: schemas.CallDetailOut, **schemas.errors(*schemas.COMMON_ERRORS, 403, 404, 409)},
             summary="Run result extraction again")
def rerun_extraction(request, call_id: str = schemas.path_id("call_id")):
    require_write(request)
    call = _get_call(request, call_id)
    try:
        extraction.rerun(call, source=EventSource.API, actor_label=f"API key {request.api_key.name}")
    except services.CallActionError as exc:
        raise ApiError(409, str(exc))
    return _detail(call, status=202)


