"""Settings → Suppression list: the organization's do-not-call numbers, adding, removing, a
two-step CSV import (preview, then import exactly the accepted rows) and the opt-out setting.

Everyone in the organization may read the list; members add and import, admins remove numbers
and change the opt-out detection setting. The same service as /v1/suppressions does the writes.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from callops.accounts.decorators import acts_on, org_required
from callops.accounts.models import Role
from callops.rules import suppressions
from callops.rules.models import Suppression, SuppressionSource

# The page shows the newest entries; the API pages through all of them.
LIST_LIMIT = 500
MAX_UPLOAD_BYTES = 2 * 1024 * 1024


def _page(request, *, status: int = 200, **extra):
    rows = list(Suppression.objects.filter(organization=request.org).order_by("-created_at", "-id")[:LIST_LIMIT])
    return render(request, "dashboard/settings/suppressions.html", {
        "nav": "suppressions", "rows": rows, "is_admin": request.membership.allows(Role.ADMIN),
        "can_add": request.membership.allows(Role.MEMBER),
        "opt_out_detection": suppressions.opt_out_detection_on(request.org), "form": {}, **extra}, status=status)


@require_http_methods(["GET", "POST"])
@org_required()
@acts_on(post_role=Role.MEMBER)
def suppression_list(request):
    if request.method == "GET":
        return _page(request)
    form = {"number": request.POST.get("number", ""), "reason": request.POST.get("reason", "")}
    try:
        row, created = suppressions.add(request.org, form["number"], reason=form["reason"],
                                        source=SuppressionSource.MANUAL, actor=request.user)
    except suppressions.SuppressionError as exc:
        return _page(request, status=400, form=form, add_error=str(exc))
    if created:
        messages.success(request, f"{row.number} added to the suppression list.")
    else:
        messages.info(request, f"{row.number} is already on the suppression list.")
    return redirect("dashboard:suppressions")


@require_POST
@org_required()
@acts_on(model=Suppression, url_kwarg="suppression_id", label="suppression", post_role=Role.ADMIN)
def suppression_remove(request, suppression):
    suppressions.remove(suppression, actor=request.user)
    messages.success(request, f"{suppression.number} removed from the suppression list.")
    return redirect("dashboard:suppressions")


def _import_text(request) -> str:
    upload = request.FILES.get("file")
    if upload is not None:
        if upload.size > MAX_UPLOAD_BYTES:
            raise suppressions.SuppressionError("the file is larger than 2 MB; split it and import the parts")
        return upload.read().decode("utf-8-sig", errors="replace")
    return request.POST.get("text", "")


@require_POST
@org_required()
@acts_on(post_role=Role.MEMBER)
def suppression_import(request):
    """Step one (action=preview) shows each row's verdict; step two (action=import) re-reads the
    same text and adds the accepted rows, so what is added is exactly what the preview showed."""
    try:
        text = _import_text(request)
        preview = suppressions.preview_import(request.org, text)
    except suppressions.SuppressionError as exc:
        return _page(request, status=400, import_error=str(exc))
    if request.POST.get("action") != "import":
        return _page(request, preview=preview, import_text=text)
    added = suppressions.apply_import(request.org, preview, actor=request.user)
    messages.success(request, f"{added} number{'s' if added != 1 else ''} added to the suppression list"
                              f"{f'; {len(preview.rejected)} rows skipped' if preview.rejected else ''}.")
    return redirect("dashboard:suppressions")


@require_POST
@org_required()
@acts_on(post_role=Role.ADMIN)
def opt_out_setting(request):
    enabled = request.POST.get("opt_out_detection") == "on"
    suppressions.set_opt_out_detection(request.org, enabled, actor=request.user)
    messages.success(request, "Opt-out detection is on." if enabled else "Opt-out detection is off.")
    return redirect("dashboard:suppressions")
