"""The `returns` schema: validation when a call or agent is saved, and coercion of results.

A schema maps a field name to a type. The short forms (CallingBox's):

    {"confirmed": "boolean", "party_size": "integer", "slot": "datetime",
     "payment": ["card", "cash", "invoice"],           # an enum: the allowed strings
     "toppings": {"list": "string"},                    # a list of one scalar or enum type
     "days": "list[date]",                              # shorthand for {"list": "date"}
     "names": ["string"]}                               # a one-element list of a type name: a list

and the object form, which adds a description (read by the rules matcher and put in the LLM
prompt) and enum synonyms:

    {"method": {"type": "enum", "values": ["card", "bank_transfer"], "description": "how they pay",
                "synonyms": {"bank_transfer": ["ach", "direct debit"]}},
     "diet": {"type": "list", "items": {"type": "enum", "values": ["vegan", "halal"]}}}

`validate_returns` answers the canonical form: short forms stay short (types lower-cased,
`list[T]` and `["T"]` rewritten to `{"list": T}`), object forms stay objects. `field()` reads
any canonical spec into a `Field`; `coerce` turns whatever an extractor produced into values of
the declared types.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import date, datetime
from typing import Any, NoReturn

from . import amounts, answers, contacts, parsing, times_of_day

SCALAR_TYPES = ("string", "boolean", "number", "integer", "date", "time", "datetime", "email", "phone", "currency",
                "duration")
MAX_FIELDS = 30
MAX_NAME_LENGTH = 64
MAX_ENUM_CHOICES = 50
MAX_CHOICE_LENGTH = 100
MAX_SYNONYMS = 20
MAX_DESCRIPTION_LENGTH = 500
MAX_STRING_LENGTH = 2000
MAX_LIST_ITEMS = 50
OBJECT_KEYS = ("type", "description", "values", "synonyms", "items")

# Identifier-ish: the names become JSON keys in webhooks and columns in CSV exports.
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
LIST_SHORTHAND_RE = re.compile(r"^list\[\s*([a-z]+)\s*\]$")
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")


class SchemaError(ValueError):
    """A `returns` schema that cannot be used; `field` names the offending field when there is one."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Field:
    """One field's type as the extractors read it, whatever form the schema used."""

    kind: str                      # a scalar type, "enum" or "list"
    description: str = ""
    values: tuple = ()             # enum options
    synonyms: dict = dc_field(default_factory=dict)  # option -> other words for it
    item: Field | None = None      # a list's item type


def _fail(name: str, message: str) -> NoReturn:
    raise SchemaError(f"returns.{name}: {message}", field=name)


def _validate_enum(choices, name: str) -> list[str]:
    if not isinstance(choices, list) or not choices:
        _fail(name, "an enum needs at least one allowed value")
    if len(choices) > MAX_ENUM_CHOICES:
        _fail(name, f"an enum allows at most {MAX_ENUM_CHOICES} values")
    seen, out = set(), []
    for choice in choices:
        if not isinstance(choice, str) or not choice.strip():
            _fail(name, "enum values must be non-empty strings")
        choice = choice.strip()
        if len(choice) > MAX_CHOICE_LENGTH:
            _fail(name, f"enum values are at most {MAX_CHOICE_LENGTH} characters")
        if choice.casefold() in seen:
            _fail(name, f"enum value {choice!r} appears twice")
        seen.add(choice.casefold())
        out.append(choice)
    return out


def _validate_synonyms(synonyms, values: list[str], name: str) -> dict:
    if not isinstance(synonyms, dict):
        _fail(name, "synonyms must be an object mapping an enum value to a list of other words for it")
    out = {}
    for key, words in synonyms.items():
        if key not in values:
            _fail(name, f"synonyms name {key!r}, which is not one of the enum values")
        if not isinstance(words, list) or len(words) > MAX_SYNONYMS or not all(
                isinstance(w, str) and w.strip() and len(w) <= MAX_CHOICE_LENGTH for w in words):
            _fail(name, f"synonyms of {key!r} must be a list of at most {MAX_SYNONYMS} non-empty strings")
        out[key] = [w.strip() for w in words]
    return out


def _scalar(spec: str, name: str) -> str:
    kind = spec.strip().lower()
    if kind in SCALAR_TYPES:
        return kind
    _fail(name, f"unknown type {spec!r} (expected one of {', '.join(SCALAR_TYPES)}, an enum list, or a list)")


