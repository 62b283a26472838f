"""The `returns` schema: validation when a call or agent is saved, and coercion of results.

A schema maps a field name to a type, in the CallingBox form:

    {"confirmed": "boolean", "party_size": "integer", "slot": "datetime",
     "payment": ["card", "cash", "invoice"],           # an enum: the allowed strings
     "toppings": {"list": "string"},                    # a list of one scalar or enum type
     "days": "list[date]"}                              # shorthand for {"list": "date"}

`validate_returns` answers the canonical form (types lower-cased, `list[T]` rewritten to
`{"list": T}`); `coerce` turns whatever an extractor produced into values of the declared types.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime

SCALAR_TYPES = ("string", "boolean", "number", "integer", "date", "datetime", "email", "phone")
MAX_FIELDS = 30
MAX_NAME_LENGTH = 64
MAX_ENUM_CHOICES = 50
MAX_CHOICE_LENGTH = 100
MAX_STRING_LENGTH = 2000
MAX_LIST_ITEMS = 50

# Identifier-ish: the names become JSON keys in webhooks and columns in CSV exports.
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
LIST_SHORTHAND_RE = re.compile(r"^list\[\s*([a-z]+)\s*\]$")
EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")


class SchemaError(ValueError):
    """A `returns` schema that cannot be used; `field` names the offending field when there is one."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def _validate_enum(choices, name: str) -> list[str]:
    if not choices:
        raise SchemaError(f"returns.{name}: an enum needs at least one allowed value", field=name)
    if len(choices) > MAX_ENUM_CHOICES:
        raise SchemaError(f"returns.{name}: an enum allows at most {MAX_ENUM_CHOICES} values", field=name)
    seen = set()
    out = []
    for choice in choices:
        if not isinstance(choice, str) or not choice.strip():
            raise SchemaError(f"returns.{name}: enum values must be non-empty strings", field=name)
        choice = choice.strip()
        if len(choice) > MAX_CHOICE_LENGTH:
            raise SchemaError(f"returns.{name}: enum values are at most {MAX_CHOICE_LENGTH} characters",
                              field=name)
        if choice.casefold() in seen:
            raise SchemaError(f"returns.{name}: enum value {choice!r} appears twice", field=name)
        seen.add(choice.casefold())
        out.append(choice)
    return out


def _validate_item(spec, name: str):
    """A scalar type name or an enum list (what a field or a list item may be)."""
    if isinstance(spec, str):
        kind = spec.strip().lower()
        if kind in SCALAR_TYPES:
            return kind
        raise SchemaError(f"returns.{name}: unknown type {spec!r} (expected one of {', '.join(SCALAR_TYPES)}, "
                          "an enum list, or a list)", field=name)
    if isinstance(spec, list):
        return _validate_enum(spec, name)
    raise SchemaError(f"returns.{name}: a type must be a type name, an enum list, or a list", field=name)


