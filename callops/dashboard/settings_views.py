"""Settings pages: API keys, members and roles, the audit log, and the invited user's set-password page.

Everyone in the organization may read these pages; actions need a role (admin for keys, owner
for members), checked after the object was fetched through the org-scoped helper. A create
redirects to the new object's page (post/redirect/get, so a reload creates nothing), which shows its
secret once, from the session (`secret_once`), with `Cache-Control: no-store`.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.tokens import default_token_generator
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlsafe_base64_decode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from callops.accounts import services as accounts
from callops.accounts.decorators import acts_on, org_required
from callops.accounts.models import ApiKey, ApiKeyScope, AuditEntry, Membership, Role
from callops.accounts.tenancy import get_for_org, scoped

from . import secret_once

AUDIT_PAGE = 50


def _no_store(response):
    response["Cache-Control"] = "no-store"
    return response


# --- API keys ------------------------------------------------------------------------------------
def _keys_context(request, **extra):
    keys = scoped(ApiKey, request.org).select_related("created_by").order_by("revoked_at", "-created_at")
    return {"nav": "api_keys", "keys": keys, "scopes": ApiKeyScope.choices,
            "can_manage": request.membership.allows(Role.ADMIN), **extra}


@org_required()
@acts_on(post_role=Role.ADMIN)
def api_keys(request):
    if request.method == "POST":
        name = request.POST.get("name", "")
        scope = request.POST.get("scope", ApiKeyScope.READ_WRITE)
        try:
            key, secret = accounts.create_api_key(request.org, name, scope=scope, created_by=request.user)
        except ValueError as exc:
            response = render(request, "dashboard/settings/api_keys.html",
                              _keys_context(request, error=str(exc), form={"name": name, "scope": scope}), status=400)
            return response
        secret_once.stash(request, f"api_key:{key.public_id}", secret)
        return redirect("dashboard:api_key", key_id=key.public_id)
    return render(request, "dashboard/settings/api_keys.html", _keys_context(request))


@org_required()
@acts_on(ApiKey.objects.select_related("created_by"), "key_id", label="API key")
def api_key(request, key):
    """A key's own page; the first visit after its creation shows the secret, and no later one."""
    secret = secret_once.take(request, f"api_key:{key.public_id}")
    response = render(request, "dashboard/settings/api_key.html", {
        "nav": "api_keys", "key": key, "secret": secret, "can_manage": request.membership.allows(Role.ADMIN),
        "keys_url": reverse("dashboard:api_keys")})
    # The page is never cached: a back button must not bring the secret back from the browser cache.
    return _no_store(response)


@require_POST
@org_required()
@acts_on(ApiKey, "key_id", label="API key", role=Role.ADMIN)
def api_key_revoke(request, key):
    accounts.revoke_api_key(key, actor=request.user)
    messages.success(request, f"Key “{key.name}” revoked. Requests using it are refused from now on.")
    return redirect("dashboard:api_keys")


# --- Members -------------------------------------------------------------------------------------
def _members_context(request, **extra):
    members = (Membership.objects.filter(organization=request.org).select_related("user")
               .order_by("user__username"))
    return {"nav": "members", "members": members, "roles": Role.choices,
            "can_manage": request.membership.allows(Role.OWNER), **extra}


@org_required()
@acts_on(post_role=Role.OWNER)
def members(request):
    if request.method == "POST":
        identifier = request.POST.get("identifier", "")
        role = request.POST.get("role", Role.MEMBER)
        try:
            membership, created = accounts.invite_member(request.org, identifier, role, actor=request.user)
        except accounts.MemberError as exc:
            return render(request, "dashboard/settings/members.html",
                          _members_context(request, error=str(exc), form={"identifier": identifier, "role": role}),
                          status=400)
        link = request.build_absolute_uri(accounts.set_password_link(membership.user)) if created else ""
        if not created:
            messages.success(request, f"{membership.user.get_username()} added as {membership.get_role_display()}.")
            return redirect("dashboard:members")
        # Post/redirect/get, as for keys: a reload shows the page again and invites nobody twice.
        secret_once.stash(request, f"invite:{membership.public_id}", link)
        return redirect(reverse("dashboard:members") + f"?invited={membership.public_id}")
    invited = None
    if request.GET.get("invited"):
        invited = get_for_org(MEMBERSHIPS, request.org, request.GET["invited"], label="member")
    link = secret_once.take(request, f"invite:{invited.public_id}") if invited else ""
    response = render(request, "dashboard/settings/members.html",
                      _members_context(request, invited=invited, invite_link=link))
    return _no_store(response) if link else response