def _is_type_list(spec) -> bool:
    """["string"]: a list of strings. An enum whose only value is a type name would mean nothing."""
    return (isinstance(spec, list) and len(spec) == 1 and isinstance(spec[0], str)
            and spec[0].strip().lower() in SCALAR_TYPES)


def _validate_item(spec, name: str):
    """What a list may hold: a scalar type name, an enum list, or an object-form scalar or enum."""
    if isinstance(spec, str):
        if LIST_SHORTHAND_RE.match(spec.strip().lower()):
            _fail(name, "lists of lists are not supported")
        return _scalar(spec, name)
    if _is_type_list(spec):
        _fail(name, "lists of lists are not supported")
    if isinstance(spec, list):
        return _validate_enum(spec, name)
    if isinstance(spec, dict) and "type" in spec:
        if str(spec.get("type")).strip().lower() == "list" or "list" in spec:
            _fail(name, "lists of lists are not supported")
        return _validate_object(spec, name)
    if isinstance(spec, dict) and "list" in spec:
        _fail(name, "lists of lists are not supported")
    _fail(name, "a list item must be a type name or an enum")


def _validate_object(spec: dict, name: str) -> dict:
    unknown = [k for k in spec if k not in OBJECT_KEYS]
    if unknown:
        _fail(name, f"unknown key {unknown[0]!r} (a field object may have {', '.join(OBJECT_KEYS)})")
    kind = spec["type"]
    if not isinstance(kind, str):
        _fail(name, "type must be a type name")
    kind = kind.strip().lower()
    out: dict = {"type": kind if kind in ("enum", "list") else _scalar(kind, name)}
    description = spec.get("description")
    if description is not None:
        if not isinstance(description, str) or len(description) > MAX_DESCRIPTION_LENGTH:
            _fail(name, f"description must be text of at most {MAX_DESCRIPTION_LENGTH} characters")
        if description.strip():
            out["description"] = " ".join(description.split())
    if kind == "enum":
        out["values"] = _validate_enum(spec.get("values"), name)
        if spec.get("synonyms") is not None:
            out["synonyms"] = _validate_synonyms(spec["synonyms"], out["values"], name)
    elif "values" in spec or "synonyms" in spec:
        _fail(name, 'only an enum ("type": "enum") takes values and synonyms')
    if kind == "list":
        if "items" not in spec:
            _fail(name, 'a list needs "items": a type name or an enum')
        out["items"] = _validate_item(spec["items"], name)
    elif "items" in spec:
        _fail(name, 'only a list ("type": "list") takes items')
    return out


def validate_field(name, spec):
    """Validate one field; answers its canonical spec."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise SchemaError(f"returns: field name {name!r} must start with a letter or underscore and contain "
                          "only letters, digits and underscores", field=str(name))
    if len(name) > MAX_NAME_LENGTH:
        raise SchemaError(f"returns: field name {name[:20]}... is longer than {MAX_NAME_LENGTH} characters",
                          field=name)
    if isinstance(spec, dict):
        if "type" in spec:
            return _validate_object(spec, name)
        if set(spec) != {"list"}:
            _fail(name, 'an object type must be {"list": <type>} or {"type": <type>, "description": ...}')
        return {"list": _validate_item(spec["list"], name)}
    if isinstance(spec, str):
        m = LIST_SHORTHAND_RE.match(spec.strip().lower())
        if m:
            return {"list": _validate_item(m.group(1), name)}
        return _scalar(spec, name)
    if _is_type_list(spec):
        return {"list": _scalar(spec[0], name)}
    if isinstance(spec, list):
        return _validate_enum(spec, name)
    _fail(name, "a type must be a type name, an enum list, or a list")


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


def field(spec) -> Field:
    """A canonical spec (any form) as a Field."""
    if isinstance(spec, Field):
        return spec
    if isinstance(spec, str):
        return Field(spec)
    if isinstance(spec, list):
        return Field("enum", values=tuple(spec))
    if "list" in spec:
        return Field("list", item=field(spec["list"]))
    kind = spec["type"]
    return Field(kind, description=spec.get("description", ""), values=tuple(spec.get("values", ())),
                 synonyms={k: tuple(v) for k, v in (spec.get("synonyms") or {}).items()},
                 item=field(spec["items"]) if kind == "list" else None)


def fields(schema: dict) -> dict[str, Field]:
    return {name: field(spec) for name, spec in validate_returns(schema).items()}


def describe(spec) -> str:
    """Human-readable type, for prompts and error messages."""
    f = field(spec)
    if f.kind == "list":
        return f"list of {describe(f.item)}"
    if f.kind == "enum":
        return "one of " + ", ".join(repr(c) for c in f.values)
    return f.kind


def simple_form(spec):
    """The short form of a canonical spec (description and synonyms dropped), for code that only
    needs the type, such as the sandbox's scripted callee."""
    f = field(spec)
    if f.kind == "list":
        return {"list": simple_form(f.item)}
    return list(f.values) if f.kind == "enum" else f.kind


