"""Every write to agents from the dashboard: create and edit, with input checked first.

An agent carries its `returns` schema (validated here, the bad field named) and its extractor
choice ("" = the organization's default, set by `callops.providers.services`), and which agent
is the organization's default (the one a call without `agent_id` uses). Bad input raises
the same ProviderInputError as the provider account forms, which share one POST handler. Every
change is audited.
"""

from __future__ import annotations

import json

from django.db import IntegrityError, transaction

from callops.accounts.services import audit
from callops.accounts.tenancy import parse_public_id
from callops.extraction.schema import SchemaError, validate_returns
from callops.providers.models import ProviderAccount
from callops.providers.services import ProviderInputError

from . import routing
from .models import Agent
from .validation import ValidationFailed, join_field_errors, normalize_phone, validate_webhook_url

EXTRACTORS = ["", "rules", "llm", "provider"]
MAX_RETURNS_TEXT = 20000


def _clean_agent(org, data: dict) -> dict:
    errors = {}
    name = (data.get("name") or "").strip()
    if not name or len(name) > 100:
        errors["name"] = "a name of 1 to 100 characters is required"
    account = None
    account_id = data.get("provider_account")
    if account_id:
        pid = parse_public_id(account_id)
        account = ProviderAccount.objects.filter(organization=org, public_id=pid).first() if pid else None
    if account is None:
        errors["provider_account"] = "choose one of your provider accounts"
    from_number = (data.get("from_number") or "").strip()
    if from_number:
        try:
            from_number = normalize_phone(from_number)
        except (ValidationFailed, ValueError) as exc:
            errors["from_number"] = getattr(exc, "message", None) or str(exc) or "not a phone number"
    webhook_url = (data.get("webhook_url") or "").strip()
    if webhook_url:
        try:
            webhook_url = validate_webhook_url(webhook_url)
        except (ValidationFailed, ValueError) as exc:
            errors["webhook_url"] = getattr(exc, "message", None) or str(exc) or "not an allowed URL"
    extractor = (data.get("extractor") or "").strip()
    if extractor not in EXTRACTORS:
        errors["extractor"] = "choose rules, llm, provider or the organization default"
    returns, problem = _clean_returns(data.get("returns"))
    if problem:
        errors["returns"] = problem
    provider_agent_id = (data.get("provider_agent_id") or "").strip()
    if len(provider_agent_id) > 200:
        errors["provider_agent_id"] = "at most 200 characters"
    instructions = data.get("instructions") or ""
    if len(instructions) > 20000:
        errors["instructions"] = "at most 20000 characters"
    if errors:
        raise ProviderInputError(join_field_errors(errors), errors)
    return {"name": name, "provider_account": account, "provider_agent_id": provider_agent_id,
            "from_number": from_number, "webhook_url": webhook_url, "extractor": extractor, "returns": returns,
            "instructions": instructions, "is_active": bool(data.get("is_active", True))}


