"""/v1/agents: so a client can find the agent_id to call with, and what its calls extract; and
create and update agents, their ordered fallback agents included.

Each agent also says its `returns` schema (calls without their own schema use it) and
`extractor`: the agent's own choice, or null when it follows the organization's default, which
`effective_extractor` names. `fallback_agent_ids` are the agents its calls fail over to, in order
(callops.calls.routing). Writes go through callops.calls.agents, the same service the dashboard's
agent form uses.
"""

from typing import Annotated, Any, Literal

import pydantic
from django.http import JsonResponse
from ninja import Router
from pydantic import BaseModel, ConfigDict, Field

from callops.accounts.tenancy import parse_public_id, scoped
from callops.calls import agents as agent_services
from callops.calls import routing
from callops.calls.models import Agent
from callops.calls.representations import agent_to_dict
from callops.providers.services import ProviderInputError

from . import schemas
from .base import ApiError, json_body, require_write
from .pagination import CURSOR, ENDING_BEFORE, LIMIT, STARTING_AFTER, page

router = Router(tags=["agents"])

Extractor = Literal["rules", "llm", "provider"]


class AgentDetailOut(schemas.AgentOut):
    extractor: Extractor | None
    effective_extractor: Extractor
    fallback_agent_ids: list[str] = Field(
        description="the agents this agent's calls fail over to, in order, when a provider refuses before dialing")


class AgentDetailListOut(schemas.AgentListOut):
    # pydantic lets a subclass narrow a field; mypy sees list invariance.
    data: list[AgentDetailOut]  # type: ignore[assignment]


def _agent(agent) -> dict:
    own = agent.extractor or None
    return {**agent_to_dict(agent), "returns": agent.returns or {}, "extractor": own,
            "effective_extractor": own or agent.organization.default_extractor or "rules",
            "fallback_agent_ids": [str(a.public_id) for a in routing.fallbacks_of(agent)]}


@router.get("/agents", response={200: AgentDetailListOut, **schemas.errors(*schemas.COMMON_ERRORS)},
            summary="List your agents, newest first")
def list_agents(request, limit: int = LIMIT, cursor: str | None = CURSOR, starting_after: str | None = STARTING_AFTER,
                ending_before: str | None = ENDING_BEFORE):
    # Newest first like every other list (it was by name before lists paged), so that an
    # organization with more agents than a page can page through them with the SDKs.
    agents = scoped(Agent, request.org).filter(is_active=True).select_related("provider_account", "organization")
    result = page(agents, limit=limit, cursor=cursor, starting_after=starting_after, ending_before=ending_before,
                  anchors=scoped(Agent, request.org))
    return JsonResponse(result.body(_agent))


@router.get("/agents/{agent_id}", response={200: AgentDetailOut, **schemas.errors(*schemas.COMMON_ERRORS, 404)},
            summary="Read an agent")
def read_agent(request, agent_id: str = schemas.path_id("agent_id")):
    pid = parse_public_id(agent_id)
    agent = scoped(Agent, request.org).select_related("provider_account", "organization").filter(
        public_id=pid).first() if pid else None
    if agent is None:
        raise ApiError(404, f"agent {agent_id} not found")
    return JsonResponse(_agent(agent))


# --- writes -------------------------------------------------------------------------------------

_UUID: dict[str, Any] = {"format": "uuid"}
AgentId = Annotated[str, Field(json_schema_extra=_UUID)]
_FALLBACKS_TEXT = (f"ids of other agents of this organization, at most {routing.MAX_FALLBACKS}, in the order calls "
                   "fail over to them; [] clears them")
_EXTRACTOR_TEXT = "rules, llm or provider; null follows the organization's default"


class _AgentFields(BaseModel):
    # Strict: the body's types are exactly the document's (no "true" for true, no 1 for "1").
    model_config = ConfigDict(extra="forbid", strict=True)


class AgentCreate(_AgentFields):
    name: str = Field(min_length=1, max_length=100, pattern=r"\S")
    provider_account_id: str = Field(json_schema_extra=_UUID, description="one of your provider accounts")
    provider_agent_id: str = Field("", max_length=200, description="the agent's id at the provider")
    from_number: str | None = Field(None, description="caller id in E.164")
    instructions: str = Field("", max_length=20000)
    webhook_url: str | None = None
    extractor: Extractor | None = Field(None, description=_EXTRACTOR_TEXT)
    returns: dict[str, Any] = Field(default_factory=dict, description="the agent's `returns` schema")
    is_active: bool = True
    fallback_agent_ids: list[AgentId] = Field(default_factory=list, max_length=routing.MAX_FALLBACKS,
                                              json_schema_extra={"uniqueItems": True}, description=_FALLBACKS_TEXT)


