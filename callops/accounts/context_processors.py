"""Template context: the current organization and the user's other organizations."""

from .active_org import resolve_membership


def current_org(request):
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    membership = resolve_membership(request)
    return {
        "current_membership": membership,
        "current_org": membership.organization if membership else None,
        "all_memberships": getattr(request, "_callops_memberships", []),
    }
