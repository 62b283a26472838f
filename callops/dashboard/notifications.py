"""Webhook-health notifications in the dashboard: the bell in the top bar and the list page.

The context processor is lazy: the unread count is only queried when a template actually renders
the bell, so pages without the dashboard chrome (login, API docs) pay nothing.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.functional import SimpleLazyObject
from django.views.decorators.http import require_POST

from callops.accounts.active_org import resolve_membership
from callops.accounts.decorators import org_required, require_role
from callops.accounts.models import Role
from callops.webhooks import services as webhooks
from callops.webhooks.models import Notification

PAGE = 100


def unread_count(org) -> int:
    # The unread part of the (organization, read, -created_at) index answers this.
    return Notification.objects.filter(organization=org, read=False).count()


def bell(request):
    """Context processor: `notification_count` (lazy) for signed-in members of an organization."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}

    def _count():
        membership = resolve_membership(request)
        return unread_count(membership.organization) if membership else 0

    return {"notification_count": SimpleLazyObject(_count)}


@org_required()
def notifications(request):
    notes = list(Notification.objects.filter(organization=request.org).select_related("endpoint")
                 .order_by("-created_at", "-id")[:PAGE])
    return render(request, "dashboard/notifications.html", {
        "nav": "notifications", "notes": notes, "unread": sum(1 for n in notes if not n.read),
        "can_act": request.membership.allows(Role.MEMBER)})


@require_POST
@org_required()
def notifications_read(request):
    require_role(request, Role.MEMBER)
    marked = webhooks.mark_notifications_read(request.org)
    messages.success(request, f"Marked {marked} notification{'s' if marked != 1 else ''} as read.")
    return redirect("dashboard:notifications")
