"""/v1/webhook_endpoints, /v1/webhook_deliveries, /v1/webhook_recoveries and /v1/webhook_secret.

Thin: parse, call `callops.webhooks.services`, render. Endpoint signing secrets appear only in
the responses of create and rotate_secret; the organization's secret for per-call and agent
webhook URLs only in GET /v1/webhook_secret (each read is audited) and its rotate response.
Responses that carry a secret are marked `Cache-Control: no-store`.
"""

from typing import Any

from django.http import JsonResponse
from ninja import Query, Router
from pydantic import BaseModel, ConfigDict, Field

from callops.accounts.tenancy import parse_public_id, scoped
from callops.webhooks import services
from callops.webhooks.models import DeliveryStatus, RecoveryJob, WebhookDelivery, WebhookEndpoint
from callops.webhooks.representations import (
    delivery_to_dict,
    endpoint_to_dict,
    org_secret_to_dict,
    recovery_to_dict,
)

from . import schemas
from .base import ApiError, json_body, query_datetime, require_write
from .pagination import CURSOR, ENDING_BEFORE, LIMIT, STARTING_AFTER, page
from .schemas import declare

router = Router(tags=["webhooks"])


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://", description="https URL that receives events (private addresses are refused)")
    description: str | None = None
    enabled_events: list[str] | None = Field(None, description='["*"] (default), types, or prefixes like "call.*"')
    headers: dict[str, str] | None = Field(None, description="custom headers sent with every delivery")
    enabled: bool | None = None
    status: str | None = Field(None, description='"enabled" or "disabled" (the CallingBox SDK\'s form of enabled)')
    paused: bool | None = None
    max_in_flight: int | None = Field(None, ge=1, le=50, description="concurrent deliveries (1 = ordered)")


class EndpointPatchIn(EndpointIn):
    """PATCH takes any subset of the fields (the body itself is required)."""
    url: str | None = Field(None, min_length=1, pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://", description="https URL that receives events")  # type: ignore[assignment]


class EndpointOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    object: str
    url: str
    status: str
    enabled_events: list[str]
    signing_secret: str | None = Field(None, description="only in create and rotate_secret responses")
    secret: str | None = Field(None, description="the same value as signing_secret, kept for existing callers")


class DeletedOut(BaseModel):
    id: str
    object: str
    deleted: bool


class EndpointListOut(BaseModel):
    object: str
    data: list[EndpointOut]
    has_more: bool
    next_cursor: str | None


class DeliveryOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    object: str
    event_id: str
    event_type: str
    status: str
    attempt_count: int
    attempts: list[dict[str, Any]] | None = None


class DeliveryListOut(BaseModel):
    object: str
    data: list[DeliveryOut]
    has_more: bool
    next_cursor: str | None


class RecoverIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    since: str = Field(min_length=1, description="ISO 8601; deliveries created at or after this time",
                       json_schema_extra={"format": "date-time"})
    until: str | None = Field(None, description="ISO 8601; created before this time (default: now)",
                              json_schema_extra={"format": "date-time"})
    event_type: str | None = Field(None, description='an event type, or a prefix like "call.*"')
    status: str | None = Field(None, description='"failed", "skipped" or "retrying" (waiting for an automatic '
                                                 'retry after a failed attempt); default: all three')
    dry_run: bool | None = Field(None, description="only count what would be re-sent")


class OrgRecoverIn(RecoverIn):
    endpoint_id: str | None = Field(None, description='an endpoint id, or "inline" for per-call and agent URLs; '
                                                      "default: every destination")


class SecretOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    object: str
    secret: str = Field(description="whsec_...; verify deliveries to per-call and agent webhook URLs with it")
    old_secrets_expire_at: list[str]


class RecoveryOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str | None = None
    object: str
    status: str | None = None
    total: int | None = None
    marked: int | None = None
    done: int | None = Field(None, description="re-sends actually made")
    delivered: int | None = None
    count: int | None = Field(None, description="dry_run only: how many deliveries would be re-sent")
    by_status: dict[str, int] | None = Field(None, description='dry_run only: the count split into "failed", '
                                                               '"skipped" and "retrying"')


class RecoveryListOut(BaseModel):
    object: str
    data: list[RecoveryOut]
    has_more: bool
    next_cursor: str | None


def _body_schema(model):
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}}


def _actor(request) -> str:
    return f"API key {request.api_key.name}"


def _with_secret(endpoint, secret: str) -> dict:
    # `signing_secret` is the name the CallingBox SDK reads; `secret` (same value) predates it.
    return {**endpoint_to_dict(endpoint), "signing_secret": secret, "secret": secret}