# --- coercion ---------------------------------------------------------------------------------

class CoercionError(ValueError):
    pass


_TRUE = {"true", "yes", "y", "1", "yeah", "yep", "confirmed", "correct", "agreed", "affirmative"}
_FALSE = {"false", "no", "n", "0", "nope", "declined", "denied", "negative"}


def _coerce_boolean(value, f, when, region):
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower().rstrip(".!")
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        found = answers.parse_boolean(value)
        if found is not None:
            return found
    raise CoercionError("not a yes/no value")


def _coerce_number(value, f, when, region):
    if isinstance(value, bool):
        raise CoercionError("not a number")
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise CoercionError("not a finite number")
        return int(value) if isinstance(value, float) and value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, str):
        found = parsing.parse_number(value)
        if found is not None:
            return found
    raise CoercionError("not a number")


def _coerce_integer(value, f, when, region):
    number = _coerce_number(value, f, when, region)
    if isinstance(number, float):
        if not number.is_integer():
            raise CoercionError("not a whole number")
        number = int(number)
    return number


def _coerce_date(value, f, when, region):
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
        found = parsing.parse_date(text, when)
        if found is not None:
            return found.isoformat()
    raise CoercionError("not a date")


def _coerce_time(value, f, when, region):
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})(?::\d{2})?\s*", value)
        if m and int(m.group(1)) < 24 and int(m.group(2)) < 60:
            return f"{int(m.group(1)):02d}:{m.group(2)}"
        found = times_of_day.parse_time(value)
        if found is not None:
            return f"{found[0]:02d}:{found[1]:02d}"
    raise CoercionError("not a time of day")


def _coerce_datetime(value, f, when, region):
    tz = when.tzinfo if when is not None else None
    parsed = value if isinstance(value, datetime) else None
    if isinstance(value, str):
        text = value.strip()
        if re.match(r"^\d{4}-\d{2}-\d{2}[T ]\d", text):
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                parsed = None
        if parsed is None:
            parsed = times_of_day.parse_datetime(text, when)
    if parsed is None:
        raise CoercionError("not a date and time")
    if parsed.tzinfo is None and tz is not None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.isoformat()


def _coerce_email(value, f, when, region):
    if isinstance(value, str):
        found = contacts.parse_email(value.strip().strip("<>"))
        if found:
            return found
    raise CoercionError("not an email address")


def _coerce_phone(value, f, when, region):
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str):
        found = contacts.parse_phone(value, region=region)
        if found:
            return found
    raise CoercionError("not a phone number")


def _coerce_currency(value, f, when, region):
    if isinstance(value, dict) and set(value) <= {"amount", "currency"} and "amount" in value:
        amount = _coerce_number(value["amount"], f, when, region)
        code = value.get("currency") or amounts.currency_of_region(region)
        if not isinstance(code, str) or not CURRENCY_RE.match(code.strip().upper()):
            raise CoercionError("currency must be an ISO 4217 code such as USD")
        return {"amount": float(amount), "currency": code.strip().upper()}
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {"amount": float(_coerce_number(value, f, when, region)), "currency": amounts.currency_of_region(region)}
    if isinstance(value, str):
        found = amounts.parse_currency(value, region)
        if found is not None:
            return found
    raise CoercionError("not an amount of money")


def _coerce_duration(value, f, when, region):
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return int(round(value))
    if isinstance(value, str):
        found = amounts.parse_duration(value)
        if found is not None:
            return found
    raise CoercionError("not a duration")


def _coerce_string(value, f, when, region):
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


def _coerce_enum(value, f, when, region):
    if isinstance(value, str):
        found = answers.match_enum(value, f.values, f.synonyms)
        if found is not None:
            return found
    raise CoercionError("not one of " + ", ".join(f.values))


