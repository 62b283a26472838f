"""Every write to provider accounts and agents from the dashboard, plus the connection test.

Credentials are write-only: they go in encrypted and never come back out to a page. On edit, a
credential field left blank keeps the stored value, so nobody has to (or can) see it to change
something else. Every change is audited; a credentials change gets its own audit action.

The organization's default extractor, used by agents that do not choose one, is set here too.
Agents themselves are calls' rows and are written by `callops.calls.agents`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction

from callops.accounts.models import Organization
from callops.accounts.services import audit
from callops.lib import netguard

from . import prices
from .base import ProviderError
from .models import ProviderAccount, ProviderKind
from .registry import adapter_class, adapter_for

if TYPE_CHECKING:
    from callops.accounts.services import Actor


@dataclass(frozen=True)
class SecretField:
    name: str
    label: str
    help: str = ""
    # A setting rather than a secret (PolyAI's API variant): shown as text or a choice, optional,
    # and its stored value may be shown back. Stored with the credentials, where the adapter reads it.
    setting: bool = False
    choices: tuple[tuple[str, str], ...] = ()


# What each kind needs; `callback_secret` is stored apart (it verifies inbound callbacks).
CREDENTIAL_FIELDS: dict[str, list[SecretField]] = {
    ProviderKind.SANDBOX: [],
    ProviderKind.CALLINGBOX: [
        SecretField("api_key", "API key", "sk_live_… from the CallingBox console"),
        # Not set: each agent decides (an agent with a CallingBox agent id uses the agent-based
        # create). See `callingbox.create_shape`.
        SecretField("create_api", "Create API", "not set: agents with a CallingBox agent id use the agent-based "
                    "create, the others the prompt-based one", setting=True,
                    choices=(("prompt", "Prompt-based (the SDK's fields: to, prompt, context, returns, …)"),
                             ("agent", "Agent-based (agent_id and metadata)"))),
    ],
    ProviderKind.BOLNA: [SecretField("api_key", "API key", "bn-… from the Bolna dashboard")],
    ProviderKind.POLYAI: [
        SecretField("api_key", "Auth token", "sent as X-PolyAi-Auth-Token (outbound-calling API), X-API-KEY "
                    "(Agents API) or X-CONNECTOR-ID (connector)"),
        SecretField("api_variant", "API variant", "the API PolyAI issued this account", setting=True,
                    choices=(("outbound", "Outbound calling (/v1/outbound-calling)"),
                             ("agents", "Agents API (/v1/agents/…/telephony/outbound-calls)"),
                             ("connector", "Connector (/api/v1/<account>/<project>/outbound-call/trigger)"))),
        SecretField("environment", "Environment", "Agents API only", setting=True,
                    choices=(("sandbox", "sandbox"), ("pre-release", "pre-release"), ("live", "live"))),
        SecretField("account_id", "Account id", "connector only", setting=True),
        SecretField("project_id", "Project id", "connector only", setting=True),
    ],
    ProviderKind.TRILLET: [SecretField("api_key", "API key"), SecretField("workspace_id", "Workspace id")],
    ProviderKind.DOGRAH: [SecretField("api_key", "API key", "sent as X-API-Key")],
}
CALLBACK_SECRET_KINDS = {ProviderKind.CALLINGBOX, ProviderKind.TRILLET, ProviderKind.DOGRAH}
# What each extractor choice means, for the forms (the agent's "" = the organization's default).
EXTRACTOR_LABELS = {"rules": "Rules (built in, no network)", "llm": "LLM (the configured chat-completions endpoint)",
                    "provider": "Provider's own extraction"}


def documented_rate_limit(kind: str) -> str:
    """The provider's documented request limit in words, for the form ("" = no limit)."""
    limits = adapter_class(kind).rate_limits
    if not limits:
        return "no limit"
    if set(limits) == {"default"}:
        return f"{limits['default']}/min"
    rest = limits.get("default")
    parts = [f"{v}/min for {b} requests" for b, v in sorted(limits.items()) if b != "default"]
    return ", ".join(parts + ([f"{rest}/min for the rest"] if rest else []))


