"""Every write to routing profiles (weighted traffic splits), shared by the API and the dashboard.

A profile is a name and up to MAX_AGENTS (agent, weight) pairs; a call routed by it gets the
agent `callops.calls.routing.pick` chooses from its id, so the split is deterministic per call.
Input is checked whole before anything is written; every change is audited.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from callops.accounts.services import audit
from callops.accounts.tenancy import parse_public_id
from callops.lib.isotime import format as iso

from .models import Agent, Call
from .routing_models import RoutingProfile, RoutingWeight

MAX_AGENTS = 10
MAX_WEIGHT = 10000


class ProfileError(ValueError):
    def __init__(self, message: str, fields: dict[str, str] | None = None, *, status: int = 400):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        self.status = status


@dataclass
class CleanProfile:
    name: str
    weights: list[tuple[Agent, int]]


def clean(org, data: dict, *, partial_of: RoutingProfile | None = None) -> CleanProfile:
    """`data` is {"name": str, "agents": [{"agent_id": uuid, "weight": int}, ...]}; with
    `partial_of` (an update) either may be left out and keeps the profile's value."""
    errors: dict[str, str] = {}
    unknown = sorted(set(data) - {"name", "agents"})
    if unknown:
        raise ProfileError(f"unknown field {unknown[0]}", {k: "is not a field" for k in unknown})
    if "name" in data or partial_of is None:
        name = data.get("name")
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > 100:
            errors["name"] = "a name of 1 to 100 characters is required"
            name = ""
        name = name.strip()
    else:
        name = partial_of.name
    weights: list[tuple[Agent, int]] = []
    if "agents" in data or partial_of is None:
        items = data.get("agents")
        if not isinstance(items, list) or not items or len(items) > MAX_AGENTS:
            errors["agents"] = f"a list of 1 to {MAX_AGENTS} {{agent_id, weight}} objects is required"
            items = []
        for i, item in enumerate(items):
            key = f"agents[{i}]"
            if not isinstance(item, dict) or set(item) - {"agent_id", "weight"}:
                errors[key] = "must be an object with agent_id and weight"
                continue
            pid = parse_public_id(str(item.get("agent_id") or ""))
            agent = Agent.objects.filter(organization=org, public_id=pid).select_related("provider_account").first() \
                if pid else None
            weight = item.get("weight")
            if agent is None:
                errors[f"{key}.agent_id"] = "no such agent in this organization"
            elif any(a.pk == agent.pk for a, _ in weights):
                errors[f"{key}.agent_id"] = "the agent is listed twice"
            if not isinstance(weight, int) or isinstance(weight, bool) or not 0 <= weight <= MAX_WEIGHT:
                errors[f"{key}.weight"] = f"an integer from 0 to {MAX_WEIGHT}"
            elif agent is not None:
                weights.append((agent, weight))
        if not errors and not any(w for _, w in weights):
            errors["agents"] = "at least one agent needs a weight above 0"
    else:
        weights = [(w.agent, w.weight) for w in partial_of.weights.select_related("agent__provider_account")]
    if errors:
        raise ProfileError("; ".join(f"{k}: {v}" for k, v in errors.items()), errors)
    return CleanProfile(name, weights)


def _write_weights(profile: RoutingProfile, weights: list[tuple[Agent, int]]) -> None:
    profile.__dict__.pop("_picked_weights", None)  # what routing.pick read from the old split
    RoutingWeight.objects.filter(profile=profile).delete()
    RoutingWeight.objects.bulk_create([RoutingWeight(profile=profile, agent=agent, weight=weight, position=i)
                                       for i, (agent, weight) in enumerate(weights)])


def _detail(profile: RoutingProfile) -> dict:
    return {"profile": str(profile.public_id), "split": split_label(profile)}


def create(org, data: dict, *, actor=None) -> RoutingProfile:
    c = clean(org, data)
    try:
        with transaction.atomic():
            profile = RoutingProfile.objects.create(organization=org, name=c.name)
            _write_weights(profile, c.weights)
            audit(org, "routing_profile.created", actor=actor, target=profile.name, detail=_detail(profile))
    except IntegrityError:
        raise ProfileError("name: another routing profile has this name", {"name": "already used"},
                           status=409) from None
    return profile


def update(profile: RoutingProfile, data: dict, *, actor=None) -> RoutingProfile:
    c = clean(profile.organization, data, partial_of=profile)
    try:
        with transaction.atomic():
            RoutingProfile.objects.filter(pk=profile.pk).update(name=c.name, updated_at=timezone.now())
            profile.name = c.name
            _write_weights(profile, c.weights)
            audit(profile.organization, "routing_profile.updated", actor=actor, target=profile.name,
                  detail=_detail(profile))
    except IntegrityError:
        raise ProfileError("name: another routing profile has this name", {"name": "already used"},
                           status=409) from None
    return profile


def delete(profile: RoutingProfile, *, actor=None) -> None:
    try:
        with transaction.atomic():
            audit(profile.organization, "routing_profile.deleted", actor=actor, target=profile.name,
                  detail={"profile": str(profile.public_id)})
            # Through the Call queryset rather than the delete's own SET NULL (which bypasses it), so
            # the rollups move these calls to "no profile" in this transaction and stay equal to them.
            Call.objects.filter(routing_profile=profile).update(routing_profile=None)
            profile.delete()
    except ProtectedError:
        raise ProfileError(f"routing profile {profile.name} is used by a batch; it cannot be deleted",
                           status=409) from None


def split_label(profile: RoutingProfile) -> str:
    """"Bolna agent 80 / CallingBox agent 20", as percentages of the total weight."""
    weights = list(profile.weights.select_related("agent").order_by("position"))
    total = sum(w.weight for w in weights) or 1
    return " / ".join(f"{w.agent.name} {round(100 * w.weight / total)}%" for w in weights)


def to_dict(profile: RoutingProfile) -> dict:
    weights = list(profile.weights.select_related("agent__provider_account").order_by("position"))
    total = sum(w.weight for w in weights) or 1
    return {
        "id": str(profile.public_id), "object": "routing_profile", "name": profile.name,
        "agents": [{"agent_id": str(w.agent.public_id), "agent": w.agent.name, "provider": w.agent.provider,
                    "weight": w.weight, "share": round(w.weight / total, 4)} for w in weights],
        "created_at": iso(profile.created_at), "updated_at": iso(profile.updated_at),
    }
