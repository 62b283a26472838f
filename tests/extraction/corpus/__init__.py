"""The labelled transcript corpora: loading, validating and scoring (see README.md beside this file).

`heldout/` measures the extractor on conversations it was never written against; `dev/` is
tuning data. The validator below is the corpus authors' check (structure, types, dates, offsets
against the zone, enums, currencies) in one function; tests/extraction/test_corpus.py runs it on
every case. `score_case` is how the benchmark compares a result with the labels.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

HERE = Path(__file__).resolve().parent
SETS = ("heldout", "dev")

SCALAR_TYPES = {"boolean", "integer", "number", "string", "date", "time", "datetime", "email", "phone",
                "currency", "duration", "enum"}
TYPES = SCALAR_TYPES | {"list"}
REQUIRED = ("id", "source", "use_case", "call_time", "timezone", "transcript", "returns", "expected")
OPTIONAL = ("accept",)
FIELD_KEYS = {"type", "description", "values", "synonyms", "items"}
ISO4217 = {"USD", "CAD", "GBP", "EUR", "INR", "AUD", "NZD", "SGD", "AED", "BRL", "ZAR", "PHP", "JPY", "NOK", "SEK",
           "PLN", "KES", "NGN", "CHF", "MXN"}

RE_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
RE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
RE_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
RE_DT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")
RE_EMAIL = re.compile(r"^[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$")
RE_PHONE = re.compile(r"^\+[1-9]\d{6,14}$")
RE_BOLNA = re.compile(r"^(assistant|user): \S.*$")


def files(kind: str) -> list[Path]:
    return sorted((HERE / kind).glob("*.json"))


def load(kind: str) -> list[dict]:
    """Every case of one set ("heldout" or "dev"), in file order."""
    cases = []
    for path in files(kind):
        cases.extend(json.loads(path.read_text(encoding="utf-8")))
    return cases


# --- validation --------------------------------------------------------------------------------

def _enum_errors(label: str, spec: dict) -> list[str]:
    values = spec.get("values")
    if not (isinstance(values, list) and values and all(isinstance(v, str) and v for v in values)
            and len(set(values)) == len(values)):
        return [f"{label}.values must be a non-empty list of distinct strings"]
    errors = []
    synonyms = spec.get("synonyms")
    if synonyms is not None:
        if not isinstance(synonyms, dict):
            return [f"{label}.synonyms must be an object"]
        for key, words in synonyms.items():
            if key not in values:
                errors.append(f"{label}.synonyms key {key!r} is not among the values")
            if not (isinstance(words, list) and all(isinstance(w, str) and w for w in words)):
                errors.append(f"{label}.synonyms[{key}] must be a list of strings")
    return errors


def _spec_errors(name: str, spec) -> list[str]:
    if not isinstance(spec, dict):
        return [f"returns[{name}] is not an object"]
    kind = spec.get("type")
    if kind not in TYPES:
        return [f"returns[{name}] has invalid type {kind!r}"]
    errors = [f"returns[{name}] has unknown key {k!r}" for k in spec if k not in FIELD_KEYS]
    if "description" in spec and not (isinstance(spec["description"], str) and spec["description"].strip()):
        errors.append(f"returns[{name}].description must be a non-empty string")
    if kind == "enum":
        errors += _enum_errors(f"returns[{name}]", spec)
    if kind == "list":
        items = spec.get("items")
        if isinstance(items, str):
            if items not in SCALAR_TYPES or items == "enum":
                errors.append(f"returns[{name}].items {items!r} is not a scalar type name")
        elif isinstance(items, dict) and items.get("type") == "enum":
            errors += _enum_errors(f"returns[{name}].items", items)
        else:
            errors.append(f"returns[{name}] (list) needs items: a scalar type name or an enum")
    return errors


def _value_error(kind: str, spec: dict, value, zone) -> str | None:
    """Why a non-null expected value does not fit its type, or None."""
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if kind == "boolean":
        return None if isinstance(value, bool) else "not a boolean"
    if kind == "integer":
        return None if is_int else "not an integer"
    if kind == "number":
        return None if is_int or isinstance(value, float) else "not a number"
    if kind == "string":
        return None if isinstance(value, str) and value.strip() else "not a non-empty string"
    if kind == "date":
        if not (isinstance(value, str) and RE_DATE.match(value)):
            return "not YYYY-MM-DD"
        try:
            date.fromisoformat(value)
        except ValueError as exc:
            return f"invalid date ({exc})"
        return None
    if kind == "time":
        return None if isinstance(value, str) and RE_TIME.match(value) else "not HH:MM (24h)"
    if kind == "datetime":
        if not (isinstance(value, str) and RE_DT.match(value)):
            return "not YYYY-MM-DDTHH:MM:SS+HH:MM"
        moment = datetime.fromisoformat(value)
        if moment.utcoffset() != moment.astimezone(zone).utcoffset():
            return f"offset does not match {zone.key} at that instant"
        wall = moment.replace(tzinfo=None)
        if wall.replace(tzinfo=zone).astimezone(ZoneInfo("UTC")).astimezone(zone).replace(tzinfo=None) != wall:
            return "wall-clock time does not exist in the zone"
        return None
    if kind == "email":
        return None if isinstance(value, str) and RE_EMAIL.match(value) else "not a lower-case email address"
    if kind == "phone":
        return None if isinstance(value, str) and RE_PHONE.match(value) else "not E.164"
    if kind == "currency":
        if not (isinstance(value, dict) and set(value) == {"amount", "currency"}):
            return "must be {amount, currency}"
        if not isinstance(value["amount"], float):
            return "amount must be a float"
        return None if value["currency"] in ISO4217 else "currency must be a known ISO 4217 code"
    if kind == "duration":
        return None if is_int and value >= 0 else "not a non-negative number of seconds"
    if kind == "enum":
        return None if value in spec.get("values", []) else f"not one of {spec.get('values')}"
    return f"unknown type {kind}"


def _transcript_errors(transcript) -> list[str]:
    if isinstance(transcript, str):
        lines = transcript.split("\n")
        bad = [f"Bolna line {i + 1} malformed" for i, line in enumerate(lines) if not RE_BOLNA.match(line)]
        count = len(lines)
    elif isinstance(transcript, list):
        bad = [f"turn {i} malformed" for i, turn in enumerate(transcript)
               if not (isinstance(turn, dict) and set(turn) == {"role", "text"} and turn["role"] in ("agent", "user")
                       and isinstance(turn["text"], str) and turn["text"].strip())]
        count = len(transcript)
    else:
        return ["transcript must be a list of turns or a Bolna string"]
    return bad + ([] if 4 <= count <= 16 else [f"{count} turns (want 4-16)"])


def validate(case) -> list[str]:
    """Everything wrong with one case ([] when it is well-formed)."""
    if not isinstance(case, dict):
        return ["case is not an object"]
    errors = [f"missing key {k}" for k in REQUIRED if k not in case]
    errors += [f"unknown key {k}" for k in case if k not in REQUIRED + OPTIONAL]
    if not (isinstance(case.get("id"), str) and RE_ID.match(case["id"])):
        errors.append("id must be a lower-case slug")
    if not (isinstance(case.get("source"), str) and case["source"].strip() and "\n" not in case["source"]):
        errors.append("source must be a one-line string")
    if not (isinstance(case.get("use_case"), str) and re.fullmatch(r"[a-z_]+", case["use_case"])):
        errors.append("use_case must be snake_case")
    try:
        zone = ZoneInfo(case.get("timezone"))
    except (ZoneInfoNotFoundError, TypeError, ValueError):
        return errors + [f"invalid timezone {case.get('timezone')!r}"]
    try:
        if datetime.fromisoformat(str(case.get("call_time")).replace("Z", "+00:00")).tzinfo is None:
            errors.append("call_time has no offset")
    except ValueError:
        errors.append("call_time does not parse")
    errors += _transcript_errors(case.get("transcript"))
    returns, expected = case.get("returns"), case.get("expected")
    if not (isinstance(returns, dict) and returns and isinstance(expected, dict)):
        return errors + ["returns and expected must be objects, returns non-empty"]
    for name, spec in returns.items():
        errors += _spec_errors(name, spec)
    if set(expected) != set(returns):
        errors.append("expected must have exactly the keys of returns")
    for name, value in expected.items():
        spec = returns.get(name)
        if value is None or not isinstance(spec, dict) or spec.get("type") not in TYPES:
            continue
        if spec["type"] == "list":
            items = spec.get("items")
            kind, item_spec = (items, {}) if isinstance(items, str) else ("enum", items or {})
            if not (isinstance(value, list) and value):
                errors.append(f"expected[{name}] must be a non-empty list or null")
                continue
            problems = [_value_error(kind, item_spec, v, zone) if v is not None else "null item" for v in value]
        else:
            problems = [_value_error(spec["type"], spec, value, zone)]
        errors += [f"expected[{name}] = {value!r}: {p}" for p in problems if p]
    for name, alternatives in (case.get("accept") or {}).items():
        if (returns.get(name) or {}).get("type") != "string" or expected.get(name) is None:
            errors.append(f"accept[{name}] must name a string field with a non-null expected value")
        if not (isinstance(alternatives, list) and alternatives and all(isinstance(a, str) and a.strip()
                                                                      for a in alternatives)):
            errors.append(f"accept[{name}] must be a non-empty list of strings")
    return errors


# --- scoring -----------------------------------------------------------------------------------

def _text(value) -> str:
    """Case- and punctuation-insensitive form: apostrophes vanish ("don't" = ASR "dont"), other
    punctuation and underscores become spaces."""
    text = str(value).casefold().replace("'", "").replace("’", "")
    return " ".join(re.sub(r"[\W_]+", " ", text).split())


def _instant(value):
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def same(kind: str, expected, got, accept=()) -> bool:
    """Does `got` match the label `expected` for a field of type `kind` (the item type for lists)?"""
    if expected is None or got is None:
        return expected is None and got is None
    if kind in ("string", "enum"):
        return isinstance(got, str) and _text(got) in {_text(v) for v in (expected, *accept)}
    if kind == "boolean":
        return got is expected
    if kind in ("integer", "number", "duration"):
        return (isinstance(got, (int, float)) and not isinstance(got, bool)
                and math.isclose(float(got), float(expected), abs_tol=1e-9))
    if kind == "currency":
        return (isinstance(got, dict) and isinstance(got.get("amount"), (int, float))
                and abs(float(got["amount"]) - expected["amount"]) <= 0.005
                and str(got.get("currency", "")).upper() == expected["currency"])
    if kind == "datetime":
        moment = _instant(got)
        return moment is not None and moment == _instant(expected)
    if kind in ("date", "time", "email", "phone"):
        return isinstance(got, str) and got.strip().lower() == str(expected).lower()
    return got == expected


def field_kind(spec: dict) -> tuple[str, str]:
    """(type, item type): ("list", "date") for a list of dates, ("integer", "integer") otherwise."""
    if spec["type"] == "list":
        items = spec["items"]
        return "list", items if isinstance(items, str) else "enum"
    return spec["type"], spec["type"]


def same_field(spec: dict, expected, got, accept=()) -> bool:
    kind, item = field_kind(spec)
    if kind != "list" or expected is None or got is None:
        return same(item, expected, got, accept)
    if not isinstance(got, list) or len(got) != len(expected):
        return False
    # Order is ignored: each expected item must match a distinct extracted item.
    left = list(got)
    for want in expected:
        hit = next((i for i, have in enumerate(left) if same(item, want, have)), None)
        if hit is None:
            return False
        left.pop(hit)
    return True


def score_case(case: dict, got: dict) -> list[tuple[str, str, bool]]:
    """(field, type, right) for each labelled field of the case."""
    accept = case.get("accept") or {}
    return [(name, case["returns"][name]["type"],
             same_field(case["returns"][name], expected, got.get(name), accept.get(name, ())))
            for name, expected in case["expected"].items()]
