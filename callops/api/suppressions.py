"""/v1/suppressions: the organization's do-not-call list (list, create, delete, check a number)."""

from datetime import datetime
from typing import Literal

from django.http import JsonResponse
from ninja import Query, Router
from pydantic import BaseModel, ConfigDict, Field

from callops.accounts.tenancy import parse_public_id, scoped
from callops.rules import suppressions
from callops.rules.models import Suppression, SuppressionSource

from . import schemas
from .base import ApiError, json_body, require_write
from .pagination import CURSOR, ENDING_BEFORE, LIMIT, STARTING_AFTER, page

router = Router(tags=["suppressions"])


class SuppressionOut(BaseModel):
    id: str
    object: Literal["suppression"]
    number: str = Field(description="E.164")
    reason: str
    source: Literal["manual", "api", "import", "opt_out", "provider"]
    added_by: str
    call_id: str | None = Field(description="the call whose callee opted out (source opt_out)")
    created_at: datetime


class SuppressionListOut(BaseModel):
    object: Literal["list"]
    data: list[SuppressionOut]
    has_more: bool
    next_cursor: str | None


class SuppressionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str = Field(description="any spelling with the country code, e.g. +1 (415) 555-0123")
    reason: str = Field("", max_length=200)


class CheckOut(BaseModel):
    object: Literal["suppression_check"]
    number: str
    suppressed: bool
    suppression: SuppressionOut | None


class DeletedOut(BaseModel):
    id: str
    object: Literal["suppression"]
    deleted: bool


def to_dict(row: Suppression) -> dict:
    return {"id": str(row.public_id), "object": "suppression", "number": row.number, "reason": row.reason,
            "source": row.source, "added_by": row.added_by_label,
            "call_id": str(row.call_public_id) if row.call_public_id else None,
            "created_at": row.created_at.isoformat().replace("+00:00", "Z")}


def _actor(request) -> str:
    return f"API key {request.api_key.name}"


@router.get("/suppressions", response={200: SuppressionListOut, **schemas.errors(*schemas.COMMON_ERRORS)},
            summary="List the suppression (do-not-call) list, newest first")
def list_suppressions(request, limit: int = LIMIT, cursor: str | None = CURSOR,
                      starting_after: str | None = STARTING_AFTER, ending_before: str | None = ENDING_BEFORE):
    qs = scoped(Suppression, request.org)
    result = page(qs, limit=limit, cursor=cursor, starting_after=starting_after, ending_before=ending_before)
    return JsonResponse(result.body(to_dict))


@router.get("/suppressions/check", response={200: CheckOut, **schemas.errors(*schemas.COMMON_ERRORS)},
            summary="Whether a number (any spelling) is on the suppression list")
def check_number(request, number: str = Query(..., min_length=1, max_length=64)):
    try:
        e164 = suppressions.to_e164(number)
    except suppressions.SuppressionError as exc:
        raise ApiError(400, str(exc), fields={"number": "is not a phone number"}) from None
    row = scoped(Suppression, request.org).filter(number=e164).first()
    return JsonResponse({"object": "suppression_check", "number": e164, "suppressed": row is not None,
                         "suppression": to_dict(row) if row else None})


@router.post("/suppressions", response={201: SuppressionOut, 200: SuppressionOut,
                                        **schemas.errors(*schemas.COMMON_ERRORS, 403)},
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": SuppressionIn.model_json_schema()}}}},
             summary="Add a number to the suppression list (200 when it was already there)")
def create_suppression(request):
    require_write(request)
    data = json_body(request)
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object with a number")
    unknown = sorted(set(data) - {"number", "reason"})
    if unknown:
        raise ApiError(400, f"unknown field {unknown[0]}", fields={k: "is not a field" for k in unknown})
    reason = data.get("reason", "")
    if not isinstance(reason, str) or len(reason) > 200:
        raise ApiError(400, "reason must be text of at most 200 characters", fields={"reason": "is not valid"})
    try:
        row, created = suppressions.add(request.org, data.get("number"), reason=reason,
                                        source=SuppressionSource.API, actor=_actor(request))
    except suppressions.SuppressionError as exc:
        raise ApiError(400, str(exc), fields={"number": "is not a phone number"}) from None
    return JsonResponse(to_dict(row), status=201 if created else 200)


@router.delete("/suppressions/{suppression_id}",
               response={200: DeletedOut, **schemas.errors(*schemas.COMMON_ERRORS, 403, 404)},
               summary="Remove a number from the suppression list")
def delete_suppression(request, suppression_id: str = schemas.path_id("suppression_id")):
    require_write(request)
    pid = parse_public_id(suppression_id)
    row = scoped(Suppression, request.org).filter(public_id=pid).first() if pid else None
    if row is None:
        raise ApiError(404, f"suppression {suppression_id} not found")
    suppressions.remove(row, actor=_actor(request))
    return JsonResponse({"id": str(row.public_id), "object": "suppression", "deleted": True})
