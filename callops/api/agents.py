"""/v1/agents: so a client can find the agent_id to call with, and what its calls extract.

Each agent also says its `returns` schema (calls without their own schema use it) and
`extractor`: the agent's own choice, or null when it follows the organization's default, which
`effective_extractor` names.
"""

from typing import Literal

from django.http import JsonResponse
from ninja import Router
from pydantic import Field

from callops.accounts.tenancy import parse_public_id, scoped
from callops.calls import routing
from callops.calls.models import Agent
from callops.calls.representations import agent_to_dict

from . import schemas
from .base import ApiError
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
