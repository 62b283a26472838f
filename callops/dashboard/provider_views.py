"""Settings → Providers & agents: provider accounts (credentials write-only), agents (with their
`returns` schema and extractor), the organization's default extractor, connection test.

Credential inputs are always rendered empty (type=password, autocomplete=off): the page only says
whether a value is stored, never what it is, and not even a re-rendered form after an error
echoes a credential back.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import partial

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from callops.accounts.decorators import acts_on, org_required
from callops.accounts.models import Role
from callops.accounts.services import audit, request_origin
from callops.accounts.tenancy import scoped
from callops.calls import agents as agent_services
from callops.calls import routing
from callops.calls.models import Agent
from callops.providers import circuits, prices, services
from callops.providers.models import PriceRounding, ProviderAccount, ProviderKind

# Form values that may be echoed back after a validation error (never the secret ones).
ECHO_ACCOUNT = ("kind", "name", "base_url", "rate_limit_per_minute", *prices.FIELDS)
ECHO_AGENT = ("name", "provider_account", "provider_agent_id", "from_number", "webhook_url", "extractor",
              "instructions", "returns", *agent_services.FALLBACK_FIELDS)


def _field_specs():
    return [(kind, label, services.CREDENTIAL_FIELDS.get(kind, []), kind in services.CALLBACK_SECRET_KINDS,
             services.documented_rate_limit(kind)) for kind, label in ProviderKind.choices]


def _default_extractor_choices():
    return list(services.EXTRACTOR_LABELS.items())


@require_http_methods(["GET", "POST"])
@org_required()
@acts_on(post_role=Role.ADMIN)
def providers(request):
    extractor_error = None
    if request.method == "POST":
        # The one form posted to this page: the organization's default extractor (admins).
        try:
            chosen = services.set_default_extractor(request.org, request.POST.get("default_extractor", ""),
                                                    actor=request.user)
        except services.ProviderInputError as exc:
            extractor_error = exc
        else:
            messages.success(request, f"Default extractor set to {services.EXTRACTOR_LABELS[chosen]}.")
            return redirect("dashboard:providers")
    accounts = list(scoped(ProviderAccount, request.org).order_by("name"))
    for a in accounts:
        # Which credentials are stored (names only): decrypting here never reaches the template's output.
        try:
            a.stored = sorted(k for k, v in a.credentials.items() if v)
        except ValueError:
            a.stored = ["(unreadable)"]
        a.has_callback_secret = bool(a.callback_secret_encrypted)
    _with_health(accounts)
    agents = list(scoped(Agent, request.org).select_related("provider_account").order_by("name"))
    for ag in agents:
        ag.extractor_label = services.EXTRACTOR_LABELS.get(ag.extractor, ag.extractor)
        ag.fallbacks = routing.fallbacks_of(ag)
    return render(request, "dashboard/settings/providers.html", {
        "nav": "providers", "accounts": accounts, "agents": agents, "health_window": circuits.window(),
        "can_manage": request.membership.allows(Role.ADMIN),
        "test_result": request.session.pop("provider_test", None),
        "extractor_choices": _default_extractor_choices(), "extractor_error": extractor_error,
        "default_extractor_label": services.EXTRACTOR_LABELS.get(request.org.default_extractor,
                                                                 request.org.default_extractor),
    }, status=400 if extractor_error else 200)


def _with_health(accounts) -> None:
    for a in accounts:
        a.health = circuits.health(a.pk)
        a.health_open_until = datetime.fromtimestamp(a.health.open_until, UTC) if a.health.open_until else None


@require_GET
@org_required()
def provider_health(request):
    """The provider page's health card, polled by htmx: live circuit states and error rates."""
    accounts = list(scoped(ProviderAccount, request.org).order_by("name"))
    _with_health(accounts)
    return render(request, "dashboard/settings/providers.html#health", {
        "accounts": accounts, "health_window": circuits.window(),
        "can_manage": request.membership.allows(Role.ADMIN)})


@require_POST
@org_required()
@acts_on(ProviderAccount, "account_id", label="provider account", role=Role.ADMIN)
def provider_circuit_reset(request, account):
    circuits.reset(account.pk)
    audit(request.org, "provider_account.circuit_closed", actor=request.user, target=account.name,
          detail={"account": str(account.public_id)})
    messages.success(request, f"The circuit of “{account.name}” is closed; calls go to it again.")
    return redirect("dashboard:providers")


def _account_form(request, *, account=None, error=None, values=None, status=200):
    if account is not None:
        try:
            stored = account.credentials
        except ValueError:
            stored = {}
        account.credentials_names = [k for k, v in stored.items() if v]
        # Settings (not secrets) may be shown back: PolyAI's API variant and its ids.
        settings_names = {f.name for f in services.CREDENTIAL_FIELDS.get(account.kind, []) if f.setting}
        account.settings_values = {k: v for k, v in stored.items() if k in settings_names}
    return render(request, "dashboard/settings/provider_form.html", {
        "nav": "providers", "account": account, "error": error, "values": values or {},
        "kinds": ProviderKind.choices, "specs": _field_specs(),
        # The kind whose credential fields show errors: the one chosen on the form, or the account's.
        "form_kind": (values or {}).get("kind") or (account.kind if account else ""),
        "account_rate_limit": services.documented_rate_limit(account.kind) if account else "",
        "roundings": PriceRounding.choices,
    }, status=status)


def _post_values(post, names):
    return {k: post.get(k, "") for k in names}


