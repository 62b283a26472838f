"""Validation of a new call's input, shared by the API and the dashboard form.

Everything is checked before anything is written (design rule 6); a failure names each bad field.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import phonenumbers
from django.utils import timezone

from callops.accounts.tenancy import parse_public_id
from callops.extraction.schema import SchemaError, validate_returns
from callops.lib import isotime, netguard
from callops.lib.nul_chars import has_nul
from callops.providers.registry import adapter_class

from .models import Agent, RoutingProfile
from .routing import RoutingConfigError, pick

MAX_METADATA_BYTES = 16 * 1024
MAX_CONTEXT_BYTES = 32 * 1024
MAX_INSTRUCTIONS = 20_000
MAX_URL = 2000
MAX_TOOLS = 32
MAX_TOOLS_BYTES = 64 * 1024

# A BCP-47 tag in the form voice providers take: a 2-3 letter language, then optional script,
# region or variant subtags (en, es, en-US, zh-Hans-CN). Checked for shape, not against the registry.
LANGUAGE_RE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
# callingbox 0.1.0 CLI: "Behavior on voicemail: hangup or leave_message."
VOICEMAIL_ACTIONS = ("hangup", "leave_message")
# callingbox.tool wire shapes (tools/__init__.py): the keys each type may carry.
TOOL_POLICIES = ("read", "confirm_first_write")
TOOL_KEYS = {
    "http": ({"type", "name", "description", "policy", "url", "parameters"}, {"headers", "timeout_ms"}),
    "builtin": ({"type", "name", "description", "policy", "builtin", "parameters"}, {"config"}),
}
NO_DEFAULT_AGENT = "is required (this organization has no default agent; set one in Settings → Providers & agents)"

_PHONE_REASONS = {
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "has an unknown country code",
    phonenumbers.ValidationResult.TOO_SHORT: "is too short",
    phonenumbers.ValidationResult.TOO_LONG: "is too long",
    phonenumbers.ValidationResult.INVALID_LENGTH: "has the wrong number of digits for its country",
    phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "is a local number; include the area code",
}


def _labelled(name: str, problem: str) -> str:
    # A message that already names its field ("returns.when: unknown type", from the schema
    # checker) is not labelled again: "returns: returns.when: ..." reads as a stutter.
    return problem if problem.startswith((f"{name}:", f"{name}.", f"{name} ")) else f"{name}: {problem}"


def join_field_errors(fields: dict[str, str]) -> str:
    """One message naming every bad field, each labelled once."""
    return "; ".join(_labelled(k, v) for k, v in fields.items())


class ValidationFailed(Exception):
    """Input that cannot be accepted: `fields` maps each bad field to what is wrong with it."""

    def __init__(self, fields: dict[str, str], message: str | None = None):
        self.fields = fields
        self.message = message or join_field_errors(fields)
        super().__init__(self.message)


@dataclass
class CallInput:
    agent: Agent
    to_number: str
    from_number: str = ""
    instructions: str = ""
    context: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)
    returns: dict = field(default_factory=dict)
    webhook_url: str = ""
    scheduled_at: datetime | None = None
    language: str = ""
    voicemail_action: str = ""
    tools: list = field(default_factory=list)
    # A call routed by a profile: its id is chosen first, because the profile picks the agent from it.
    routing_profile: RoutingProfile | None = None
    public_id: uuid.UUID | None = None

    def as_kwargs(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def normalize_phone(value, *, default_region: str | None = None) -> str:
    """The E.164 form of `value`, or ValueError saying what is wrong with it."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("is required: an E.164 phone number such as +14155550123")
    raw = value.strip()
    if default_region is None and not raw.startswith("+"):
        raise ValueError(f"{raw!r} must start with + and the country code (E.164), e.g. +14155550123")
    try:
        parsed = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"{raw!r} is not a phone number ({exc._msg.rstrip('.').lower()})") from None
    reason = phonenumbers.is_possible_number_with_reason(parsed)
    if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
        raise ValueError(f"{raw!r} {_PHONE_REASONS.get(reason, 'is not a possible number')}")
    if not phonenumbers.is_valid_number(parsed):
        region = phonenumbers.region_code_for_number(parsed) or "its country"
        raise ValueError(f"{raw!r} is not a valid number in {region}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def parse_when(value, *, now: datetime | None = None) -> datetime:
    """An ISO 8601 time in the future; `Z` and numeric offsets both accepted, naive times refused."""
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 string such as 2026-05-01T15:00:00Z")
    when = isotime.parse(value)
    if when is None:
        raise ValueError(f"{value!r} is not an ISO 8601 date-time such as 2026-05-01T15:00:00Z")
    if timezone.is_naive(when):
        raise ValueError(f"{value!r} has no timezone; add Z or an offset such as +02:00")
    if when <= (now or timezone.now()):
        raise ValueError(f"{value!r} is in the past; scheduled_at must be in the future")
    return when


def _json_object(name: str, value, limit: int, errors: dict) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors[name] = "must be a JSON object"
        return {}
    size = len(json.dumps(value, separators=(",", ":")).encode())
    if size > limit:
        errors[name] = f"is {size} bytes; the limit is {limit} bytes"
        return {}
    return value


def validate_webhook_url(value) -> str:
    """An http(s) URL that does not point at a private address (unless allow-listed).

    This is early feedback; the connect-time guard in callops.lib.http is what enforces it.
    """
    if not isinstance(value, str):
        raise ValueError("must be an http or https URL")
    if len(value.strip()) > MAX_URL:
        raise ValueError(f"is {len(value.strip())} characters; the limit is {MAX_URL}")
    error = netguard.check_url(value.strip())
    if error:
        raise ValueError(error)
    return value.strip()


def _str(name: str, value, limit: int, errors: dict) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        errors[name] = "must be a string"
        return ""
    if len(value) > limit:
        errors[name] = f"is {len(value)} characters; the limit is {limit}"
        return ""
    return value


def _tool_error(tool) -> str | None:
    """What is wrong with one callingbox.tool definition in its wire shape, or None."""
    if not isinstance(tool, dict):
        return "must be a JSON object (a callingbox.tool.http or tool.builtin definition)"
    kind = tool.get("type")
    if kind not in TOOL_KEYS:
        return f"type must be http or builtin, got {kind!r}"
    required, optional = TOOL_KEYS[kind]
    missing = sorted(required - set(tool))
    if missing:
        return f"a {kind} tool needs {', '.join(missing)}"
    unknown = sorted(set(tool) - required - optional)
    if unknown:
        return f"{unknown[0]!r} is not a field of a {kind} tool"
    if not isinstance(tool["name"], str) or not tool["name"].strip():
        return "name must be a non-empty string"
    if not isinstance(tool["description"], str):
        return "description must be a string"
    if tool["policy"] not in TOOL_POLICIES:
        return f"policy must be one of {', '.join(TOOL_POLICIES)}"
    params = tool["parameters"]
    if not isinstance(params, dict) or params.get("type") != "object" or not isinstance(
            params.get("properties", {}), dict):  # the SDK always sends properties; a bare object is fine
        return "parameters must be a JSON Schema object ({\"type\": \"object\", \"properties\": {...}})"
    if kind == "http":
        if not isinstance(tool["url"], str) or not tool["url"].startswith(("https://", "http://")):
            return "url must be an http or https URL"
        headers = tool.get("headers")
        if headers is not None and (not isinstance(headers, dict)
                                    or not all(isinstance(v, str) for v in headers.values())):
            return "headers must be an object of strings"
        timeout = tool.get("timeout_ms")
        if timeout is not None and (not isinstance(timeout, int) or isinstance(timeout, bool) or timeout <= 0):
            return "timeout_ms must be a positive integer"
    else:
        if not isinstance(tool["builtin"], str) or not tool["builtin"].strip():
            return "builtin must be a non-empty string"
        if tool.get("config") is not None and not isinstance(tool["config"], dict):
            return "config must be a JSON object"
    return None


def validate_tools(value) -> list:
    """The call's tools as given (callingbox.tool wire shapes), or ValueError naming the first bad one."""
    if not isinstance(value, list):
        raise ValueError("must be a list of tool definitions")
    if len(value) > MAX_TOOLS:
        raise ValueError(f"has {len(value)} tools; the limit is {MAX_TOOLS}")
    size = len(json.dumps(value, separators=(",", ":")).encode())
    if size > MAX_TOOLS_BYTES:
        raise ValueError(f"is {size} bytes; the limit is {MAX_TOOLS_BYTES} bytes")
    names = set()
    for i, tool in enumerate(value):
        error = _tool_error(tool)
        if error:
            raise ValueError(f"tool {i}: {error}")
        if tool["name"] in names:
            raise ValueError(f"tool {i}: the name {tool['name']!r} is used twice")
        names.add(tool["name"])
    return value


def validate_language(value) -> str:
    if not isinstance(value, str) or not LANGUAGE_RE.fullmatch(value.strip()):
        raise ValueError(f"{value!r} is not a BCP-47 language tag such as en or en-US")
    return value.strip()


ALLOWED_FIELDS = {"agent_id", "to", "from_number", "instructions", "prompt", "context", "metadata", "returns",
                  "webhook_url", "scheduled_at", "language", "voicemail_action", "tools", "routing_profile_id"}


def validate_call_input(org, data, *, now: datetime | None = None) -> CallInput:
    if not isinstance(data, dict):
        raise ValidationFailed({"body": "must be a JSON object"}, "request body must be a JSON object")
    errors: dict[str, str] = {}
    for name, value in data.items():
        if has_nul(name) or has_nul(value):
            errors[str(name).replace("\x00", "")] = "must not contain NUL characters"
    if errors:
        raise ValidationFailed(errors)
    for unknown in sorted(set(data) - ALLOWED_FIELDS):
        errors[unknown] = "is not a field of a call"

    agent = None
    agent_id = data.get("agent_id")
    profile, public_id = None, None
    if data.get("routing_profile_id") not in (None, ""):
        pid = parse_public_id(str(data["routing_profile_id"]))
        profile = RoutingProfile.objects.filter(organization=org, public_id=pid).first() if pid else None
        if profile is None:
            errors["routing_profile_id"] = f"no routing profile {data['routing_profile_id']} in this organization"
        elif agent_id not in (None, ""):
            errors["agent_id"] = "give agent_id or routing_profile_id, not both"
        else:
            public_id = uuid.uuid4()
            try:
                agent = pick(profile, public_id)
            except RoutingConfigError as exc:
                errors["routing_profile_id"] = str(exc)
    elif agent_id in (None, ""):
        # The CallingBox SDK names no agent: the organization's default agent places the call.
        agent = Agent.objects.select_related("provider_account").filter(organization=org, is_default=True,
                                                                        is_active=True).first()
        if agent is None:
            errors["agent_id"] = NO_DEFAULT_AGENT
    else:
        pid = parse_public_id(agent_id)
        agent = (Agent.objects.select_related("provider_account").filter(organization=org, public_id=pid,
                                                                           is_active=True).first()
                 if pid else None)
        if agent is None:
            errors["agent_id"] = f"no agent {agent_id} in this organization"

    to_number = ""
    try:
        to_number = normalize_phone(data.get("to"))
    except ValueError as exc:
        errors["to"] = str(exc)

    from_number = ""
    if data.get("from_number") not in (None, ""):
        try:
            from_number = normalize_phone(data.get("from_number"))
        except ValueError as exc:
            errors["from_number"] = str(exc)

    instructions = _str("instructions", data.get("instructions"), MAX_INSTRUCTIONS, errors)
    # `prompt` is CallingBox's name for the same thing.
    prompt = _str("prompt", data.get("prompt"), MAX_INSTRUCTIONS, errors)
    if prompt and instructions and prompt != instructions:
        errors["prompt"] = "differs from instructions; they are two names for one field, send one"
    instructions = instructions or prompt

    language = voicemail_action = ""
    tools: list = []
    if data.get("language") not in (None, ""):
        try:
            language = validate_language(data.get("language"))
        except ValueError as exc:
            errors["language"] = str(exc)
    if data.get("voicemail_action") not in (None, ""):
        voicemail_action = data["voicemail_action"]
        if voicemail_action not in VOICEMAIL_ACTIONS:
            errors["voicemail_action"] = f"must be one of {', '.join(VOICEMAIL_ACTIONS)}, got {voicemail_action!r}"
            voicemail_action = ""
    if data.get("tools") not in (None, []):
        try:
            tools = validate_tools(data.get("tools"))
        except ValueError as exc:
            errors["tools"] = str(exc)
    if agent is not None:
        adapter = adapter_class(agent.provider_account.kind)
        for name, value in (("language", language), ("voicemail_action", voicemail_action), ("tools", tools)):
            refusal = value and adapter.per_call_refusal(name, agent)
            if refusal:
                errors[name] = refusal
    context = _json_object("context", data.get("context"), MAX_CONTEXT_BYTES, errors)
    metadata = _json_object("metadata", data.get("metadata"), MAX_METADATA_BYTES, errors)

    returns = {}
    if data.get("returns") not in (None, {}):
        try:
            returns = validate_returns(data.get("returns"))
        except SchemaError as exc:
            errors["returns"] = str(exc)

    webhook_url = ""
    if data.get("webhook_url") not in (None, ""):
        try:
            webhook_url = validate_webhook_url(data.get("webhook_url"))
        except ValueError as exc:
            errors["webhook_url"] = str(exc)

    scheduled_at = None
    if data.get("scheduled_at") not in (None, ""):
        try:
            scheduled_at = parse_when(data.get("scheduled_at"), now=now)
        except ValueError as exc:
            errors["scheduled_at"] = str(exc)

    if errors:
        raise ValidationFailed(errors)
    assert agent is not None  # a missing or unknown agent is one of the errors above
    return CallInput(agent=agent, to_number=to_number, from_number=from_number, instructions=instructions,
                     context=context, metadata=metadata, returns=returns, webhook_url=webhook_url,
                     scheduled_at=scheduled_at, language=language, voicemail_action=voicemail_action, tools=tools,
                     routing_profile=profile, public_id=public_id)
