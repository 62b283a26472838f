"""Model rows read by hand-written SQL on the hottest read paths, converted as the ORM would.

Building and compiling a queryset costs Django more than PostgreSQL takes to answer a lookup by
key (about 0.8 ms against 0.3 ms for a call with its agent and provider). The few reads that run
on every dashboard request (the signed-in user, the membership, the call a live page polls) are
written out once per process instead. Column lists come from the models, so a new field is read
without touching this module, and every value goes through its field's own database converters,
so an instance built here is exactly what the ORM would have built, on any database Django
supports.
"""

from __future__ import annotations

import functools
import json

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import JSONField, UUIDField


def q(name: str) -> str:
    return connection.ops.quote_name(name)


def statement(build):
    """Memoise a function that writes out a statement, per database vendor (quoting differs), so
    a request only looks it up."""
    written = {}

    @functools.wraps(build)
    def get() -> str:
        vendor = connection.vendor
        if vendor not in written:
            written[vendor] = build()
        return written[vendor]

    return get


@functools.cache
def _converters(field, vendor: str) -> tuple[tuple, object]:
    """(converters, expression) that turn this field's raw database value into its Python value."""
    expression = field.get_col(field.model._meta.db_table)
    if isinstance(field, JSONField) and vendor == "postgresql":
        # Django's psycopg loader hands jsonb over as text; most of these columns hold "{}".
        return (_json,), expression
    return tuple(connection.ops.get_db_converters(expression) + expression.get_db_converters(connection)), expression


def _converted(plan, values) -> list:
    conn = connections[DEFAULT_DB_ALIAS]  # the real wrapper, not the thread-local proxy, per value
    out = []
    for (converters, expression), value in zip(plan, values, strict=True):
        for convert in converters:
            value = convert(value, expression, conn)
        out.append(value)
    return out


@functools.cache
def _fields(model, names: tuple[str, ...] | None) -> tuple:
    """`names` (every concrete field when None) in the model's concrete field order, which
    Model.from_db expects."""
    return tuple(f for f in model._meta.concrete_fields if names is None or f.name in names or f.attname in names)


@functools.cache
def _model_plan(model, names: tuple[str, ...] | None, vendor: str) -> tuple[tuple[str, ...], tuple]:
    fields = _fields(model, names)
    return tuple(f.attname for f in fields), tuple(_converters(f, vendor) for f in fields)


def _json(value, expression, conn):
    if value is None:
        return None
    return {} if value == "{}" else json.loads(value)


def columns(model, alias: str, names: tuple[str, ...] | None = None) -> str:
    """`alias."col", ...` for `names` (every concrete field when None), in from_db order."""
    return ", ".join(f"{alias}.{q(f.column)}" for f in _fields(model, names))


def width(model, names: tuple[str, ...] | None = None) -> int:
    return len(_fields(model, names))


def build(model, values, names: tuple[str, ...] | None = None):
    """A model instance from a row read with `columns(model, ..., names)`; other fields deferred."""
    attnames, plan = _model_plan(model, names, connection.vendor)
    return model.from_db(connection.alias, attnames, _converted(plan, values))


def dicts(sql: str, params, fields: dict) -> list[dict]:
    """Rows as dicts keyed like `fields` ({key: model field}, in the SELECT's column order), each
    value converted by its field, like QuerySet.values()."""
    keys = tuple(fields)
    plan = tuple(_converters(f, connection.vendor) for f in fields.values())
    return [dict(zip(keys, _converted(plan, row), strict=True)) for row in fetch(sql, params)]


def fetch(sql: str, params) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


_UUID = UUIDField()


def uuid_param(value):
    """A UUID as the database stores it (a uuid column on PostgreSQL, hex text on SQLite)."""
    return _UUID.get_db_prep_value(value, connection)