def _no_store(response):
    response["Cache-Control"] = "no-store"
    return response


def _get(model, request, public_id, label):
    pid = parse_public_id(public_id)
    qs = scoped(model, request.org)
    if model is WebhookDelivery:
        qs = qs.select_related("event", "endpoint", "call", "organization")
    elif model is WebhookEndpoint:
        qs = qs.select_related("organization")
    obj = qs.filter(public_id=pid).first() if pid else None
    if obj is None:
        raise ApiError(404, f"{label} {public_id} not found")
    return obj


def _input_error(exc: services.WebhookInputError):
    return ApiError(400, exc.message, fields=exc.fields)


# --- Endpoints -------------------------------------------------------------------------------------
@router.post("/webhook_endpoints", response={201: EndpointOut, **schemas.errors(*schemas.COMMON_ERRORS, 403)},
             openapi_extra=_body_schema(EndpointIn), summary="Create a webhook endpoint (secret shown once)")
def create_endpoint(request):
    require_write(request)
    data = json_body(request)
    try:
        endpoint, secret = services.create_endpoint(request.org, data, actor=_actor(request))
    except services.WebhookInputError as exc:
        raise _input_error(exc)
    return _no_store(JsonResponse(_with_secret(endpoint, secret), status=201))


@router.get("/webhook_endpoints", response={200: EndpointListOut, **schemas.errors(*schemas.COMMON_ERRORS)},
            summary="List webhook endpoints, newest first")
def list_endpoints(request, limit: int = LIMIT, cursor: str | None = CURSOR,
                   starting_after: str | None = STARTING_AFTER, ending_before: str | None = ENDING_BEFORE):
    # The organization is joined for each endpoint's org_id.
    result = page(scoped(WebhookEndpoint, request.org).select_related("organization"), limit=limit, cursor=cursor,
                  starting_after=starting_after, ending_before=ending_before)
    return JsonResponse(result.body(endpoint_to_dict))


@router.get("/webhook_endpoints/{endpoint_id}",
            response={200: EndpointOut, **schemas.errors(*schemas.COMMON_ERRORS, 404)}, summary="Read an endpoint")
def read_endpoint(request, endpoint_id: str = schemas.path_id("endpoint_id")):
    return JsonResponse(endpoint_to_dict(_get(WebhookEndpoint, request, endpoint_id, "webhook endpoint")))


@router.patch("/webhook_endpoints/{endpoint_id}",
              response={200: EndpointOut, **schemas.errors(*schemas.COMMON_ERRORS, 403, 404)},
              openapi_extra=_body_schema(EndpointPatchIn),
              summary="Update an endpoint (a body is required; send only the fields to change)")
def update_endpoint(request, endpoint_id: str = schemas.path_id("endpoint_id")):
    require_write(request)
    endpoint = _get(WebhookEndpoint, request, endpoint_id, "webhook endpoint")
    try:
        endpoint = services.update_endpoint(endpoint, json_body(request, required=True), actor=_actor(request))
    except services.WebhookInputError as exc:
        raise _input_error(exc)
    return JsonResponse(endpoint_to_dict(endpoint))


@router.delete("/webhook_endpoints/{endpoint_id}",
               response={200: DeletedOut, **schemas.errors(*schemas.COMMON_ERRORS, 403, 404)},
               summary="Delete an endpoint")
def delete_endpoint(request, endpoint_id: str = schemas.path_id("endpoint_id")):
    require_write(request)
    endpoint = _get(WebhookEndpoint, request, endpoint_id, "webhook endpoint")
    services.delete_endpoint(endpoint, actor=_actor(request))
    # A body rather than 204: the CallingBox SDK parses every response as JSON.
    return JsonResponse({"id": str(endpoint.public_id), "object": "webhook_endpoint", "deleted": True})


@router.post("/webhook_endpoints/{endpoint_id}/rotate_secret",
             response={200: EndpointOut, **schemas.errors(*schemas.COMMON_ERRORS, 403, 404)},
             summary="Rotate the signing secret (each old one is still signed with for 24 h; at most 10)")
def rotate_secret(request, endpoint_id: str = schemas.path_id("endpoint_id")):
    require_write(request)
    endpoint = _get(WebhookEndpoint, request, endpoint_id, "webhook endpoint")
    secret = services.rotate_secret(endpoint, actor=_actor(request))
    return _no_store(JsonResponse(_with_secret(endpoint, secret)))