def _clean_returns(value) -> tuple[dict, str]:
    """(canonical schema, "") or ({}, what is wrong). Accepts JSON text (the form) or an object."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return {}, ""
    if isinstance(value, str):
        if len(value) > MAX_RETURNS_TEXT:
            return {}, f"at most {MAX_RETURNS_TEXT} characters"
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            return {}, f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
    try:
        return validate_returns(value), ""
    except SchemaError as exc:
        return {}, exc.message


FALLBACK_FIELDS = [f"fallback_{i}" for i in range(1, routing.MAX_FALLBACKS + 1)]


def _clean_fallbacks(org, data: dict, agent=None) -> list[Agent] | None:
    """The fallback agents in order: the API's `fallback_agent_ids` list, or the form's
    `fallback_<n>` selects (blanks skipped). None when neither is given, so a caller that does not
    manage fallbacks leaves them alone."""
    if "fallback_agent_ids" in data:
        return _clean_fallback_ids(org, data["fallback_agent_ids"], agent)
    if "fallbacks" not in data:
        return None
    chosen: list[Agent] = []
    for name in FALLBACK_FIELDS:
        value = (data.get(name) or "").strip()
        if not value:
            continue
        pid = parse_public_id(value)
        fb = Agent.objects.filter(organization=org, public_id=pid).select_related("provider_account").first() \
            if pid else None
        if fb is None:
            raise ProviderInputError(f"{name}: choose one of your agents", {name: "choose one of your agents"})
        if agent is not None and fb.pk == agent.pk:
            raise ProviderInputError(f"{name}: an agent cannot be its own fallback", {name: "is this agent"})
        if fb in chosen:
            raise ProviderInputError(f"{name}: {fb.name} is already a fallback", {name: "chosen twice"})
        chosen.append(fb)
    return chosen


def _clean_fallback_ids(org, ids, agent=None) -> list[Agent]:
    """`fallback_agent_ids`: a list of at most MAX_FALLBACKS ids of other agents of `org`, each once.
    Every problem is named by its index; an id of another organization's agent reads as unknown."""
    field = "fallback_agent_ids"
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ProviderInputError(f"{field}: a list of agent ids is required", {field: "must be a list of agent ids"})
    if len(ids) > routing.MAX_FALLBACKS:
        raise ProviderInputError(f"{field}: at most {routing.MAX_FALLBACKS} fallback agents",
                                 {field: f"at most {routing.MAX_FALLBACKS} agents"})
    pids = [parse_public_id(i) for i in ids]
    found = {a.public_id: a for a in Agent.objects.filter(organization=org, public_id__in=[p for p in pids if p])
             .select_related("provider_account")}
    errors: dict[str, str] = {}
    chosen: list[Agent] = []
    for n, pid in enumerate(pids):
        key = f"{field}[{n}]"
        fb = found.get(pid) if pid else None
        if fb is None:
            errors[key] = "no such agent in this organization"
        elif agent is not None and fb.pk == agent.pk:
            errors[key] = "an agent cannot be its own fallback"
        elif fb in chosen:
            errors[key] = "the agent is listed twice"
        else:
            chosen.append(fb)
    if errors:
        raise ProviderInputError(join_field_errors(errors), errors)
    return chosen


def create_agent(org, data: dict, *, actor=None, ip=None):
    clean = _clean_agent(org, data)
    fallbacks = _clean_fallbacks(org, data)
    try:
        with transaction.atomic():
            agent = Agent.objects.create(organization=org, **clean)
            if fallbacks:
                routing.set_fallbacks(agent, fallbacks)
            audit(org, "agent.created", actor=actor, ip=ip, target=agent.name,
                  detail={"agent": str(agent.public_id), "provider": agent.provider_account.kind})
    except IntegrityError:
        raise ProviderInputError("name: another agent already has this name", {"name": "already used"}) from None
    return agent


def update_agent(agent, data: dict, *, actor=None, ip=None):
    clean = _clean_agent(agent.organization, data)
    fallbacks = _clean_fallbacks(agent.organization, data, agent)
    changed = sorted(k for k, v in clean.items() if getattr(agent, k) != v)
    if fallbacks is not None and fallbacks != routing.fallbacks_of(agent):
        changed.append("fallbacks")
    for k, v in clean.items():
        setattr(agent, k, v)
    try:
        with transaction.atomic():
            agent.save()
            if fallbacks is not None:
                routing.set_fallbacks(agent, fallbacks)
            if changed:
                audit(agent.organization, "agent.updated", actor=actor, ip=ip, target=agent.name,
                      detail={"agent": str(agent.public_id), "fields": changed})
    except IntegrityError:
        raise ProviderInputError("name: another agent already has this name", {"name": "already used"}) from None
    return agent


def make_default(agent, *, actor=None, ip=None):
    """Make `agent` the one its organization's calls use when they name none (the CallingBox SDK
    never names one). The old default is cleared first in the same transaction: the partial
    unique constraint allows one default per organization at any moment."""
    if not agent.is_active:
        raise ProviderInputError("an inactive agent cannot be the default; activate it first",
                                 {"is_default": "the agent is inactive"})
    with transaction.atomic():
        Agent.objects.filter(organization=agent.organization, is_default=True).exclude(pk=agent.pk).update(
            is_default=False)
        if not agent.is_default:
            Agent.objects.filter(pk=agent.pk).update(is_default=True)
            agent.is_default = True
            audit(agent.organization, "agent.made_default", actor=actor, ip=ip, target=agent.name,
                  detail={"agent": str(agent.public_id)})
    return agent