def validate_field(name, spec):
    """Validate one field; answers its canonical spec."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise SchemaError(f"returns: field name {name!r} must start with a letter or underscore and contain "
                          "only letters, digits and underscores", field=str(name))
    if len(name) > MAX_NAME_LENGTH:
        raise SchemaError(f"returns: field name {name[:20]}... is longer than {MAX_NAME_LENGTH} characters",
                          field=name)
    if isinstance(spec, dict):
        if set(spec) != {"list"}:
            raise SchemaError(f'returns.{name}: an object type must be {{"list": <type>}}', field=name)
        inner = spec["list"]
        if isinstance(inner, dict) or (isinstance(inner, str) and LIST_SHORTHAND_RE.match(inner.strip().lower())):
            raise SchemaError(f"returns.{name}: lists of lists are not supported", field=name)
        return {"list": _validate_item(inner, name)}
    if isinstance(spec, str):
        m = LIST_SHORTHAND_RE.match(spec.strip().lower())
        if m:
            return {"list": _validate_item(m.group(1), name)}
    return _validate_item(spec, name)


def validate_returns(schema) -> dict:
    """Check a `returns` schema and answer its canonical form; SchemaError names the bad field.

    None or {} means "no extraction" and answers {}.
    """
    if schema is None:
        return {}
    if not isinstance(schema, dict):
        raise SchemaError("returns must be an object mapping field names to types")
    if len(schema) > MAX_FIELDS:
        raise SchemaError(f"returns may declare at most {MAX_FIELDS} fields")
    canonical = {}
    folded = set()
    for name, spec in schema.items():
        canonical[name] = validate_field(name, spec)
        # Keys that differ only in case would collide in the provider and llm extractors'
        # normalised key matching.
        if name.casefold() in folded:
            raise SchemaError(f"returns: field {name!r} differs from another only by case", field=name)
        folded.add(name.casefold())
    return canonical


def is_list(spec) -> bool:
    return isinstance(spec, dict)


def item_type(spec):
    """The scalar type or enum list of a field (the item type for a list field)."""
    return spec["list"] if isinstance(spec, dict) else spec


def describe(spec) -> str:
    """Human-readable type, for prompts and error messages."""
    if isinstance(spec, dict):
        return f"list of {describe(spec['list'])}"
    if isinstance(spec, list):
        return "one of " + ", ".join(repr(c) for c in spec)
    return spec


# --- coercion ---------------------------------------------------------------------------------

class CoercionError(ValueError):
    pass


_TRUE = {"true", "yes", "y", "1", "yeah", "yep", "confirmed", "correct", "agreed", "affirmative"}
_FALSE = {"false", "no", "n", "0", "nope", "declined", "denied", "negative"}


def _coerce_boolean(value, call_time):
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower().rstrip(".!")
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        from .parsing import parse_boolean

        found = parse_boolean(value)
        if found is not None:
            return found
    raise CoercionError("not a yes/no value")


def _coerce_number(value, call_time):
    if isinstance(value, bool):
        raise CoercionError("not a number")
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise CoercionError("not a finite number")
        return int(value) if isinstance(value, float) and value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, str):
        from .parsing import parse_number

        found = parse_number(value)
        if found is not None:
            return found
    raise CoercionError("not a number")


def _coerce_integer(value, call_time):
    number = _coerce_number(value, call_time)
    if isinstance(number, float):
        if not number.is_integer():
            raise CoercionError("not a whole number")
        number = int(number)
    return number


def _coerce_date(value, call_time):
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        text = value.strip()
        if re.match(r"^\d{4}-\d{2}-\d{2}", text):
            try:
                return date.fromisoformat(text[:10]).isoformat()
            except ValueError:
                raise CoercionError("not a valid date")
        from .parsing import parse_date

        found = parse_date(text, call_time)
        if found is not None:
            return found.isoformat()
    raise CoercionError("not a date")


def _coerce_datetime(value, call_time):
    tz = call_time.tzinfo if call_time is not None else None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        text = value.strip()
        parsed = None
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00")) if re.match(r"^\d{4}-\d{2}-\d{2}[T ]\d",
                                                                                     text) else None
        except ValueError:
            parsed = None
        if parsed is None:
            from .parsing import parse_datetime

            parsed = parse_datetime(text, call_time)
        if parsed is None:
            raise CoercionError("not a date and time")
    else:
        raise CoercionError("not a date and time")
    if parsed.tzinfo is None and tz is not None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.isoformat()


def _coerce_email(value, call_time):
    if isinstance(value, str):
        text = value.strip().strip("<>").strip()
        if EMAIL_RE.match(text):
            return text.lower()
        from .parsing import parse_email

        found = parse_email(text)
        if found:
            return found
    raise CoercionError("not an email address")


def _coerce_phone(value, call_time, region="US"):
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str):
        from .parsing import parse_phone

        found = parse_phone(value, region=region)
        if found:
            return found
    raise CoercionError("not a phone number")


def _coerce_string(value, call_time):
    if isinstance(value, bool) or value is None:
        raise CoercionError("not text")
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        text = " ".join(value.split())
        if not text:
            raise CoercionError("empty text")
        return text[:MAX_STRING_LENGTH]
    raise CoercionError("not text")


def _coerce_enum(value, choices, call_time):
    if isinstance(value, str):
        from .parsing import match_enum

        found = match_enum(value, choices)
        if found is not None:
            return found
    raise CoercionError("not one of " + ", ".join(choices))


_SCALARS = {
    "boolean": _coerce_boolean, "number": _coerce_number, "integer": _coerce_integer, "date": _coerce_date,
    "datetime": _coerce_datetime, "email": _coerce_email, "phone": _coerce_phone, "string": _coerce_string,
}


def coerce_value(spec, value, call_time=None, region: str = "US"):
    """One value to its declared type; raises CoercionError with a short reason."""
    if isinstance(spec, dict):
        items = value
        if isinstance(value, str):
            items = [part for part in re.split(r"\s*(?:,|;|\band\b|\bor\b)\s*", value) if part.strip()]
        if not isinstance(items, (list, tuple)):
            raise CoercionError("not a list")
        out = []
        for item in items[:MAX_LIST_ITEMS]:
            if item is None:
                continue
            out.append(coerce_value(spec["list"], item, call_time, region))
        return out
    if isinstance(spec, list):
        return _coerce_enum(value, spec, call_time)
    if spec == "phone":
        return _coerce_phone(value, call_time, region)
    return _SCALARS[spec](value, call_time)


def coerce(schema: dict, raw: dict, call_time, region: str = "US") -> tuple[dict, dict]:
    """Coerce an extractor's raw output onto the schema.

    Answers (result, errors): `result` has every schema field (null when absent or unparseable);
    `errors` maps each field that is null to why. Keys in `raw` match schema fields
    case-insensitively, ignoring `_`, `-` and spaces. Relative dates resolve against
    `call_time`; phone numbers without a country code are read in `region`.
    """
    schema = validate_returns(schema)
    raw = raw if isinstance(raw, dict) else {}
    by_key = {normalize_key(k): v for k, v in raw.items()}
    result, errors = {}, {}
    for name, spec in schema.items():
        value = raw[name] if name in raw else by_key.get(normalize_key(name))
        if value is None or value == "" or value == []:
            result[name] = None
            errors[name] = "not found in the conversation"
            continue
        try:
            result[name] = coerce_value(spec, value, call_time, region)
            if result[name] is None:
                raise CoercionError("no value")
        except CoercionError as exc:
            result[name] = None
            errors[name] = f"could not parse {_preview(value)} as {describe(spec)}: {exc}"
    return result, errors


def normalize_key(key) -> str:
    return re.sub(r"[\s_\-]+", "", str(key)).casefold()


def _preview(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


__all__ = ["SchemaError", "validate_returns", "coerce", "coerce_value", "CoercionError", "describe",
           "SCALAR_TYPES"]