@router.post("/webhook_endpoints/{endpoint_id}/test",
             response={202: DeliveryOut, **schemas.errors(*schemas.COMMON_ERRORS, 403, 404)},
             summary="Send a webhook.test event to this endpoint")
def send_test(request, endpoint_id: str = schemas.path_id("endpoint_id")):
    require_write(request)
    endpoint = _get(WebhookEndpoint, request, endpoint_id, "webhook endpoint")
    d = services.send_test(endpoint, actor=_actor(request))
    return JsonResponse(delivery_to_dict(d), status=202)


def _recover(request, data: dict, *, endpoint=None, allowed: set[str]):
    """Shared by the org-wide and the per-endpoint route: count (dry_run) or start a recovery."""
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ApiError(400, f"unknown field(s): {', '.join(unknown)}", fields={k: "unknown field" for k in unknown})
    for name in ("since", "until", "event_type", "status", "endpoint_id"):
        if data.get(name) is not None and not isinstance(data[name], str):
            raise ApiError(400, f"{name} must be a string", fields={name: "must be a string"})
    since = query_datetime("since", data.get("since"))
    if since is None:
        raise ApiError(400, "since is required", fields={"since": "is required"})
    until = query_datetime("until", data.get("until"))
    if until is not None and until <= since:
        raise ApiError(400, "until must be after since", fields={"until": "must be after since"})
    inline_only = False
    if "endpoint_id" in allowed and data.get("endpoint_id") not in (None, ""):
        if data["endpoint_id"] == "inline":
            inline_only = True
        else:
            endpoint = _get(WebhookEndpoint, request, data["endpoint_id"], "webhook endpoint")
    try:
        event_type, delivery_status = services.clean_recovery_filters(
            event_type=data.get("event_type") or "", delivery_status=data.get("status") or "")
    except services.WebhookInputError as exc:
        raise _input_error(exc)
    dry_run = data.get("dry_run")
    if dry_run is not None and not isinstance(dry_run, bool):  # (0 == False, but 0 is not a boolean)
        raise ApiError(400, "dry_run must be true or false", fields={"dry_run": "must be a boolean"})
    filters = {"since": since, "until": until, "endpoint": endpoint, "inline_only": inline_only,
               "event_type": event_type, "delivery_status": delivery_status}
    if dry_run:
        by_status = services.count_recoverable_by_kind(request.org, **filters)
        return JsonResponse({"object": "webhook_recovery_count", "count": sum(by_status.values()),
                             "by_status": by_status})
    require_write(request)
    job = services.start_recovery(request.org, actor=_actor(request), **filters)
    return JsonResponse(recovery_to_dict(job), status=202)


@router.post("/webhook_recoveries",
             response={200: RecoveryOut, 202: RecoveryOut, **schemas.errors(*schemas.COMMON_ERRORS, 403, 404)},
             openapi_extra=_body_schema(OrgRecoverIn),
             summary="Bulk re-send failed, skipped and retrying deliveries matching a filter (dry_run returns "
                     "the count first; the re-send runs in the background, poll its progress)")
def recover_org(request):
    return _recover(request, json_body(request),
                    allowed={"since", "until", "event_type", "status", "endpoint_id", "dry_run"})


@router.post("/webhook_endpoints/{endpoint_id}/recover",
             response={200: RecoveryOut, 202: RecoveryOut, **schemas.errors(*schemas.COMMON_ERRORS, 403, 404)},
             openapi_extra=_body_schema(RecoverIn),
             summary="Re-send failed, skipped and retrying deliveries of a time window (dry_run counts them "
                     "first)")
def recover(request, endpoint_id: str = schemas.path_id("endpoint_id")):
    require_write(request)
    endpoint = _get(WebhookEndpoint, request, endpoint_id, "webhook endpoint")
    return _recover(request, json_body(request), endpoint=endpoint,
                    allowed={"since", "until", "event_type", "status", "dry_run"})


@router.get("/webhook_recoveries", response={200: RecoveryListOut, **schemas.errors(*schemas.COMMON_ERRORS)},
            summary="List bulk recoveries, newest first")
def list_recoveries(request, limit: int = LIMIT, cursor: str | None = CURSOR,
                    starting_after: str | None = STARTING_AFTER, ending_before: str | None = ENDING_BEFORE):
    result = page(scoped(RecoveryJob, request.org).select_related("endpoint"), limit=limit, cursor=cursor,
                  starting_after=starting_after, ending_before=ending_before, anchors=scoped(RecoveryJob, request.org))
    return JsonResponse(result.body(recovery_to_dict))


