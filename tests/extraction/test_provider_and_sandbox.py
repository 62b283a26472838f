"""The provider extractor's key mapping, and the sandbox's scripted conversations."""

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from callops.extraction.extractors import ExtractionFailed, provider
from callops.extraction.extractors.rules import extract_turns
from callops.extraction.schema import coerce
from callops.providers.sandbox_transcripts import EMPTY_SCENARIOS, SCENARIOS, build_script, empty_transcript

WHEN = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
SCHEMA = {"appointment_confirmed": "boolean", "party_size": "integer", "slot": "datetime"}


@pytest.mark.parametrize("provider_result", [
    # Bolna execution
    {"id": "ex1", "status": "completed", "extracted_data": {"Appointment Confirmed": "Yes", "party_size": 4,
                                                            "slot": "2026-03-03T15:00:00Z"}},
    # Dograh run: gathered_context also carries the disposition
    {"gathered_context": {"appointment-confirmed": True, "PartySize": "four", "slot": "tomorrow at 3pm",
                          "call_disposition": "completed"}},
    # Trillet: batch job result metadata
    {"status": "completed", "result": {"callId": "c1", "outcome": "success",
                                       "metadata": {"appointment_confirmed": "true", "party_size": "4",
                                                    "slot": "March 3 at 3pm"}}},
    # CallingBox result, stored bare
    {"appointment_confirmed": True, "party_size": 4, "slot": "2026-03-03T15:00:00+00:00"},
])
def test_provider_output_is_mapped_onto_the_schema(provider_result):
    call = SimpleNamespace(provider_result=provider_result)
    result, errors = coerce(SCHEMA, provider.extract(call, SCHEMA), WHEN)
    assert errors == {}
    assert result == {"appointment_confirmed": True, "party_size": 4, "slot": "2026-03-03T15:00:00+00:00"}


@pytest.mark.parametrize("provider_result", [None, {}, [], "text"])
def test_no_provider_output_fails(provider_result):
    with pytest.raises(ExtractionFailed, match="no extracted data"):
        provider.extract(SimpleNamespace(provider_result=provider_result), SCHEMA)


def test_scripts_are_deterministic_per_seed_and_varied():
    a = build_script(SCHEMA, seed="same", when=WHEN)
    assert a.turns == build_script(SCHEMA, seed="same", when=WHEN).turns
    assert a.turns != build_script(SCHEMA, seed="other", when=WHEN).turns
    styles = {s for i in range(40) for s in build_script(SCHEMA, seed=f"s{i}", when=WHEN).styles.values()}
    assert styles == {"direct", "hesitant", "change_of_mind", "clarify", "refusal"}


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s not in EMPTY_SCENARIOS])
def test_every_talking_scenario_is_extractable(scenario):
    for i in range(10):
        script = build_script(SCHEMA, seed=f"{scenario}-{i}", when=WHEN, scenario=scenario)
        got = coerce(SCHEMA, extract_turns(script.turns, SCHEMA, WHEN), WHEN)[0]
        assert got == script.expected, script.turns


@pytest.mark.parametrize("scenario", EMPTY_SCENARIOS)
def test_empty_scenarios_have_nothing_to_extract(scenario):
    script = build_script(SCHEMA, seed="x", when=WHEN, scenario=scenario)
    assert script.expected == dict.fromkeys(SCHEMA)
    assert not any(t["role"] == "user" and t["text"] for t in script.turns) or scenario == "hangup"
    assert extract_turns(script.turns, SCHEMA, WHEN) == {}
    assert empty_transcript() == []


def test_the_callee_repeats_what_the_context_knows():
    schema = {"email": "email", "name": "string"}
    script = build_script(schema, seed="ctx", when=WHEN, context={"email": "Ann.Lee@Example.com", "name": "Ann Lee"},
                          scenario="cooperative")
    assert script.expected == {"email": "ann.lee@example.com", "name": "Ann Lee"}
    assert "Hi Ann," in script.turns[0]["text"]
    assert coerce(schema, extract_turns(script.turns, schema, WHEN), WHEN)[0] == script.expected


def test_relative_dates_follow_the_call_time():
    schema = {"visit_date": "date"}
    monday = build_script(schema, seed="d", when=WHEN, scenario="cooperative")
    later = build_script(schema, seed="d", when=datetime(2026, 3, 9, 15, 0, tzinfo=UTC), scenario="cooperative")
    assert monday.turns == later.turns  # same words ...
    assert monday.expected != later.expected  # ... different days


def test_every_type_and_list_type_round_trips_through_sandbox_and_rules():
    types = ["string", "boolean", "number", "integer", "date", "datetime", "email", "phone"]
    schema = {f"single_{t}": t for t in types} | {f"many_{t}": f"list[{t}]" for t in types}
    schema["odd_choice"] = ["N/A", "5+", "Very-Good", "ok_ok"]
    for scenario in SCENARIOS:
        for i in range(4):
            script = build_script(schema, seed=f"{scenario}{i}", when=WHEN, scenario=scenario,
                                  context={"unrelated": 5})
            got = coerce(schema, extract_turns(script.turns, schema, WHEN), WHEN)[0]
            for name, expected in script.expected.items():
                value = got[name]
                if isinstance(expected, list):
                    assert sorted(str(v).lower() for v in value) == sorted(str(v).lower() for v in expected), name
                elif isinstance(expected, str):
                    assert value.lower() == expected.lower(), (scenario, i, name)
                else:
                    assert value == expected, (scenario, i, name)


def _agent_lines(script):
    return [t["text"] for t in script.turns if t["role"] == "agent"]


def test_the_agent_asks_each_field_in_words_from_its_name_type_and_description():
    schema = {"confirmed": "boolean", "is_available": "boolean", "has_insurance": "boolean",
              "wants_reminder": {"type": "boolean", "description": "whether the customer wants a text reminder"},
              "reschedule_to": "string",
              "new_time": {"type": "string", "description": "a day and time the callee prefers"}}
    asked = [line for i in range(12) for line in _agent_lines(
        build_script(schema, seed=f"q{i}", when=WHEN, scenario="cooperative"))]
    assert not any("would you say yes to" in line.lower() or "yes to confirmed" in line for line in asked)
    assert all(any(line.endswith(q) for line in asked) for q in (
        "Are you available?", "Do you have insurance?", "Could you tell me whether you want a text reminder?",
        "What day and time should we reschedule to?", "Could you tell me a day and time you prefer?"))
    confirmed = {line.split(". ", 1)[-1].removeprefix("First, ").lower() for line in asked
                 if line.endswith("confirmed?")}
    assert confirmed == {"can i put you down as confirmed?", "should i note you as confirmed?",
                         "shall i mark you as confirmed?", "just to check: are we confirmed?"}


def test_a_text_field_about_a_moment_is_answered_with_a_day_and_time_and_extracted_as_said():
    from callops.providers.sandbox_transcripts import _STRINGS

    schema = {"confirmed": "boolean", "reschedule_to": "string"}
    for i in range(15):
        script = build_script(schema, seed=f"m{i}", when=WHEN, scenario="cooperative")
        said = script.expected["reschedule_to"]
        assert said not in _STRINGS["other"] and " at " in said, said
        got = coerce(schema, extract_turns(script.turns, schema, WHEN), WHEN)[0]
        assert got["reschedule_to"].lower().rstrip(".") == said.lower(), (i, script.turns)
        assert got["confirmed"] is script.expected["confirmed"]
