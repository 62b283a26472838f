"""The triage page (failure groups of a window, callops.triage.groups) and its actions on a group."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from callops.accounts.decorators import org_required
from callops.accounts.models import Role
from callops.accounts.services import request_origin
from callops.accounts.tenancy import parse_public_id
from callops.triage import services
from callops.triage.groups import KINDS, build
from callops.triage.windows import WINDOW_LABELS, parse_window

# The action each kind of group offers besides "review", and the service that does it.
BULK_ACTIONS = {
    ("call", "retry"): services.redial_group,
    ("extraction", "rerun"): services.rerun_group,
    ("webhook", "redeliver"): services.redeliver_group,
}
MAX_KEY_CHARS = 400


@org_required()
def triage(request):
    window = parse_window(request.GET.get("window"))
    show_reviewed = request.GET.get("reviewed") == "1"
    groups, hidden = build(request.org, window, show_reviewed=show_reviewed)
    by_kind = {k: [g for g in groups if g.kind == k] for k in KINDS}
    return render(request, "dashboard/triage.html", {
        "nav": "triage",
        "groups": groups,
        "by_kind": by_kind,
        "hidden": hidden,
        "window": window,
        "windows": WINDOW_LABELS.items(),
        "window_label": WINDOW_LABELS[window],
        "show_reviewed": show_reviewed,
        "can_act": request.membership.allows(Role.MEMBER),
        "totals": {k: sum(g.count for g in v) for k, v in by_kind.items()},
    })


@require_POST
@org_required(Role.MEMBER)
def triage_action(request):
    """One action on one group (all of it in the window) or on the rows ticked inside it."""
    window = parse_window(request.POST.get("window"))
    kind, key, action = request.POST.get("kind", ""), request.POST.get("key", ""), request.POST.get("action", "")
    known = kind in KINDS and (action == "review" or (kind, action) in BULK_ACTIONS)
    if not known or not key or len(key) > MAX_KEY_CHARS:
        messages.error(request, "Unknown triage action.")
        return _back(window)
    if action == "review":
        with request_origin(request):
            services.review_group(request.org, kind, key, window, actor=request.user)
        messages.success(request, "Marked as reviewed. The group comes back if it happens again.")
        return _back(window)
    selected = [pid for pid in (parse_public_id(v) for v in request.POST.getlist("item")) if pid]
    with request_origin(request):
        outcome = BULK_ACTIONS[kind, action](request.org, key, window, actor=request.user, selected=selected)
    if action == "redeliver":
        _say_redelivered(request, outcome)
    else:
        _say_done_to_calls(request, action, outcome)
    return _back(window)


def _say_done_to_calls(request, action, outcome):
    verb = "Retried" if action == "retry" else "Re-ran extraction for"
    if outcome.done:
        messages.success(request, f"{verb} {outcome.done} call{'s' if outcome.done != 1 else ''}.")
    if outcome.refused:
        others = " (and others)" if len(outcome.refused) > 1 else ""
        messages.error(request, f"{len(outcome.refused)} skipped: {outcome.refused[0]}{others}")
    if not outcome.done and not outcome.refused:
        messages.error(request, "Nothing to do: no matching calls in this window.")


def _say_redelivered(request, outcome):
    if outcome.done:
        messages.success(request, f"Queued {outcome.done} redeliver{'ies' if outcome.done != 1 else 'y'}.")
    else:
        messages.error(request, "Nothing to redeliver: every delivery in this group has been delivered since.")


def _back(window):
    return redirect(reverse("dashboard:triage") + f"?window={window}")