# What the member actions fetch: their messages name the member's user, loaded in the same query.
MEMBERSHIPS = Membership.objects.select_related("user", "organization")


@require_POST
@org_required()
@acts_on(MEMBERSHIPS, "member_id", label="member", role=Role.OWNER)
def member_role(request, member):
    try:
        accounts.change_role(member, request.POST.get("role", ""), actor=request.user)
    except accounts.MemberError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{member.user.get_username()} is now {Role(request.POST['role']).label}.")
    return redirect("dashboard:members")


@require_POST
@org_required()
@acts_on(MEMBERSHIPS, "member_id", label="member", role=Role.OWNER)
def member_remove(request, member):
    try:
        accounts.remove_member(member, actor=request.user)
    except accounts.MemberError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{member.user.get_username()} removed from {request.org.name}.")
    return redirect("dashboard:members")


@never_cache
def set_password(request, uidb64, token):
    """Where an invited user chooses a password; the link dies once a password is set."""
    User = get_user_model()
    try:
        user = User.objects.filter(pk=int(urlsafe_base64_decode(uidb64).decode())).first()
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError):
        user = None
    valid = user is not None and default_token_generator.check_token(user, token)
    form = SetPasswordForm(user, request.POST or None) if valid else None
    if valid and request.method == "POST" and form.is_valid():
        form.save()
        for m in user.memberships.select_related("organization"):
            accounts.audit(m.organization, "member.password_set", actor=user, ip=accounts.client_ip(request),
                           target=user.get_username())
        messages.success(request, "Password set. Sign in with it now.")
        return redirect("login")
    response = render(request, "dashboard/settings/set_password.html", {"form": form, "valid": valid,
                                                                       "invited": user if valid else None},
                      status=200 if valid else 404)
    # The token is in the URL, so no other site may see this page's address. `same-origin`, not
    # `no-referrer`: under no-referrer the browser posts the form with `Origin: null`, which
    # Django's CSRF Origin check rightly refuses, and the invited user could never set a password.
    response["Referrer-Policy"] = "same-origin"
    return response


# --- Audit log ------------------------------------------------------------------------------------
@org_required()
def audit_log(request):
    qs = AuditEntry.objects.filter(organization=request.org).order_by("-created_at", "-id")
    action = request.GET.get("action", "")
    if action:
        qs = qs.filter(action__startswith=action)
    page = Paginator(qs, AUDIT_PAGE).get_page(request.GET.get("page"))
    entries = [(entry, audit_facts(entry.detail)) for entry in page.object_list]
    return render(request, "dashboard/settings/audit_log.html", {
        "nav": "audit_log", "page": page, "entries": entries, "action": action, "families": AUDIT_FAMILIES})


# The audit log's filter: each family of actions by the name the console gives it.
AUDIT_FAMILIES = [("api_key", "API keys"), ("member", "Members"), ("provider_account", "Provider accounts"),
                  ("agent", "Agents"), ("webhook_endpoint", "Webhook endpoints"),
                  ("webhook_delivery", "Webhook deliveries"), ("webhook_secret", "Per-call signing secret"),
                  ("triage", "Triage actions")]


def audit_facts(detail) -> list[tuple[str, str]]:
    """An entry's details as (label, value) pairs to print; empty values (an action with no
    endpoint records `endpoint: None`) say nothing, so they are left out."""
    if not isinstance(detail, dict):
        return []
    facts = []
    for key, value in sorted(detail.items()):  # PostgreSQL's jsonb keeps no insertion order anyway
        if value is None or value == "" or value == [] or value == {}:
            continue
        if isinstance(value, bool):
            value = "yes" if value else "no"
        elif isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        facts.append((str(key).replace("_", " "), str(value)))
    return facts