class AgentUpdate(_AgentFields):
    """Only the fields sent change (None here is "not sent"; null is refused where the field
    is not nullable); `fallback_agent_ids` replaces the whole list."""

    name: str = Field(None, min_length=1, max_length=100, pattern=r"\S")  # type: ignore[assignment]
    provider_account_id: str = Field(None, json_schema_extra=_UUID)  # type: ignore[assignment]
    provider_agent_id: str = Field(None, max_length=200)  # type: ignore[assignment]
    from_number: str | None = None
    instructions: str = Field(None, max_length=20000)  # type: ignore[assignment]
    webhook_url: str | None = None
    extractor: Extractor | None = Field(None, description=_EXTRACTOR_TEXT)
    returns: dict[str, Any] = None  # type: ignore[assignment]
    is_active: bool = None  # type: ignore[assignment]
    fallback_agent_ids: list[AgentId] = Field(None, max_length=routing.MAX_FALLBACKS,  # type: ignore[assignment,arg-type]
                                              json_schema_extra={"uniqueItems": True}, description=_FALLBACKS_TEXT)


def _write_schema(model: type[BaseModel], *, partial: bool = False) -> dict:
    """The body's JSON schema, inline (no $defs here). For a partial update the defaults are
    dropped (an absent field keeps its value) and at least one field is required."""
    schema = {k: v for k, v in model.model_json_schema().items() if k not in ("title", "description")}
    if partial:
        schema["properties"] = {name: {k: v for k, v in prop.items() if k != "default"}
                                for name, prop in schema["properties"].items()}
        schema["minProperties"] = 1
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


# The service's names for the fields the API calls otherwise.
_TO_SERVICE = {"provider_account_id": "provider_account"}
_FROM_SERVICE = {v: k for k, v in _TO_SERVICE.items()}


def _parse(request, model: type[_AgentFields]) -> dict:
    data = json_body(request, required=model is AgentUpdate)
    try:
        parsed = model.model_validate(data)
    except pydantic.ValidationError as exc:
        fields: dict[str, str] = {}
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]] or ["body"]
            key = loc[0] + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in loc[1:])
            fields.setdefault(key, "is not a field" if err["type"] == "extra_forbidden" else err["msg"])
        raise ApiError(400, "; ".join(f"{k}: {v}" for k, v in fields.items()), fields=fields) from None
    sent = parsed.model_dump(exclude_unset=model is AgentUpdate)
    return {_TO_SERVICE.get(k, k): ("" if v is None else v) for k, v in sent.items()}


def _input_error(exc: ProviderInputError) -> ApiError:
    fields = {_FROM_SERVICE.get(k, k): v for k, v in exc.fields.items()}
    if fields == {"name": "already used"}:
        return ApiError(409, exc.message, fields=fields)
    message = exc.message
    for service_name, api_name in _FROM_SERVICE.items():
        message = message.replace(f"{service_name}:", f"{api_name}:")
    return ApiError(400, message, fields=fields or None)


def _current(agent: Agent) -> dict:
    """The agent's settings in the service's input shape, for a partial update to start from."""
    return {"name": agent.name, "provider_account": str(agent.provider_account.public_id),
            "provider_agent_id": agent.provider_agent_id, "from_number": agent.from_number,
            "webhook_url": agent.webhook_url, "extractor": agent.extractor, "returns": agent.returns or {},
            "instructions": agent.instructions, "is_active": agent.is_active}


def _reread(agent: Agent) -> dict:
    return _agent(Agent.objects.select_related("provider_account", "organization").get(pk=agent.pk))


@router.post("/agents", response={201: AgentDetailOut, **schemas.errors(*schemas.COMMON_ERRORS, 403, 409)},
             openapi_extra=_write_schema(AgentCreate),
             summary="Create an agent (with its fallback agents, in order)")
def create_agent(request):
    require_write(request)
    data = _parse(request, AgentCreate)
    try:
        agent = agent_services.create_agent(request.org, data, actor=f"API key {request.api_key.name}")
    except ProviderInputError as exc:
        raise _input_error(exc) from None
    return JsonResponse(_reread(agent), status=201)


@router.patch("/agents/{agent_id}",
              response={200: AgentDetailOut, **schemas.errors(*schemas.COMMON_ERRORS, 403, 404, 409)},
              openapi_extra=_write_schema(AgentUpdate, partial=True),
              summary="Update an agent (send only the fields to change; `fallback_agent_ids` replaces the list)")
def update_agent(request, agent_id: str = schemas.path_id("agent_id")):
    require_write(request)
    pid = parse_public_id(agent_id)
    agent = scoped(Agent, request.org).select_related("provider_account", "organization").filter(
        public_id=pid).first() if pid else None
    if agent is None:
        raise ApiError(404, f"agent {agent_id} not found")
    data = _parse(request, AgentUpdate)
    if not data:
        raise ApiError(400, "send at least one field to change", fields={"body": "has no fields"})
    try:
        agent = agent_services.update_agent(agent, {**_current(agent), **data},
                                            actor=f"API key {request.api_key.name}")
    except ProviderInputError as exc:
        raise _input_error(exc) from None
    return JsonResponse(_reread(agent))
