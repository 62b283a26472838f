"""Which organization a signed-in user is acting in (kept in the session, checked every request)."""

from callops.lib import rowsql

from .models import Membership, Organization

SESSION_KEY = "callops_org"


@rowsql.statement
def _memberships_sql() -> str:
    q = rowsql.q
    return (f"SELECT {rowsql.columns(Membership, 'm')}, {rowsql.columns(Organization, 'o')} "
            f"FROM {q(Membership._meta.db_table)} m "
            f"INNER JOIN {q(Organization._meta.db_table)} o ON o.id = m.organization_id "
            f"WHERE m.user_id = %s ORDER BY o.name")


def memberships_list(user) -> list[Membership]:
    """The user's memberships, each with its organization, by organization name; written out
    because every dashboard request reads it (see callops.lib.rowsql)."""
    if not user.is_authenticated:
        return []
    n = rowsql.width(Membership)
    out = []
    for values in rowsql.fetch(_memberships_sql(), [user.pk]):
        membership = rowsql.build(Membership, values[:n])
        Membership.organization.field.set_cached_value(membership, rowsql.build(Organization, values[n:]))
        Membership.user.field.set_cached_value(membership, user)
        out.append(membership)
    return out


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
