"""Optional pieces the call detail page shows when their apps provide them.

Webhook deliveries and extraction re-runs live in their own apps; the dashboard asks for them
here so a page never breaks because one of those features is absent or not yet migrated.
"""

import functools
import importlib

from callops.lib import rowsql


def _attr(module: str, name: str):
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def rerun_extraction():
    """`callops.calls.results.rerun`, or None when extraction re-runs are unavailable."""
    return _attr("callops.calls.results", "rerun")


def redeliver():
    return _attr("callops.webhooks.services", "redeliver")


def delivery_model():
    return _attr("callops.webhooks.models", "WebhookDelivery")


# What the detail page shows of each delivery and attempt, read as plain rows: attempts keep the
# request and response bodies and headers (up to WEBHOOK_STORED_BODY_BYTES each) and events their
# whole JSON body, none of which is on the page (the webhooks page shows an attempt in full), and
# the page only prints these values, so model instances would be built for nothing. The detail
# page and its 2-second live poll run these on every request, so they are written out
# (see callops.lib.rowsql).
DELIVERY_FIELDS = ("id", "public_id", "status", "url", "attempt_count", "created_at")
ATTEMPT_FIELDS = ("delivery_id", "number", "trigger", "created_at", "response_status", "error_kind", "error",
                  "duration_ms", "succeeded")


@functools.cache
def _delivery_fields() -> dict:
    model = delivery_model()
    fields = {name: model._meta.get_field(name) for name in DELIVERY_FIELDS}
    fields["event__type"] = model._meta.get_field("event").related_model._meta.get_field("type")
    return fields


@functools.cache
def _attempt_fields() -> dict:
    attempt_model = delivery_model()._meta.get_field("attempts").related_model
    return {name: attempt_model._meta.get_field(name) for name in ATTEMPT_FIELDS}


@rowsql.statement
def _deliveries_sql() -> str:
    q, model = rowsql.q, delivery_model()
    event_table = model._meta.get_field("event").related_model._meta.db_table
    columns = ", ".join([*(f"d.{q(f.column)}" for f in list(_delivery_fields().values())[:-1]), "e.type"])
    return (f"SELECT {columns} FROM {q(model._meta.db_table)} d INNER JOIN {q(event_table)} e ON e.id = d.event_id "
            f"WHERE d.call_id = %s ORDER BY d.created_at, d.id")


@rowsql.statement
def _attempts_sql() -> str:
    """The attempts statement up to its IN list, which the caller closes."""
    q = rowsql.q
    attempt_table = delivery_model()._meta.get_field("attempts").related_model._meta.db_table
    columns = ", ".join(f"a.{q(f.column)}" for f in _attempt_fields().values())
    return f"SELECT {columns} FROM {q(attempt_table)} a WHERE a.delivery_id IN "


def deliveries_for(call):
    """The call's webhook deliveries, each a dict with its `event__type` and `attempts` (one
    query, two when there are deliveries), or None if webhook deliveries are unavailable."""
    if delivery_model() is None:
        return None
    deliveries = rowsql.dicts(_deliveries_sql(), [call.pk], _delivery_fields())
    if deliveries:
        by_id = {d["id"]: d for d in deliveries}
        for d in deliveries:
            d["attempts"] = []
        placeholders = ", ".join(["%s"] * len(by_id))
        for a in rowsql.dicts(f"{_attempts_sql()}({placeholders}) ORDER BY a.number, a.id", list(by_id),
                              _attempt_fields()):
            by_id[a["delivery_id"]]["attempts"].append(a)
    return deliveries
