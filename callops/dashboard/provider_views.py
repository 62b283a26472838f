"""Settings → Providers & agents: provider accounts (credentials write-only), agents, connection test.

Credential inputs are always rendered empty (type=password, autocomplete=off): the page only says
whether a value is stored, never what it is, and not even a re-rendered form after an error
echoes a credential back.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from callops.accounts.decorators import org_required, require_role
from callops.accounts.models import Role
from callops.accounts.services import client_ip
from callops.accounts.tenancy import get_for_org, scoped
from callops.calls.models import Agent
from callops.providers import services
from callops.providers.models import ProviderAccount, ProviderKind

# Form values that may be echoed back after a validation error (never the secret ones).
ECHO_ACCOUNT = ("kind", "name", "base_url", "rate_limit_per_minute")
ECHO_AGENT = ("name", "provider_account", "provider_agent_id", "from_number", "webhook_url", "extractor",
              "instructions")


def _field_specs():
    return [(kind, label, services.CREDENTIAL_FIELDS.get(kind, []), kind in services.CALLBACK_SECRET_KINDS)
            for kind, label in ProviderKind.choices]


@org_required()
def providers(request):
    accounts = list(scoped(ProviderAccount, request.org).order_by("name"))
    for a in accounts:
        # Which credentials are stored (names only): decrypting here never reaches the template's output.
        try:
            a.stored = sorted(k for k, v in a.credentials.items() if v)
        except ValueError:
            a.stored = ["(unreadable)"]
        a.has_callback_secret = bool(a.callback_secret_encrypted)
    agents = scoped(Agent, request.org).select_related("provider_account").order_by("name")
    return render(request, "dashboard/settings/providers.html", {
        "nav": "providers", "accounts": accounts, "agents": agents,
        "can_manage": request.membership.allows(Role.ADMIN),
        "test_result": request.session.pop("provider_test", None),
    })


def _account_form(request, *, account=None, error=None, values=None, status=200):
    if account is not None:
        try:
            account.credentials_names = [k for k, v in account.credentials.items() if v]
        except ValueError:
            account.credentials_names = []
    return render(request, "dashboard/settings/provider_form.html", {
        "nav": "providers", "account": account, "error": error, "values": values or {},
        "kinds": ProviderKind.choices, "specs": _field_specs(),
    }, status=status)


def _post_values(post, names):
    return {k: post.get(k, "") for k in names}


@org_required(Role.ADMIN)
def provider_new(request):
    if request.method == "POST":
        data = {**request.POST.dict(), "is_active": request.POST.get("is_active") == "on"}
        try:
            account = services.create_account(request.org, data, actor=request.user, ip=client_ip(request))
        except services.ProviderInputError as exc:
            return _account_form(request, error=exc, values=_post_values(request.POST, ECHO_ACCOUNT), status=400)
        messages.success(request, f"Provider account “{account.name}” created.")
        return redirect("dashboard:providers")
    return _account_form(request, values={"rate_limit_per_minute": 300, "is_active": True})


@org_required()
def provider_edit(request, account_id):
    account = get_for_org(ProviderAccount, request.org, account_id, label="provider account")
    require_role(request, Role.ADMIN)
    if request.method == "POST":
        data = {**request.POST.dict(), "is_active": request.POST.get("is_active") == "on"}
        try:
            services.update_account(account, data, actor=request.user, ip=client_ip(request))
        except services.ProviderInputError as exc:
            account.refresh_from_db()
            return _account_form(request, account=account, error=exc,
                                 values=_post_values(request.POST, ECHO_ACCOUNT), status=400)
        messages.success(request, f"Provider account “{account.name}” saved.")
        return redirect("dashboard:providers")
    values = {"name": account.name, "base_url": account.base_url, "kind": account.kind,
              "rate_limit_per_minute": account.rate_limit_per_minute, "is_active": account.is_active}
    return _account_form(request, account=account, values=values)


@require_POST
@org_required()
def provider_test(request, account_id):
    account = get_for_org(ProviderAccount, request.org, account_id, label="provider account")
    require_role(request, Role.ADMIN)
    ok, message = services.test_connection(account, actor=request.user, ip=client_ip(request))
    request.session["provider_test"] = {"account": str(account.public_id), "ok": ok, "message": message}
    return redirect("dashboard:providers")


def _agent_form(request, *, agent=None, error=None, values=None, status=200):
    return render(request, "dashboard/settings/agent_form.html", {
        "nav": "providers", "agent": agent, "error": error, "values": values or {},
        "accounts": scoped(ProviderAccount, request.org).order_by("name"),
        "extractors": [("", "Organization default"), ("rules", "Rules"), ("llm", "LLM"),
                       ("provider", "Provider's own extraction")],
    }, status=status)


@org_required(Role.ADMIN)
def agent_new(request):
    if request.method == "POST":
        data = {**request.POST.dict(), "is_active": request.POST.get("is_active") == "on"}
        try:
            agent = services.create_agent(request.org, data, actor=request.user, ip=client_ip(request))
        except services.ProviderInputError as exc:
            return _agent_form(request, error=exc, values=_post_values(request.POST, ECHO_AGENT), status=400)
        messages.success(request, f"Agent “{agent.name}” created.")
        return redirect("dashboard:providers")
    return _agent_form(request, values={"is_active": True})


@org_required()
def agent_edit(request, agent_id):
    agent = get_for_org(Agent.objects.select_related("provider_account"), request.org, agent_id, label="agent")
    require_role(request, Role.ADMIN)
    if request.method == "POST":
        data = {**request.POST.dict(), "is_active": request.POST.get("is_active") == "on"}
        try:
            services.update_agent(agent, data, actor=request.user, ip=client_ip(request))
        except services.ProviderInputError as exc:
            agent.refresh_from_db()
            return _agent_form(request, agent=agent, error=exc, values=_post_values(request.POST, ECHO_AGENT),
                               status=400)
        messages.success(request, f"Agent “{agent.name}” saved.")
        return redirect("dashboard:providers")
    values = {k: getattr(agent, k) for k in ECHO_AGENT if k != "provider_account"}
    values["provider_account"] = str(agent.provider_account.public_id)
    values["is_active"] = agent.is_active
    return _agent_form(request, agent=agent, values=values)
