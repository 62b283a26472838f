"""Which organization a signed-in user is acting in (kept in the session, checked every request)."""

from .models import Membership

SESSION_KEY = "callops_org"


def memberships_list(user) -> list[Membership]:
    """The user's memberships, each with its organization, by organization name."""
    if not user.is_authenticated:
        return []
    # One query: the memberships joined to their organizations (the switcher prints every name).
    memberships = list(Membership.objects.filter(user=user).select_related("organization")
                       .order_by("organization__name"))
    for m in memberships:
        Membership.user.field.set_cached_value(m, user)  # already loaded: spares a query per row
    return memberships


def resolve_membership(request) -> Membership | None:
    """The membership for the org in the session, falling back to the user's first org."""
    if hasattr(request, "_callops_membership"):
        return request._callops_membership
    memberships = memberships_list(request.user)
    wanted = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    chosen = next((m for m in memberships if str(m.organization.public_id) == wanted), None)
    chosen = chosen or (memberships[0] if memberships else None)
    request._callops_membership = chosen
    request._callops_memberships = memberships
    return chosen


def switch_org(request, public_id: str) -> bool:
    for m in memberships_list(request.user):
        if str(m.organization.public_id) == str(public_id):
            request.session[SESSION_KEY] = str(m.organization.public_id)
            request._callops_membership = m
            return True
    return False
