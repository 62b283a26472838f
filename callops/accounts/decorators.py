"""View decorators for the dashboard: sign-in, organization and role, and the object a view acts on."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect

from .active_org import resolve_membership
from .models import Role
from .services import request_origin
from .tenancy import get_for_org


class RoleRequired(PermissionDenied):
    """A 403 for a role below `role`; the error page names the role needed and the user's own."""

    def __init__(self, role: str):
        super().__init__(f"this needs the {role} role")
        self.role = role


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
                raise RoleRequired(role)
            request.membership = membership
            request.org = membership.organization
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def require_role(request, role: str):
    """For views that serve reads to everyone and actions to some: check inside the view."""
    if not request.membership.allows(role):
        raise RoleRequired(role)


def acts_on(model=None, url_kwarg: str = "", *, label: str | None = None, role: str | None = None,
            post_role: str | None = None):
    """For a view under `org_required` that acts on one of the organization's objects.

    Fetches the object named by the URL argument `url_kwarg` through get_for_org (404 outside the
    organization) and passes it to the view instead of its public id, under the argument's name
    without `_id` (`endpoint_id` → `endpoint`); `model` may be a queryset. Then checks `role` on
    every request and `post_role` on a POST (403), only after the fetch, so a 403 never confirms
    that another organization's object exists. The view runs inside `request_origin`, so every
    audit entry its services write records the client's address. With no model it only checks
    the roles and sets the origin.
    """
    if model is not None and not url_kwarg.endswith("_id"):
        raise ValueError(f"acts_on needs the URL argument holding the public id, like 'endpoint_id', not {url_kwarg!r}")

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if model is not None:
                public_id = kwargs.pop(url_kwarg)
                kwargs[url_kwarg.removesuffix("_id")] = get_for_org(model, request.org, public_id, label=label)
            if role:
                require_role(request, role)
            if post_role and request.method == "POST":
                require_role(request, post_role)
            with request_origin(request):
                return view(request, *args, **kwargs)

        return wrapper

    return decorator
