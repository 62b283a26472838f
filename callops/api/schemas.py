"""Pydantic models that describe request and response bodies in the OpenAPI document."""

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from ninja import Path
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from callops.batches.models import BatchStatus
from callops.calls.models import CallStatus

StatusLiteral = Literal["queued", "initiated", "ringing", "in_progress", "completed", "no_answer", "busy",
                        "canceled", "failed"]
assert set(get_args(StatusLiteral)) == set(CallStatus.values)


class ErrorOut(BaseModel):
    error: str
    fields: dict[str, str] | None = None
    call_id: str | None = None


class ReturnsType(BaseModel):
    """A field type: a type name, a list of allowed strings (enum), or a list type."""


# One callingbox.tool definition in its wire shape (callingbox/tools/__init__.py), written out
# inline: the create body's schema is embedded in the operation, where a $defs reference would not
# resolve. Unique names and a 64 KB total are checked by the API, not expressible here.
_TOOL_PARAMETERS = {"type": "object", "required": ["type"], "description": "JSON Schema of the tool's arguments",
                    "properties": {"type": {"const": "object"}, "properties": {"type": "object"}}}
_TOOL_COMMON = {
    "name": {"type": "string", "minLength": 1, "pattern": r"\S"},
    "description": {"type": "string"},
    "policy": {"enum": ["read", "confirm_first_write"]},
    "parameters": _TOOL_PARAMETERS,
}
TOOL_SCHEMA = {"oneOf": [
    {"type": "object", "additionalProperties": False, "title": "HttpTool",
     "required": ["type", "name", "description", "policy", "url", "parameters"],
     "properties": {"type": {"const": "http"}, **_TOOL_COMMON,
                    "url": {"type": "string", "pattern": "^https?://", "maxLength": 2000},
                    "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                    "timeout_ms": {"type": "integer", "minimum": 1}}},
    {"type": "object", "additionalProperties": False, "title": "BuiltinTool",
     "required": ["type", "name", "description", "policy", "builtin", "parameters"],
     "properties": {"type": {"const": "builtin"}, **_TOOL_COMMON,
                    "builtin": {"type": "string", "minLength": 1, "pattern": r"\S"},
                    "config": {"type": "object"}}},
]}
# Mirrors callops.calls.validation.LANGUAGE_RE.
LANGUAGE_PATTERN = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"


class TranscriptSegmentOut(BaseModel):
    sequence_no: int
    role: Literal["agent", "user"]
    text: str
    started_at: str | None
    ended_at: str | None
    duration_ms: int | None
    source: str


class TranscriptOut(BaseModel):
    segments: list[TranscriptSegmentOut]


class CallCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agent_id: str | None = Field(None, min_length=1, description="UUID of one of your agents (GET /v1/agents); "
                                 "defaults to the organization's default agent", json_schema_extra={"format": "uuid"})
    routing_profile_id: str | None = Field(None, min_length=1, json_schema_extra={"format": "uuid"},
                                           description="instead of agent_id: a routing profile "
                                                       "(/v1/routing_profiles) picks the agent from the call's id")
    to: str = Field(min_length=1, pattern=r"^\s*\+", description="Destination in E.164, e.g. +14155550123")
    from_number: str | None = Field(None, description="Caller id in E.164; defaults to the agent's")
    instructions: str | None = Field(None, description="Replaces the agent's default instructions")
    prompt: str | None = Field(None, description="CallingBox's name for instructions; if both are sent they "
                                                 "must be equal")
    language: str | None = Field(None, description="BCP-47 language tag, e.g. en or en-US", max_length=35,
                                 pattern=LANGUAGE_PATTERN)
    voicemail_action: Literal["hangup", "leave_message"] | None = Field(
        None, description="What to do on reaching voicemail (default: hang up)")
    tools: Annotated[list[dict[str, Any]] | None, WithJsonSchema({
        "anyOf": [{"type": "array", "maxItems": 32, "items": TOOL_SCHEMA}, {"type": "null"}],
        "description": "callingbox.tool definitions (http or builtin)"})] = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = Field(None, description="Your own data, returned as is (16 KB max)")
    returns: dict[str, Any] | None = Field(
        None, description='Extraction schema: field name → type, e.g. {"confirmed": "boolean"}')
    webhook_url: str | None = Field(None, description="http(s) URL that receives this call's events")
    scheduled_at: str | None = Field(None, description="ISO 8601 time in the future (Z or offset)")
    outside_hours: Literal["schedule", "reject"] | None = Field(
        None, description="When the call would go outside the organization's calling hours in the callee's "
                          "zone: schedule it for the window's next opening (default) or refuse it with 409")


class TimelineEventOut(BaseModel):
    at: datetime
    kind: str
    status: StatusLiteral | None
    from_status: StatusLiteral | None
    source: Literal["api", "user", "poll", "callback", "system"]
    raw_status: str | None
    reason: str | None
    ignored: bool
    note: str | None


class RoutingStepOut(BaseModel):
    agent_id: str
    provider: str
    provider_account: str | None
    outcome: str = Field(description="placed, or why the agent did not take the call: connection_refused, "
                                     "provider_unavailable, rate_limited, balance_low, account_refused, "
                                     "account_disabled, circuit_open, or the error that stopped routing; "
                                     "sending while the request to the agent's provider is out; after an "
                                     "interrupted placement, interrupted (never received, placed again) or "
                                     "placement_interrupted (the call failed without a second dial)")
    error_code: str | None
    at: datetime | None


class CallOut(BaseModel):
    id: str
    object: Literal["call"]
    agent_id: str
    batch_id: str | None
    retry_of: str | None
    attempt: int
    direction: str
    to_number: str
    from_number: str | None
    status: StatusLiteral
    answered_by: Literal["human", "machine", "unknown"] | None
    instructions: str
    prompt: str = Field(description="the same value as instructions (CallingBox's name)")
    language: str | None
    voicemail_action: Literal["hangup", "leave_message"] | None
    tools: list[dict[str, Any]]
    context: dict[str, Any]
    metadata: dict[str, Any]
    returns: dict[str, Any]
    result: dict[str, Any] | None
    result_status: Literal["pending", "completed", "failed"] | None
    result_error: str | None
    # {field: {"turn": index in the transcript, "text": that turn, "confidence": 0..1}}
    result_evidence: dict[str, Any] | None
    webhook_url: str | None
    webhook_status: Literal["pending", "retrying", "delivered", "failed"] | None
    webhook_error: str | None
    error_code: str | None
    error_message: str | None
    hangup_cause: str | None
    provider: str
    provider_call_id: str | None
    provider_status: str | None
    provider_reason: str | None
    created_at: datetime
    updated_at: datetime
    scheduled_at: datetime | None
    started_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    duration_seconds: int | None
    billed_duration_seconds: int | None
    billing_amount_milli_cents: int | None
    # CallingBox's credit reservation for the call; null when the provider does not say.
    reservation_status: Literal["reserved", "settled", "released"] | None
    billing_currency: str | None = Field(description="ISO 4217 currency of billing_amount_milli_cents")
    billing_estimated: bool | None = Field(
        description="true: estimated from the provider account's price table; false: the provider's own figure")
    routing_profile_id: str | None = Field(description="the routing profile that picked the agent")
    routing: list[RoutingStepOut] = Field(description="the placement's routing steps, in order")


class CallDetailOut(CallOut):
    timeline: list[TimelineEventOut]


class CallListOut(BaseModel):
    object: Literal["list"]
    data: list[CallOut]
    has_more: bool
    next_cursor: str | None


class AgentOut(BaseModel):
    id: str
    object: Literal["agent"]
    name: str
    provider: str
    provider_account: str
    from_number: str | None
    instructions: str
    returns: dict[str, Any]
    webhook_url: str | None
    is_default: bool
    created_at: datetime


class AgentListOut(BaseModel):
    object: Literal["list"]
    data: list[AgentOut]
    has_more: bool
    next_cursor: str | None


BatchStatusLiteral = Literal["created", "scheduled", "running", "paused", "completed", "stopped", "failed"]
assert set(get_args(BatchStatusLiteral)) == set(BatchStatus.values)


class BatchWindowOut(BaseModel):
    start_hour: int | None
    end_hour: int | None
    days: list[int] | None


class BatchRetryOut(BaseModel):
    max_attempts: int
    intervals: list[int]
    on: list[str]


class BatchBreakerOut(BaseModel):
    threshold: float | int
    min_calls: int | None
    window_seconds: int | None


class BatchOut(BaseModel):
    id: str
    object: Literal["batch"]
    name: str | None
    status: BatchStatusLiteral
    agent_id: str
    routing_profile_id: str | None = Field(description="the routing profile that picks each call's agent")
    mode: Literal["fanout", "provider"]
    pause_reason: str | None
    recipients: int
    rejected: int
    duplicates: int
    total_rows: int
    start_at: datetime | None
    timezone: str
    window: BatchWindowOut | None
    max_concurrency: int | None
    calls_per_minute: int | None
    retry: BatchRetryOut
    circuit_breaker: BatchBreakerOut | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class BatchProgressOut(BaseModel):
    recipients: int
    finished: int
    percent: float
    states: dict[str, int]
    outcomes: dict[str, int]
    calls: dict[str, int]
    attempts: int
    rate_per_minute: float | None
    eta: datetime | None
    average_duration_seconds: float | None


class BatchDetailOut(BatchOut):
    progress: BatchProgressOut


class RejectedRowOut(BaseModel):
    row_number: int
    phone: str
    reason: str


class BatchCreatedOut(BatchDetailOut):
    rejected_rows: list[RejectedRowOut]


class BatchPreviewOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    object: Literal["batch_preview"]
    columns: list[str]
    phone_column: str | None
    total_rows: int
    valid: int
    rejected: int
    duplicates: int
    valid_rows: list[dict[str, Any]]
    rejected_rows: list[dict[str, Any]]


class BatchListOut(BaseModel):
    object: Literal["list"]
    data: list[BatchOut]
    has_more: bool
    next_cursor: str | None


def declare(param, **schema):
    """`param` (a ninja Query/Path) with more JSON Schema keywords in the OpenAPI document (ninja
    builds its own json_schema_extra, so it cannot be passed in)."""
    param.json_schema_extra.update(schema)
    return param


def path_id(name: str):
    """A path parameter holding an object's public id. Declared `format: uuid` for clients; the
    view still takes any string, so a malformed id is the same 404 as an unknown one."""
    return declare(Path(..., description=f"the {name.removesuffix('_id')}'s id"), format="uuid")


def errors(*codes: int) -> dict:
    """Response declarations for the error statuses an operation can answer."""
    return {code: ErrorOut for code in codes}


# Statuses every authenticated route can answer (414: an over-long URL; 415: a body that is not
# JSON, see api/middleware.py).
COMMON_ERRORS = (400, 401, 413, 414, 415, 429)
