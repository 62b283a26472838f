"""The triage page (failure groups of a window, callops.triage.groups) and its actions on a group.

Each group offers only the actions its cause allows (`Cause.allowed`), each with a confirm that says
what will happen to how many rows; the service refuses any other action whatever is posted.
"""

from dataclasses import dataclass

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

# Where each cause's fix is made (Cause.fix_at): the link shown beside its actions.
FIX_LINKS = {
    "providers": ("Open provider accounts", "dashboard:providers"),
    "suppressions": ("Open the suppression list", "dashboard:suppressions"),
    "endpoints": ("Open webhook endpoints", "dashboard:endpoints"),
    "webhooks": ("Open webhooks", "dashboard:webhooks"),
}


@dataclass(frozen=True)
class Action:
    """One button of a group: its label and the confirm for the whole group and for ticked rows."""

    name: str
    label: str
    confirm: str
    confirm_ticked: str  # "{n}" is replaced by the number of ticked rows in the browser
    primary: bool


def _plural(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


def _actions(group) -> list[Action]:
    n = min(group.count, services.ACTION_CAP)
    more = f" (the newest {services.ACTION_CAP} of {group.count}; the rest stay for another click)" \
        if group.count > services.ACTION_CAP else ""
    caution = f" {group.cause.caution}" if group.cause.caution else ""
    out = []
    for name in group.cause.allowed(group.kind):
        if name == "retry":
            what = (f"Dial {n} {_plural(n, 'call', 'calls')} of this group again{more}?", "Dial the ticked calls again "
                    "({n} ticked)?", " Each is placed as a new call to the same number; a call already retried "
                    "is skipped.", "Retry calls")
        elif name == "rerun":
            what = (f"Run extraction again for {n} {_plural(n, 'call', 'calls')} of this group{more}?",
                    "Run extraction again for the ticked calls ({n} ticked)?", " Their current results are replaced.",
                    "Re-run extraction")
        else:
            what = (f"Send {n} {_plural(n, 'delivery', 'deliveries')} of this group again now{more}?",
                    "Send the ticked deliveries again now ({n} ticked)?", " Each keeps its original webhook id.",
                    "Redeliver")
        whole, ticked, effect, label = what
        out.append(Action(name, label, whole + effect + caution, ticked + effect + caution,
                          primary=not group.cause.caution))
    return out


def _decorate(groups) -> None:
    for g in groups:
        g.actions = _actions(g)
        link = FIX_LINKS.get(g.cause.fix_at)
        g.fix_link = (link[0], reverse(link[1])) if link else None


@org_required()
def triage(request):
    window = parse_window(request.GET.get("window"))
    show_reviewed = request.GET.get("reviewed") == "1"
    groups, hidden = build(request.org, window, show_reviewed=show_reviewed)
    _decorate(groups)
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
    try:
        with request_origin(request):
            outcome = BULK_ACTIONS[kind, action](request.org, key, window, actor=request.user, selected=selected)
    except services.ActionNotAllowed as exc:
        messages.error(request, f"Nothing was done. {exc}")
        return _back(window)
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
