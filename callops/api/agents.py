"""/v1/agents: so a client can find the agent_id to call with."""

from django.http import JsonResponse
from ninja import Router

from callops.accounts.tenancy import parse_public_id, scoped
from callops.calls.models import Agent

from . import schemas
from .base import ApiError
from .serializers import agent_to_dict

router = Router(tags=["agents"])


@router.get("/agents", response={200: schemas.AgentListOut, **schemas.errors(*schemas.COMMON_ERRORS)},
            summary="List your agents")
def list_agents(request):
    agents = scoped(Agent, request.org).filter(is_active=True).select_related("provider_account").order_by("name")
    return JsonResponse({"object": "list", "data": [agent_to_dict(a) for a in agents]})


@router.get("/agents/{agent_id}", response={200: schemas.AgentOut, **schemas.errors(*schemas.COMMON_ERRORS, 404)},
            summary="Read an agent")
def read_agent(request, agent_id: str):
    pid = parse_public_id(agent_id)
    agent = scoped(Agent, request.org).select_related("provider_account").filter(public_id=pid).first() if pid else None
    if agent is None:
        raise ApiError(404, f"agent {agent_id} not found")
    return JsonResponse(agent_to_dict(agent))
