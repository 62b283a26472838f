"""/v1/routing_profiles: weighted traffic splits across agents (list, create, read, update, delete).

A call created with `routing_profile_id` (POST /v1/calls, or a batch's) gets the agent the profile
picks from the call's id, so the same call always lands on the same agent.
"""

from typing import Literal

from django.http import JsonResponse
from ninja import Router
from pydantic import BaseModel, Field

from callops.accounts.tenancy import parse_public_id, scoped
from callops.calls import routing_profiles as profiles
from callops.calls.models import RoutingProfile

from . import schemas
from .base import ApiError, json_body, require_write
from .pagination import CURSOR, ENDING_BEFORE, LIMIT, STARTING_AFTER, page

router = Router(tags=["routing profiles"])


# The request bodies, written out: the OpenAPI generators the contract tests run cannot follow a
# `$ref` inside an inline request body (pydantic puts nested models under `$defs`).
WEIGHTS_SCHEMA = {
    "type": "array", "minItems": 1, "maxItems": profiles.MAX_AGENTS,
    "description": "agents and their weights; at least one weight above 0",
    "items": {"type": "object", "additionalProperties": False, "required": ["agent_id", "weight"],
              "properties": {"agent_id": {"type": "string", "format": "uuid"},
                             "weight": {"type": "integer", "minimum": 0, "maximum": profiles.MAX_WEIGHT}}},
}
NAME_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 100}
CREATE_SCHEMA = {"type": "object", "additionalProperties": False, "required": ["name", "agents"],
                 "properties": {"name": NAME_SCHEMA, "agents": WEIGHTS_SCHEMA}}
PATCH_SCHEMA = {"type": "object", "additionalProperties": False, "minProperties": 1,
                "properties": {"name": NAME_SCHEMA, "agents": WEIGHTS_SCHEMA}}


class WeightOut(BaseModel):
    agent_id: str
    agent: str
    provider: str
    weight: int
    share: float = Field(description="weight / total weight: the share of calls the agent gets")


class ProfileOut(BaseModel):
    id: str
    object: Literal["routing_profile"]
    name: str
    agents: list[WeightOut]
    created_at: str
    updated_at: str


class ProfileListOut(BaseModel):
    object: Literal["list"]
    data: list[ProfileOut]
    has_more: bool
    next_cursor: str | None


class DeletedOut(BaseModel):
    id: str
    object: Literal["routing_profile"]
    deleted: bool


def _body(schema: dict) -> dict:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _actor(request) -> str:
    return f"API key {request.api_key.name}"


def _get(request, profile_id: str) -> RoutingProfile:
    pid = parse_public_id(profile_id)
    profile = scoped(RoutingProfile, request.org).filter(public_id=pid).first() if pid else None
    if profile is None:
        raise ApiError(404, f"routing profile {profile_id} not found")
    return profile


def _input(request) -> dict:
    data = json_body(request, required=True)
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object")
    return data


def _error(exc: profiles.ProfileError) -> ApiError:
    return ApiError(exc.status, exc.message, fields=exc.fields or None)


@router.get("/routing_profiles", response={200: ProfileListOut, **schemas.errors(*schemas.COMMON_ERRORS)},
            summary="List routing profiles, newest first")
def list_profiles(request, limit: int = LIMIT, cursor: str | None = CURSOR,
                  starting_after: str | None = STARTING_AFTER, ending_before: str | None = ENDING_BEFORE):
    qs = scoped(RoutingProfile, request.org)
    result = page(qs, limit=limit, cursor=cursor, starting_after=starting_after, ending_before=ending_before)
    return JsonResponse(result.body(profiles.to_dict))


@router.post("/routing_profiles", response={201: ProfileOut, **schemas.errors(*schemas.COMMON_ERRORS, 403, 409)},
             openapi_extra=_body(CREATE_SCHEMA), summary="Create a routing profile (a weighted split across agents)")
def create_profile(request):
    require_write(request)
    try:
        profile = profiles.create(request.org, _input(request), actor=_actor(request))
    except profiles.ProfileError as exc:
        raise _error(exc) from None
    return JsonResponse(profiles.to_dict(profile), status=201)


@router.get("/routing_profiles/{profile_id}", response={200: ProfileOut, **schemas.errors(*schemas.COMMON_ERRORS, 404)},
            summary="Read a routing profile")
def read_profile(request, profile_id: str = schemas.path_id("profile_id")):
    return JsonResponse(profiles.to_dict(_get(request, profile_id)))


@router.patch("/routing_profiles/{profile_id}",
              response={200: ProfileOut, **schemas.errors(*schemas.COMMON_ERRORS, 403, 404, 409)},
              openapi_extra=_body(PATCH_SCHEMA),
              summary="Update a routing profile (send only the fields to change; `agents` replaces the split)")
def update_profile(request, profile_id: str = schemas.path_id("profile_id")):
    require_write(request)
    profile = _get(request, profile_id)
    try:
        profile = profiles.update(profile, _input(request), actor=_actor(request))
    except profiles.ProfileError as exc:
        raise _error(exc) from None
    return JsonResponse(profiles.to_dict(RoutingProfile.objects.get(pk=profile.pk)))


@router.delete("/routing_profiles/{profile_id}",
               response={200: DeletedOut, **schemas.errors(*schemas.COMMON_ERRORS, 403, 404, 409)},
               summary="Delete a routing profile (409 while a batch uses it)")
def delete_profile(request, profile_id: str = schemas.path_id("profile_id")):
    require_write(request)
    profile = _get(request, profile_id)
    public_id = str(profile.public_id)
    try:
        profiles.delete(profile, actor=_actor(request))
    except profiles.ProfileError as exc:
        raise _error(exc) from None
    return JsonResponse({"id": public_id, "object": "routing_profile", "deleted": True})
