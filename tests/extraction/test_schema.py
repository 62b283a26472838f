"""The `returns` schema: every bad form is refused with the field named; coercion to declared types."""

from datetime import UTC, datetime

import pytest

from callops.extraction.schema import MAX_FIELDS, SchemaError, coerce, validate_returns

WHEN = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # a Monday


def test_every_type_is_accepted_and_canonicalised():
    schema = {"a": "string", "b": "Boolean", "c": "number", "d": "integer", "e": "date", "f": "datetime",
              "g": "email", "h": "phone", "i": ["yes", "no", "maybe"], "j": {"list": "string"},
              "k": "list[date]", "l": {"list": ["red", "green"]}}
    assert validate_returns(schema) == {
        "a": "string", "b": "boolean", "c": "number", "d": "integer", "e": "date", "f": "datetime",
        "g": "email", "h": "phone", "i": ["yes", "no", "maybe"], "j": {"list": "string"},
        "k": {"list": "date"}, "l": {"list": ["red", "green"]}}


def test_empty_means_no_extraction():
    assert validate_returns({}) == {}
    assert validate_returns(None) == {}


@pytest.mark.parametrize("schema, field, words", [
    ({"ok": "string", "bad": "text"}, "bad", "unknown type"),
    ({"bad": 3}, "bad", "type must be"),
    ({"bad": None}, "bad", "type must be"),
    ({"bad": []}, "bad", "at least one"),
    ({"bad": ["a", ""]}, "bad", "non-empty strings"),
    ({"bad": ["a", 1]}, "bad", "non-empty strings"),
    ({"bad": ["Yes", "yes"]}, "bad", "appears twice"),
    ({"bad": ["x" * 101]}, "bad", "at most 100"),
    ({"bad": [str(i) for i in range(51)]}, "bad", "at most 50"),
    ({"bad": {"list": {"list": "string"}}}, "bad", "lists of lists"),
    ({"bad": "list[list[string]]"}, "bad", "unknown type"),
    ({"bad": {"list": "colour"}}, "bad", "unknown type"),
    ({"bad": {"items": "string"}}, "bad", '{"list": <type>}'),
    ({"bad": {"list": "string", "extra": 1}}, "bad", '{"list": <type>}'),
    ({"bad": "list[string"}, "bad", "unknown type"),
    ({"1st": "string"}, "1st", "must start with a letter"),
    ({"has space": "string"}, "has space", "must start with a letter"),
    ({"dash-name": "string"}, "dash-name", "must start with a letter"),
    ({"": "string"}, "", "must start with a letter"),
    ({"x" * 65: "string"}, "x" * 65, "longer than 64"),
    ({"Email": "email", "email": "email"}, "email", "only by case"),
])
def test_bad_schemas_name_the_field(schema, field, words):
    with pytest.raises(SchemaError) as err:
        validate_returns(schema)
    assert err.value.field == field
    assert words in err.value.message
    if field:
        assert field[:20] in err.value.message


@pytest.mark.parametrize("schema", [["confirmed"], "boolean", 5])
def test_schema_must_be_an_object(schema):
    with pytest.raises(SchemaError) as err:
        validate_returns(schema)
    assert err.value.field is None
    assert "object" in err.value.message


def test_too_many_fields():
    with pytest.raises(SchemaError, match=f"at most {MAX_FIELDS}"):
        validate_returns({f"f{i}": "string" for i in range(MAX_FIELDS + 1)})
    assert len(validate_returns({f"f{i}": "string" for i in range(MAX_FIELDS)})) == MAX_FIELDS


def test_coerce_loose_values_to_declared_types():
    schema = {"ok": "boolean", "amount": "number", "count": "integer", "day": "date", "at": "datetime",
              "mail": "email", "tel": "phone", "plan": ["basic", "premium"], "note": "string",
              "tags": {"list": "string"}, "days": "list[date]"}
    raw = {"OK": "yes", "amount": "1,250.50", "count": "12", "day": "tomorrow", "at": "next Tuesday at 3pm",
           "mail": " John@Example.COM ", "tel": "(415) 555-2671", "plan": "Premium", "note": "  ring   twice ",
           "tags": "red, green and blue", "days": ["2026-03-10", "Friday"]}
    result, errors = coerce(schema, raw, WHEN)
    assert errors == {}
    assert result == {"ok": True, "amount": 1250.5, "count": 12, "day": "2026-03-03",
                      "at": "2026-03-03T15:00:00+00:00", "mail": "john@example.com", "tel": "+14155552671",
                      "plan": "premium", "note": "ring twice", "tags": ["red", "green", "blue"],
                      "days": ["2026-03-10", "2026-03-06"]}


def test_coerce_keeps_native_values():
    schema = {"ok": "boolean", "n": "number", "i": "integer", "d": "date", "dt": "datetime"}
    result, errors = coerce(schema, {"ok": False, "n": 2.5, "i": 3.0, "d": "2026-04-01",
                                     "dt": "2026-04-01T09:30:00Z"}, WHEN)
    assert errors == {}
    assert result == {"ok": False, "n": 2.5, "i": 3, "d": "2026-04-01", "dt": "2026-04-01T09:30:00+00:00"}


def test_unparseable_values_are_null_with_the_field_named():
    schema = {"ok": "boolean", "n": "number", "i": "integer", "d": "date", "mail": "email", "tel": "phone",
              "plan": ["basic", "premium"], "missing": "string"}
    raw = {"ok": "perhaps", "n": "lots", "i": "2.5", "d": "someday", "mail": "john at nowhere", "tel": "12",
           "plan": "gold"}
    result, errors = coerce(schema, raw, WHEN)
    assert result == dict.fromkeys(schema)
    assert set(errors) == set(schema)
    assert "'perhaps'" in errors["ok"] and "boolean" in errors["ok"]
    assert "one of 'basic', 'premium'" in errors["plan"]
    assert errors["missing"] == "not found in the conversation"


def test_booleans_are_not_numbers():
    result, errors = coerce({"n": "number"}, {"n": True}, WHEN)
    assert result == {"n": None} and "n" in errors