def _save_form(request, save, form, *, echo, saved, instance=None):
    """The POST half of the account and agent forms.

    `save(data)` is the service call (its audit entry records the client's address). On bad input the form comes back (400) with the error and
    the non-secret `echo` values as posted; otherwise a flash message (`saved(obj)`) and back to
    the list.
    """
    data = {**request.POST.dict(), "is_active": request.POST.get("is_active") == "on"}
    try:
        with request_origin(request):
            obj = save(data)
    except services.ProviderInputError as exc:
        if instance is not None:
            instance.refresh_from_db()  # the service had already set the rejected values on it
        return form(request, error=exc, values=_post_values(request.POST, echo), status=400)
    messages.success(request, saved(obj))
    return redirect("dashboard:providers")


@org_required(Role.ADMIN)
def provider_new(request):
    if request.method == "POST":
        return _save_form(request, partial(services.create_account, request.org, actor=request.user), _account_form,
                          echo=ECHO_ACCOUNT, saved=lambda account: f"Provider account “{account.name}” created.")
    return _account_form(request, values={"rate_limit_per_minute": None, "is_active": True})


@org_required()
@acts_on(ProviderAccount, "account_id", label="provider account", role=Role.ADMIN)
def provider_edit(request, account):
    if request.method == "POST":
        return _save_form(request, partial(services.update_account, account, actor=request.user),
                          partial(_account_form, account=account), echo=ECHO_ACCOUNT, instance=account,
                          saved=lambda account: f"Provider account “{account.name}” saved.")
    values = {"name": account.name, "base_url": account.base_url, "kind": account.kind,
              "rate_limit_per_minute": account.rate_limit_per_minute, "is_active": account.is_active,
              **{name: getattr(account, name) for name in prices.FIELDS}}
    return _account_form(request, account=account, values=values)


@require_POST
@org_required(Role.ADMIN)
@acts_on()
def provider_test_new(request):
    """The new-account form's "Test connection" (htmx): the typed credentials tried before saving,
    answered as a fragment so the form, secrets included, stays as typed."""
    # A name is not needed to test; the audit entry names the attempt when none is typed yet.
    data = {**request.POST.dict(), "name": request.POST.get("name", "").strip() or "new account"}
    ok, message, problems = False, "", ""
    try:
        ok, message = services.test_unsaved_account(request.org, data, actor=request.user)
    except services.ProviderInputError as exc:
        problems = "; ".join(exc.fields.values()) or exc.message
    return render(request, "dashboard/settings/_provider_test_result.html",
                  {"ok": ok, "message": message, "problems": problems})


@require_POST
@org_required()
@acts_on(ProviderAccount, "account_id", label="provider account", role=Role.ADMIN)
def provider_test(request, account):
    ok, message = services.test_connection(account, actor=request.user)
    request.session["provider_test"] = {"account": str(account.public_id), "ok": ok, "message": message}
    return redirect("dashboard:providers")


@require_POST
@org_required()
@acts_on(Agent.objects.select_related("provider_account"), "agent_id", label="agent", role=Role.ADMIN)
def agent_make_default(request, agent):
    try:
        agent_services.make_default(agent, actor=request.user)
    except services.ProviderInputError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Calls that name no agent now use “{agent.name}”.")
    return redirect("dashboard:providers")


def _agent_form(request, *, agent=None, error=None, values=None, status=200):
    default = services.EXTRACTOR_LABELS.get(request.org.default_extractor, request.org.default_extractor)
    return render(request, "dashboard/settings/agent_form.html", {
        "nav": "providers", "agent": agent, "error": error, "values": values or {},
        "accounts": scoped(ProviderAccount, request.org).order_by("name"),
        "extractors": [("", f"Organization default ({default})"), *services.EXTRACTOR_LABELS.items()],
        "fallback_fields": [(name, (values or {}).get(name, ""), (getattr(error, "fields", None) or {}).get(name))
                            for name in agent_services.FALLBACK_FIELDS],
        "other_agents": scoped(Agent, request.org).exclude(pk=agent.pk if agent else None)
        .select_related("provider_account").order_by("name"),
        "fallbacks": routing.fallbacks_of(agent) if agent else [],
    }, status=status)


@org_required(Role.ADMIN)
def agent_new(request):
    if request.method == "POST":
        return _save_form(request, partial(agent_services.create_agent, request.org, actor=request.user),
                          _agent_form, echo=ECHO_AGENT, saved=lambda agent: f"Agent “{agent.name}” created.")
    return _agent_form(request, values={"is_active": True})


@org_required()
@acts_on(Agent.objects.select_related("provider_account"), "agent_id", label="agent", role=Role.ADMIN)
def agent_edit(request, agent):
    if request.method == "POST":
        return _save_form(request, partial(agent_services.update_agent, agent, actor=request.user),
                          partial(_agent_form, agent=agent), echo=ECHO_AGENT, instance=agent,
                          saved=lambda agent: f"Agent “{agent.name}” saved.")
    values = {k: getattr(agent, k) for k in ECHO_AGENT
              if k not in ("provider_account", "returns", *agent_services.FALLBACK_FIELDS)}
    values["provider_account"] = str(agent.provider_account.public_id)
    values["returns"] = json.dumps(agent.returns, indent=2) if agent.returns else ""
    values["is_active"] = agent.is_active
    for name, fallback in zip(agent_services.FALLBACK_FIELDS, routing.fallbacks_of(agent), strict=False):
        values[name] = str(fallback.public_id)
    return _agent_form(request, agent=agent, values=values)
