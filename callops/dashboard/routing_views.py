"""Settings → Routing profiles: weighted traffic splits across agents (80/20 to compare providers).

Everyone in the organization may read them; admins create, edit and delete, through the same
service as /v1/routing_profiles. The form has a fixed number of (agent, weight) rows; blank rows
are skipped.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from callops.accounts.decorators import acts_on, org_required
from callops.accounts.models import Role
from callops.accounts.tenancy import scoped
from callops.calls import routing_profiles as profiles
from callops.calls.models import Agent, RoutingProfile

FORM_ROWS = 4


@require_http_methods(["GET"])
@org_required()
def routing_profiles(request):
    rows = [profiles.to_dict(p) | {"public_id": p.public_id}
            for p in scoped(RoutingProfile, request.org).order_by("name")]
    return render(request, "dashboard/settings/routing_profiles.html", {
        "nav": "routing", "profiles": rows, "can_manage": request.membership.allows(Role.ADMIN)})


def _posted(request) -> tuple[dict, list[tuple[str, str]]]:
    """The form as the service's input, and the rows as typed (to show them again on an error)."""
    typed = [(request.POST.get(f"agent_{i}", ""), request.POST.get(f"weight_{i}", "").strip())
             for i in range(FORM_ROWS)]
    agents = []
    for agent_id, weight in typed:
        if not agent_id and not weight:
            continue
        agents.append({"agent_id": agent_id, "weight": int(weight) if weight.isdigit() else weight})
    return {"name": request.POST.get("name", ""), "agents": agents}, typed


def _form(request, *, profile=None, name="", rows=None, error=None, status=200):
    rows = list(rows or [])
    rows += [("", "")] * (FORM_ROWS - len(rows))
    return render(request, "dashboard/settings/routing_profile_form.html", {
        "nav": "routing", "profile": profile, "name": name, "rows": rows, "error": error,
        "agents": scoped(Agent, request.org).filter(is_active=True).select_related("provider_account").order_by("name"),
    }, status=status)


def _save(request, save, *, profile=None):
    data, typed = _posted(request)
    try:
        saved = save(data)
    except profiles.ProfileError as exc:
        return _form(request, profile=profile, name=data["name"], rows=typed, error=exc, status=400)
    messages.success(request, f"Routing profile “{saved.name}” saved: {profiles.split_label(saved)}.")
    return redirect("dashboard:routing_profiles")


@require_http_methods(["GET", "POST"])
@org_required(Role.ADMIN)
@acts_on()
def routing_profile_new(request):
    if request.method == "POST":
        return _save(request, lambda data: profiles.create(request.org, data, actor=request.user))
    return _form(request)


@require_http_methods(["GET", "POST"])
@org_required()
@acts_on(RoutingProfile, "profile_id", label="routing profile", role=Role.ADMIN)
def routing_profile_edit(request, profile):
    if request.method == "POST":
        return _save(request, lambda data: profiles.update(profile, data, actor=request.user), profile=profile)
    rows = [(str(w.agent.public_id), str(w.weight)) for w in profile.weights.select_related("agent")]
    return _form(request, profile=profile, name=profile.name, rows=rows)


@require_POST
@org_required()
@acts_on(RoutingProfile, "profile_id", label="routing profile", role=Role.ADMIN)
def routing_profile_delete(request, profile):
    try:
        profiles.delete(profile, actor=request.user)
    except profiles.ProfileError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Routing profile “{profile.name}” deleted.")
    return redirect("dashboard:routing_profiles")