class ProviderInputError(Exception):
    def __init__(self, message: str, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


def _clean_account(data: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    if creating:
        kind = data.get("kind", "")
        if kind not in ProviderKind.values:
            errors["kind"] = "choose a provider"
        clean["kind"] = kind
    name = (data.get("name") or "").strip()
    if not name or len(name) > 100:
        errors["name"] = "a name of 1 to 100 characters is required"
    clean["name"] = name
    base_url = (data.get("base_url") or "").strip()
    if base_url:
        if not base_url.startswith(("https://", "http://")) or len(base_url) > 200:
            errors["base_url"] = "must be an http(s) URL"
        else:
            problem = netguard.check_url(base_url)
            if problem:
                errors["base_url"] = problem
    clean["base_url"] = base_url
    raw_rate = str(data.get("rate_limit_per_minute") if data.get("rate_limit_per_minute") is not None else "").strip()
    if raw_rate == "":
        clean["rate_limit_per_minute"] = None  # the provider's documented limit
    else:
        try:
            rate = int(raw_rate)
            if not 1 <= rate <= 100000:
                raise ValueError
            clean["rate_limit_per_minute"] = rate
        except (TypeError, ValueError):
            errors["rate_limit_per_minute"] = "a whole number from 1 to 100000, or blank for the provider's limit"
    clean["is_active"] = bool(data.get("is_active", True))
    if "price_currency" in data:  # the account form; other callers leave the price table alone
        clean.update(prices.clean(data, errors))
    if errors:
        raise ProviderInputError("; ".join(f"{k}: {v}" for k, v in errors.items()), errors)
    return clean


def _secrets(kind: str, data: Mapping[str, Any]) -> tuple[dict[str, str], str]:
    values = {f.name: (data.get(f.name) or "").strip() for f in CREDENTIAL_FIELDS.get(kind, [])}
    callback = (data.get("callback_secret") or "").strip() if kind in CALLBACK_SECRET_KINDS else ""
    for name, value in [*values.items(), ("callback_secret", callback)]:
        if len(value) > 1000 or "\n" in value:
            raise ProviderInputError(f"{name}: must be a single line of at most 1000 characters",
                                     {name: "too long or several lines"})
    for f in CREDENTIAL_FIELDS.get(kind, []):
        if f.choices and values[f.name] and values[f.name] not in {v for v, _ in f.choices}:
            raise ProviderInputError(f"{f.name}: choose one of the listed values", {f.name: "not one of the choices"})
    return values, callback


def _settings_problems(kind: str, merged: Mapping[str, str]) -> dict[str, str]:
    """Settings that together cannot make a request (the Agents API without an environment)."""
    field, problem = adapter_class(kind).settings_problem(merged)
    return {field: problem} if problem else {}


def _missing_credentials(kind: str, given: Mapping[str, str], stored: Mapping[str, str]) -> dict[str, str]:
    """Each credential the provider needs that is neither given nor stored: an account without
    them saves fine and then fails every call it places."""
    return {f.name: f"enter the {f.label}; {ProviderKind(kind).label} needs it"
            for f in CREDENTIAL_FIELDS.get(kind, [])
            if not f.setting and not given.get(f.name) and not stored.get(f.name)}


def _checked_new_account(org: Organization,
                         data: Mapping[str, Any]) -> tuple[ProviderAccount, dict[str, str], str]:
    """An unsaved account from the new-account form, every problem at once (ProviderInputError)."""
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    try:
        clean = _clean_account(data, creating=True)
    except ProviderInputError as exc:
        errors = dict(exc.fields)
    creds: dict[str, str] = {}
    callback = ""
    kind = data.get("kind", "")
    if kind in ProviderKind.values:
        creds, callback = _secrets(kind, data)
        errors.update(_missing_credentials(kind, creds, {}))
        errors.update(_settings_problems(kind, creds))
    if errors:
        raise ProviderInputError("; ".join(f"{k}: {v}" for k, v in errors.items()), errors)
    account = ProviderAccount(organization=org, **clean)
    account.set_credentials(creds)
    return account, creds, callback


def create_account(org: Organization, data: Mapping[str, Any], *, actor: Actor = None,
                   ip: str | None = None) -> ProviderAccount:
    account, creds, callback = _checked_new_account(org, data)
    account.set_callback_secret(callback)
    try:
        with transaction.atomic():
            account.save()
            audit(org, "provider_account.created", actor=actor, ip=ip, target=account.name,
                  detail={"kind": account.kind, "account": str(account.public_id),
                          "credentials": sorted(k for k, v in creds.items() if v)})
    except IntegrityError:
        raise ProviderInputError("name: another provider account already has this name",
                                 {"name": "already used"}) from None
    return account


def update_account(account: ProviderAccount, data: Mapping[str, Any], *, actor: Actor = None,
                   ip: str | None = None) -> ProviderAccount:
    clean = _clean_account(data, creating=False)
    creds, callback = _secrets(account.kind, data)
    stored: dict[str, str]
    try:
        stored = account.credentials
    except ValueError:  # stored with a key no longer configured: they must be entered again
        stored = {}
    missing = _missing_credentials(account.kind, creds, stored)
    missing.update(_settings_problems(account.kind, {**stored, **{k: v for k, v in creds.items() if v}}))
    if missing:
        raise ProviderInputError("; ".join(f"{k}: {v}" for k, v in missing.items()), missing)
    changed_secrets = sorted(k for k, v in creds.items() if v) + (["callback_secret"] if callback else [])
    changed = sorted(k for k, v in clean.items() if getattr(account, k) != v)
    for k, v in clean.items():
        setattr(account, k, v)
    if any(creds.values()):
        merged = {**account.credentials, **{k: v for k, v in creds.items() if v}}
        account.set_credentials(merged)
    if callback:
        account.set_callback_secret(callback)
    try:
        with transaction.atomic():
            account.save()
            if changed:
                audit(account.organization, "provider_account.updated", actor=actor, ip=ip, target=account.name,
                      detail={"account": str(account.public_id), "fields": changed})
            if changed_secrets:
                audit(account.organization, "provider_account.credentials_changed", actor=actor, ip=ip,
                      target=account.name, detail={"account": str(account.public_id), "fields": changed_secrets})
    except IntegrityError:
        raise ProviderInputError("name: another provider account already has this name",
                                 {"name": "already used"}) from None
    return account


def test_unsaved_account(org: Organization, data: Mapping[str, Any], *, actor: Actor = None,
                         ip: str | None = None) -> tuple[bool, str]:
    """The new-account form's "Test connection": the form's values, checked as saving checks
    them, tried against the provider without storing anything (ProviderInputError if unusable)."""
    account, _, _ = _checked_new_account(org, data)
    ok, message = _try_connection(account)
    audit(org, "provider_account.tested", actor=actor, ip=ip, target=account.name,
          detail={"ok": ok, "saved": False})
    return ok, message


def test_connection(account: ProviderAccount, *, actor: Actor = None, ip: str | None = None) -> tuple[bool, str]:
    """Ask the provider something cheap with the stored credentials; (worked, what it said)."""
    ok, message = _try_connection(account)
    audit(account.organization, "provider_account.tested", actor=actor, ip=ip, target=account.name,
          detail={"ok": ok})
    return ok, message


def _try_connection(account: ProviderAccount) -> tuple[bool, str]:
    try:
        message = adapter_for(account).test_connection()
        ok = True
    except ProviderError as exc:
        ok, message = False, f"{exc.message} ({exc.code})"
    except NotImplementedError:
        ok, message = False, "this provider has no connection test"
    except ValueError:  # credentials that do not decrypt with the configured keys
        ok, message = False, "the stored credentials cannot be decrypted; enter them again"
    return ok, message[:500]


# --- The organization's default extractor ---------------------------------------------------------
def set_default_extractor(org: Organization, extractor: str, *, actor: Actor = None,
                          ip: str | None = None) -> str:
    """The extractor agents without their own choice use (Settings → Providers & agents)."""
    extractor = (extractor or "").strip()
    if extractor not in EXTRACTOR_LABELS:
        raise ProviderInputError("default_extractor: choose rules, llm or provider",
                                 {"default_extractor": "choose rules, llm or provider"})
    if org.default_extractor != extractor:
        with transaction.atomic():
            Organization.objects.filter(pk=org.pk).update(default_extractor=extractor)
            audit(org, "organization.default_extractor_changed", actor=actor, ip=ip, target=org.name,
                  detail={"from": org.default_extractor, "to": extractor})
        org.default_extractor = extractor
    return extractor