@router.get("/webhook_recoveries/{recovery_id}",
            response={200: RecoveryOut, **schemas.errors(*schemas.COMMON_ERRORS, 404)},
            summary="Progress of a bulk recovery")
def read_recovery(request, recovery_id: str = schemas.path_id("recovery_id")):
    return JsonResponse(recovery_to_dict(_get(RecoveryJob, request, recovery_id, "webhook recovery")))


# --- Organization secret (per-call and agent URLs) ------------------------------------------------
@router.get("/webhook_secret", response={200: SecretOut, **schemas.errors(*schemas.COMMON_ERRORS)},
            summary="The signing secret for per-call and agent webhook URLs (every read is audited)")
def read_org_secret(request):
    secret = services.reveal_org_secret(request.org, actor=_actor(request))
    return _no_store(JsonResponse(org_secret_to_dict(services.org_secret(request.org), secret=secret)))


@router.post("/webhook_secret/rotate", response={200: SecretOut, **schemas.errors(*schemas.COMMON_ERRORS, 403)},
             summary="Rotate the per-call signing secret (each old one is still signed with for 24 h)")
def rotate_org_secret(request):
    require_write(request)
    secret = services.rotate_org_secret(request.org, actor=_actor(request))
    return _no_store(JsonResponse(org_secret_to_dict(services.org_secret(request.org), secret=secret)))


# --- Deliveries ------------------------------------------------------------------------------------
@router.get("/webhook_deliveries", response={200: DeliveryListOut, **schemas.errors(*schemas.COMMON_ERRORS)},
            summary="List deliveries, newest first")
def list_deliveries(
    request,
    limit: int = LIMIT,
    cursor: str | None = CURSOR,
    starting_after: str | None = STARTING_AFTER,
    ending_before: str | None = ENDING_BEFORE,
    status: str | None = declare(Query(None, max_length=20, description="pending, delivered, failed or skipped"),
                                 enum=DeliveryStatus.values),
    endpoint_id: str | None = declare(Query(None, max_length=64), format="uuid"),
    call_id: str | None = declare(Query(None, max_length=64), format="uuid"),
    event_type: str | None = Query(None, max_length=40),
    created_after: str | None = declare(Query(None, max_length=64), format="date-time"),
    created_before: str | None = declare(Query(None, max_length=64), format="date-time"),
):
    qs = scoped(WebhookDelivery, request.org).select_related("event", "endpoint", "call", "organization")
    if status:
        if status not in DeliveryStatus.values:
            raise ApiError(400, f"status must be one of {', '.join(DeliveryStatus.values)}",
                           fields={"status": f"unknown value {status!r}"})
        qs = qs.filter(status=status)
    for name, value, field in (("endpoint_id", endpoint_id, "endpoint__public_id"),
                               ("call_id", call_id, "call__public_id")):
        if value is not None:  # present but empty is not a UUID either
            pid = parse_public_id(value)
            if pid is None:
                raise ApiError(400, f"{name} must be a UUID", fields={name: "is not a UUID"})
            qs = qs.filter(**{field: pid})
    if event_type:
        qs = qs.filter(event__type=event_type)
    after, before = query_datetime("created_after", created_after), query_datetime("created_before", created_before)
    if after:
        qs = qs.filter(created_at__gte=after)
    if before:
        qs = qs.filter(created_at__lt=before)
    result = page(qs, limit=limit, cursor=cursor, starting_after=starting_after, ending_before=ending_before,
                  anchors=scoped(WebhookDelivery, request.org))
    return JsonResponse(result.body(delivery_to_dict))


@router.get("/webhook_deliveries/{delivery_id}",
            response={200: DeliveryOut, **schemas.errors(*schemas.COMMON_ERRORS, 404)},
            summary="Read a delivery with its payload and every attempt")
def read_delivery(request, delivery_id: str = schemas.path_id("delivery_id")):
    d = _get(WebhookDelivery, request, delivery_id, "webhook delivery")
    return JsonResponse(delivery_to_dict(d, attempts=d.attempts.all()))


@router.post("/webhook_deliveries/{delivery_id}/redeliver",
             response={202: DeliveryOut, **schemas.errors(*schemas.COMMON_ERRORS, 403, 404)},
             summary="Send this delivery again now (same webhook-id; never rescheduled on failure)")
def redeliver(request, delivery_id: str = schemas.path_id("delivery_id")):
    require_write(request)
    d = _get(WebhookDelivery, request, delivery_id, "webhook delivery")
    d = services.redeliver(d, _actor(request))
    return JsonResponse(delivery_to_dict(d), status=202)
