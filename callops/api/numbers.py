"""/v1/numbers: the organization's caller IDs across its provider accounts, in the CallingBox
SDK's shapes (`PhoneNumber`, `AvailableNumber`), so the official SDK and CLI work against callops.

Searching and buying go through to a provider that sells numbers (CallingBox, the sandbox):
`provider_account_id` chooses the account; without it the organization's only selling account
is used. callops places outbound calls only, so the inbound configuration route answers 501.
"""

from dataclasses import asdict
from datetime import datetime
from typing import Any, Literal

from django.http import JsonResponse
from ninja import Query, Router
from pydantic import BaseModel, ConfigDict, Field

from callops.calls.validation import normalize_phone
from callops.providers import numbers
from callops.providers.base import ProviderError

from . import schemas
from .base import ApiError, json_body, require_write
from .idempotency import idempotent
from .pagination import CURSOR, ENDING_BEFORE, LIMIT, STARTING_AFTER, page

router = Router(tags=["numbers"])

INBOUND_UNSUPPORTED = "inbound calls are not supported: callops places outbound calls only"


class PhoneNumberOut(BaseModel):
    id: str
    object: Literal["phone_number"]
    e164: str
    friendly_name: str | None
    country_code: str
    number_type: str = Field(description="local, toll_free, mobile; unknown for an agent's caller ID")
    status: str
    monthly_cost_cents: int
    purchased_at: datetime
    provider: str
    provider_account_id: str
    source: Literal["purchased", "agent", "provider"] = Field(
        description="bought through callops, an agent's from_number, or found on the provider account")
    inbound_enabled: bool
    inbound_prompt: str | None
    inbound_returns: dict[str, Any] | None
    inbound_webhook_url: str | None
    inbound_language: str | None
    inbound_tools: list[dict[str, Any]] | None
    inbound_voicemail_action: str
    created_at: datetime


class PhoneNumberListOut(BaseModel):
    object: Literal["list"]
    data: list[PhoneNumberOut]
    has_more: bool
    next_cursor: str | None


class AvailableNumberOut(BaseModel):
    phone_number: str
    country_code: str
    number_type: str
    state: str | None
    locality: str | None
    monthly_cost_cents: int
    upfront_cost_cents: int
    currency: str


class AvailableNumberListOut(BaseModel):
    object: Literal["list"]
    data: list[AvailableNumberOut]
    provider_account_id: str


class PurchaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    phone_number: str = Field(description="E.164 number from GET /v1/numbers/available")
    provider_account_id: str | None = Field(None, description="Required when several of your accounts sell numbers")


class InboundConfigIn(BaseModel):
    enabled: bool | None = None
    prompt: str | None = None
    returns: dict[str, Any] | None = None
    webhook_url: str | None = None
    language: str | None = None
    tools: list[dict[str, Any]] | None = None
    voicemail_action: str | None = None


def _number_error(exc: numbers.NumberError) -> ApiError:
    return ApiError(exc.status, exc.message, fields={exc.field: exc.message} if exc.field else None)


def _provider_error(exc: ProviderError) -> ApiError:
    # The provider's refusal of the request itself (a number not for sale, taken) is the client's
    # to fix: 400/409. Anything else (down, timing out, bad credentials) is a gateway failure.
    if exc.http_status == 409:
        return ApiError(409, exc.message, fields={"phone_number": exc.message})
    if exc.http_status in (400, 404, 422):
        return ApiError(400, exc.message, fields={"phone_number": exc.message})
    return ApiError(502, f"the provider could not complete the request: {exc.message}")


@router.get("/numbers", response={200: PhoneNumberListOut, **schemas.errors(*schemas.COMMON_ERRORS)},
            summary="List your caller IDs across provider accounts, newest first")
def list_numbers(request, limit: int = LIMIT, cursor: str | None = CURSOR, starting_after: str | None = STARTING_AFTER,
                 ending_before: str | None = ENDING_BEFORE):
    # The same keyset pages as every other list; the ids of starting_after / ending_before are
    # looked up among the numbers this organization can list (another's are a 400, not a page).
    usable = numbers.org_numbers(request.org)
    result = page(usable, limit=limit, cursor=cursor, starting_after=starting_after, ending_before=ending_before)
    return JsonResponse(result.body(numbers.number_to_dict))


@router.get("/numbers/available",
            response={200: AvailableNumberListOut, **schemas.errors(*schemas.COMMON_ERRORS, 502)},
            summary="Search numbers for sale through a provider")
def available_numbers(request, country_code: str = Query("US", min_length=2, max_length=2),
                      area_code: str | None = Query(None, pattern=r"^\d{3}$"),
                      number_type: Literal["local", "toll_free"] | None = Query(None),
                      limit: int = Query(10, ge=1, le=50),
                      provider_account_id: str | None = Query(None, max_length=64)):
    try:
        account = numbers.selling_account(request.org, provider_account_id)
        found = numbers.search_available(account, country_code=country_code.upper(), area_code=area_code or "",
                                         number_type=number_type or "", limit=limit)
    except numbers.NumberError as exc:
        raise _number_error(exc)
    except ProviderError as exc:
        raise _provider_error(exc)
    return JsonResponse({"object": "list", "data": [asdict(n) for n in found],
                         "provider_account_id": str(account.public_id)})


@router.post("/numbers/purchase",
             response={201: PhoneNumberOut, **schemas.errors(*schemas.COMMON_ERRORS, 403, 409, 502)},
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": PurchaseIn.model_json_schema()}}},
                 "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                                 "schema": {"type": "string", "maxLength": 255}}]},
             summary="Buy a number; it can then be a call's from_number")
@idempotent
def purchase_number(request):
    require_write(request)
    data = json_body(request)
    unknown = sorted(set(data) - set(PurchaseIn.model_fields))
    if unknown:
        raise ApiError(400, f"{unknown[0]} is not a field of a purchase", fields={k: "is not a field" for k in unknown})
    phone = data.get("phone_number")
    if not isinstance(phone, str) or not phone.strip():
        raise ApiError(400, "phone_number is required", fields={"phone_number": "is required"})
    try:
        phone = normalize_phone(phone)
    except ValueError as exc:
        raise ApiError(400, f"phone_number {exc}", fields={"phone_number": str(exc)})
    account_id = data.get("provider_account_id")
    if account_id is not None and not isinstance(account_id, str):
        raise ApiError(400, "provider_account_id must be a string", fields={"provider_account_id": "must be a string"})
    try:
        account = numbers.selling_account(request.org, account_id)
        number = numbers.purchase(account, phone, actor_label=f"API key {request.api_key.name}")
    except numbers.NumberError as exc:
        raise _number_error(exc)
    except ProviderError as exc:
        raise _provider_error(exc)
    return JsonResponse(numbers.number_to_dict(number), status=201)


@router.put("/numbers/{number_id}/inbound",
            response={501: schemas.ErrorOut, **schemas.errors(*schemas.COMMON_ERRORS, 403, 404)},
            openapi_extra={"requestBody": {"required": False, "content": {
                "application/json": {"schema": InboundConfigIn.model_json_schema()}}}},
            summary="Inbound configuration: not supported (outbound calls only)")
def update_inbound(request, number_id: str):
    require_write(request)
    if numbers.get_number(request.org, number_id) is None:
        raise ApiError(404, f"number {number_id} not found")
    raise ApiError(501, INBOUND_UNSUPPORTED)
