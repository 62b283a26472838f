"""Settings → Calling rules: the organization's frequency caps and local calling hours.

Everyone in the organization may read them; only admins change them. The same validation and
service as PATCH /v1/calling_policy (callops.rules.policy), which audits every change.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from callops.accounts.decorators import acts_on, org_required
from callops.accounts.models import Role
from callops.rules import policy

# The form's fields, as the policy service names them (opt-out detection has its own form on the
# suppression list page).
FORM_FIELDS = ("max_calls_per_day", "max_calls_per_week", "max_answered_per_week", "hours_start", "hours_end",
               "time_zone")


@require_http_methods(["GET", "POST"])
@org_required()
@acts_on(post_role=Role.ADMIN)
def calling_rules(request):
    current = policy.current(request.org)
    values = {k: ("" if v is None else v) for k, v in policy.as_dict(current).items()}
    errors: dict[str, str] = {}
    if request.method == "POST":
        posted = {k: request.POST.get(k, "").strip() for k in FORM_FIELDS}
        values.update(posted)
        try:
            changes = policy.clean_changes(posted, current)
        except policy.PolicyError as exc:
            errors = exc.fields
        else:
            policy.update(request.org, changes, actor=request.user)
            messages.success(request, "Calling rules saved.")
            return redirect("dashboard:calling_rules")
    return render(request, "dashboard/settings/calling_rules.html", {
        "nav": "calling_rules", "v": values, "errors": errors,
        "is_admin": request.membership.allows(Role.ADMIN)}, status=400 if errors else 200)
