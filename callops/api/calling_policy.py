"""/v1/calling_policy: the organization's frequency caps, local calling hours and opt-out setting.

Reading needs any key; changing needs a read-write key (only admins create keys). Every change is
audited with its before and after values by the same service the dashboard uses.
"""

from typing import Literal

from django.http import JsonResponse
from ninja import Router
from pydantic import BaseModel, ConfigDict, Field

from callops.rules import policy

from . import schemas
from .base import ApiError, json_body, require_write

router = Router(tags=["calling rules"])

_CAP = "calls per number; null for no cap"


class CallingPolicyOut(BaseModel):
    object: Literal["calling_policy"]
    max_calls_per_day: int | None = Field(description=f"Calls in any 24 hours, {_CAP}")
    max_calls_per_week: int | None = Field(description=f"Calls in any 7 days, {_CAP}")
    max_answered_per_week: int | None = Field(description=f"Answered calls in any 7 days, {_CAP}")
    hours_start: str | None = Field(description="Calling hours start, HH:MM in the callee's zone; null: any hour")
    hours_end: str | None = Field(description="Calling hours end (exclusive), HH:MM; null with hours_start")
    time_zone: str = Field(description="IANA zone for numbers tied to no place (toll-free, national mobile)")
    opt_out_detection: bool


class CallingPolicyPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_calls_per_day: int | None = Field(None, ge=1, le=policy.MAX_CAP)
    max_calls_per_week: int | None = Field(None, ge=1, le=policy.MAX_CAP)
    max_answered_per_week: int | None = Field(None, ge=1, le=policy.MAX_CAP)
    hours_start: str | None = Field(None, pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    hours_end: str | None = Field(None, pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    time_zone: str | None = None
    opt_out_detection: bool | None = None


def _body(org) -> JsonResponse:
    return JsonResponse({"object": "calling_policy", **policy.as_dict(policy.current(org))})


@router.get("/calling_policy", response={200: CallingPolicyOut, **schemas.errors(*schemas.COMMON_ERRORS)},
            summary="Read the calling rules: frequency caps and local calling hours")
def read_policy(request):
    return _body(request.org)


@router.patch("/calling_policy", response={200: CallingPolicyOut, **schemas.errors(*schemas.COMMON_ERRORS, 403)},
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": CallingPolicyPatch.model_json_schema()}}}},
              summary="Change the calling rules (only the fields given; null clears a cap or the hours)")
def update_policy(request):
    require_write(request)
    data = json_body(request, required=True)
    try:
        changes = policy.clean_changes(data, policy.current(request.org))
    except policy.PolicyError as exc:
        raise ApiError(400, str(exc), fields=exc.fields) from None
    policy.update(request.org, changes, actor=f"API key {request.api_key.name}")
    return _body(request.org)
