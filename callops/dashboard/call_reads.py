"""The reads behind the call detail page and its live poll, written out (see callops.lib.rowsql).

A live call's page polls every 2 s, so these two statements run more than any other dashboard
read. The call comes with only the names of its agent and provider account (all the page shows
of them); touching any other field of those loads it on demand, as a deferred field would.
"""

from __future__ import annotations

from django.http import Http404

from callops.accounts.tenancy import parse_public_id
from callops.calls.models import Agent, Call, CallEvent
from callops.lib import rowsql
from callops.providers.models import ProviderAccount

NAME = ("id", "name")
EVENT_FIELDS = tuple(f.name for f in CallEvent._meta.concrete_fields if f.name != "payload")


@rowsql.statement
def _call_sql() -> str:
    q = rowsql.q
    return (f"SELECT {rowsql.columns(Call, 'c')}, {rowsql.columns(Agent, 'a', NAME)}, "
            f"{rowsql.columns(ProviderAccount, 'p', NAME)} "
            f"FROM {q(Call._meta.db_table)} c "
            f"INNER JOIN {q(Agent._meta.db_table)} a ON a.id = c.agent_id "
            f"INNER JOIN {q(ProviderAccount._meta.db_table)} p ON p.id = c.provider_account_id "
            f"WHERE c.organization_id = %s AND c.public_id = %s")


def call_for_page(org, public_id) -> Call:
    """The org's call with this public id, with its agent's and provider's names, else 404."""
    pid = parse_public_id(public_id)
    rows = rowsql.fetch(_call_sql(), [org.pk, rowsql.uuid_param(pid)]) if pid else []
    if not rows:
        raise Http404(f"call {public_id} not found")
    values = rows[0]
    n = rowsql.width(Call)
    call = rowsql.build(Call, values[:n])
    agent = rowsql.build(Agent, values[n:n + 2], NAME)
    account = rowsql.build(ProviderAccount, values[n + 2:], NAME)
    Call.agent.field.set_cached_value(call, agent)
    Call.provider_account.field.set_cached_value(call, account)
    call.organization = org  # already loaded: spares a query for anything that asks
    return call


@rowsql.statement
def _timeline_sql() -> str:
    return (f"SELECT {rowsql.columns(CallEvent, 'e', EVENT_FIELDS)}, e.payload IS NOT NULL "
            f"FROM {rowsql.q(CallEvent._meta.db_table)} e WHERE e.call_id = %s ORDER BY e.created_at, e.id")


def timeline(call) -> list[CallEvent]:
    """The call's events, oldest first, without their payloads; `has_payload` tells which have one."""
    events = []
    for values in rowsql.fetch(_timeline_sql(), [call.pk]):
        event = rowsql.build(CallEvent, values[:-1], EVENT_FIELDS)
        event.has_payload = bool(values[-1])
        events.append(event)
    return events