_SCALARS = {
    "boolean": _coerce_boolean, "number": _coerce_number, "integer": _coerce_integer, "date": _coerce_date,
    "time": _coerce_time, "datetime": _coerce_datetime, "email": _coerce_email, "phone": _coerce_phone,
    "currency": _coerce_currency, "duration": _coerce_duration, "string": _coerce_string, "enum": _coerce_enum,
}


_JSON_TYPE = {bool: "true/false", int: "a number", float: "a number", str: "a string", list: "a list",
              dict: "an object"}
_STRICT_FORMS = {"date": re.compile(r"^\d{4}-\d{2}-\d{2}$"), "time": re.compile(r"^\d{2}:\d{2}$"),
                 "datetime": re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$")}


def check_strict(spec, value) -> None:
    """Refuse a value that is not already of the declared JSON type and form (what a model was asked
    to answer): CoercionError says what was expected and what came."""
    f = field(spec)
    got = _JSON_TYPE.get(type(value), type(value).__name__)
    if f.kind == "list":
        if not isinstance(value, list):
            raise CoercionError(f"expected a list, got {got}")
        for item in value:
            check_strict(f.item, item)
        return
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = {
        "boolean": isinstance(value, bool), "number": number, "duration": number and value >= 0,
        "integer": number and float(value).is_integer(),
        "currency": isinstance(value, dict) and set(value) <= {"amount", "currency"} and isinstance(
            value.get("amount"), (int, float)) and not isinstance(value.get("amount"), bool),
        "enum": isinstance(value, str) and value.strip().casefold() in {v.casefold() for v in f.values},
    }.get(f.kind, isinstance(value, str))
    if ok and f.kind in _STRICT_FORMS:
        ok = bool(_STRICT_FORMS[f.kind].match(value.strip()))
    if not ok:
        want = describe(f) if f.kind != "enum" else "one of " + ", ".join(f.values)
        raise CoercionError(f"the answer does not fit the schema (expected {want}"
                            f"{' as ' + _FORMS[f.kind] if f.kind in _FORMS else ''}, got {got})")


_FORMS = {"date": "YYYY-MM-DD", "time": "HH:MM", "datetime": "ISO 8601 with offset",
          "currency": '{"amount": number, "currency": "ISO 4217"}', "duration": "seconds"}


def coerce_value(spec, value, call_time=None, region: str = "US"):
    """One value to its declared type; raises CoercionError with a short reason."""
    f = field(spec)
    if f.kind == "list":
        items = value
        if isinstance(value, str):
            items = [part for part in re.split(r"\s*(?:,|;|\band\b|\bor\b)\s*", value) if part.strip()]
        if not isinstance(items, (list, tuple)):
            raise CoercionError("not a list")
        return [coerce_value(f.item, item, call_time, region) for item in items[:MAX_LIST_ITEMS] if item is not None]
    return _SCALARS[f.kind](value, f, call_time, region)


def coerce(schema: dict, raw: dict, call_time, region: str = "US", strict: bool = False) -> tuple[dict, dict]:
    """Coerce an extractor's raw output onto the schema.

    Answers (result, errors): `result` has every schema field (null when absent or unparseable);
    `errors` maps each field that is null to why. Keys in `raw` match schema fields
    case-insensitively, ignoring `_`, `-` and spaces. Relative dates resolve against
    `call_time`; phone numbers without a country code, and amounts without a currency, are read
    in `region`. With `strict`, a value not already of the declared JSON type and form is refused
    (`check_strict`) instead of read loosely: an LLM's answer must fit the schema it was given.
    """
    schema = validate_returns(schema)
    raw = raw if isinstance(raw, dict) else {}
    by_key = {normalize_key(k): v for k, v in raw.items()}
    result: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, spec in schema.items():
        value = raw[name] if name in raw else by_key.get(normalize_key(name))
        if value is None or value == "" or value == []:
            result[name] = None
            errors[name] = "not found in the conversation"
            continue
        try:
            if strict:
                check_strict(spec, value)
            result[name] = coerce_value(spec, value, call_time, region)
            if result[name] is None:
                raise CoercionError("no value")
        except CoercionError as exc:
            result[name] = None
            errors[name] = (f"{_preview(value)} refused: {exc}" if strict else
                            f"could not parse {_preview(value)} as {describe(spec)}: {exc}")
    return result, errors


def normalize_key(key) -> str:
    return re.sub(r"[\s_\-]+", "", str(key)).casefold()


def _preview(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


__all__ = ["SchemaError", "validate_returns", "coerce", "coerce_value", "CoercionError", "describe", "field",
           "fields", "Field", "SCALAR_TYPES"]
