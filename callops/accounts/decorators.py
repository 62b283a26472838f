"""View decorators for the dashboard: sign-in, organization and role."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect

from .current import resolve_membership
from .models import Role


def org_required(role: str = Role.VIEWER):
    """Sets request.org and request.membership; 403 when the role is below `role`.

    A role check only ever runs after the object was fetched through the org-scoped helper or
    before any object is touched, so a 403 never confirms that another org's object exists.
    """

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            membership = resolve_membership(request)
            if membership is None:
                return redirect("no_organization")
            if not membership.allows(role):
                raise PermissionDenied(f"this needs the {role} role")
            request.membership = membership
            request.org = membership.organization
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def require_role(request, role: str):
    """For views that serve reads to everyone and actions to some: check inside the view."""
    if not request.membership.allows(role):
        raise PermissionDenied(f"this needs the {role} role")
