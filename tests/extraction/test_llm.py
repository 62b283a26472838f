"""The llm extractor against a loopback server that speaks the chat-completions API."""

import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from callops.extraction.extractors import ExtractionFailed, llm

from .fake_llm import FakeLLM

SCHEMA = {"confirmed": "boolean", "slot": "datetime", "plan": ["basic", "premium"]}


def make_call(**over):
    values = {"transcript": [{"role": "agent", "text": "Can you confirm the appointment?"},
                             {"role": "user", "text": "Yes, see you tomorrow at 3."}],
              "instructions": "Confirm the appointment.", "context": {},
              "answered_at": datetime(2026, 3, 2, 15, 0, tzinfo=UTC), "started_at": None, "created_at": None}
    values.update(over)
    return SimpleNamespace(**values)


@pytest.fixture
def configure(settings, monkeypatch):
    monkeypatch.setattr(llm, "RETRY_DELAYS", (0.0, 0.0))

    def _configure(fake, timeout=5.0):
        settings.LLM_BASE_URL = fake.base_url
        settings.LLM_API_KEY = "sk-test-key"
        settings.LLM_MODEL = "test-model"
        settings.LLM_TIMEOUT_SECONDS = timeout

    return _configure


def test_asks_for_json_that_fits_the_schema(configure):
    answer = {"confirmed": True, "slot": "2026-03-03T15:00:00+00:00", "plan": None}
    with FakeLLM([("json", json.dumps(answer))]) as fake:
        configure(fake)
        assert llm.extract(make_call(), SCHEMA) == answer
    (request,) = fake.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == "Bearer sk-test-key"
    body = request["json"]
    assert body["model"] == "test-model"
    assert body["response_format"] == {"type": "json_object"}
    system, user = body["messages"]
    assert '"confirmed": true or false' in system["content"]
    assert '"plan": exactly one of ["basic", "premium"]' in system["content"]
    assert "Monday 2026-03-02" in system["content"]
    assert "user: Yes, see you tomorrow at 3." in user["content"]


def test_fenced_json_is_accepted(configure):
    with FakeLLM([("json", '```json\n{"confirmed": false}\n```')]) as fake:
        configure(fake)
        assert llm.extract(make_call(), SCHEMA) == {"confirmed": False}


@pytest.mark.parametrize("content", ["Sure! The callee confirmed.", '{"confirmed": tru', '["yes"]', ""])
def test_malformed_output_fails_as_unparseable(configure, content):
    with FakeLLM([("json", content)]) as fake:
        configure(fake)
        with pytest.raises(ExtractionFailed, match="unparseable output"):
            llm.extract(make_call(), SCHEMA)
    assert len(fake.requests) == 1  # a wrong answer is not retried


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_transient_errors_are_retried(configure, status):
    with FakeLLM([("status", status), ("json", '{"confirmed": true}')]) as fake:
        configure(fake)
        assert llm.extract(make_call(), SCHEMA) == {"confirmed": True}
    assert len(fake.requests) == 2


def test_gives_up_after_three_attempts(configure):
    with FakeLLM([("status", 503)] * 5) as fake:
        configure(fake)
        with pytest.raises(ExtractionFailed, match=r"unavailable after 3 attempts \(HTTP 503\)"):
            llm.extract(make_call(), SCHEMA)
    assert len(fake.requests) == 3


def test_client_errors_are_not_retried(configure):
    with FakeLLM([("status", 401), ("json", "{}")]) as fake:
        configure(fake)
        with pytest.raises(ExtractionFailed, match=r"refused the request \(HTTP 401\)"):
            llm.extract(make_call(), SCHEMA)
    assert len(fake.requests) == 1


def test_a_stalled_endpoint_times_out_and_is_retried(configure):
    with FakeLLM([("sleep", 1.0), ("json", '{"plan": "premium"}')]) as fake:
        configure(fake, timeout=0.3)
        assert llm.extract(make_call(), SCHEMA) == {"plan": "premium"}
    assert len(fake.requests) == 2


def test_timeouts_every_time_fail_with_the_reason(configure):
    with FakeLLM([("sleep", 0.6)] * 3) as fake:
        configure(fake, timeout=0.2)
        with pytest.raises(ExtractionFailed, match=r"unavailable after 3 attempts \(timeout after 0.2s\)"):
            llm.extract(make_call(), SCHEMA)


def test_not_configured(settings):
    settings.LLM_BASE_URL = ""
    with pytest.raises(ExtractionFailed, match="not configured"):
        llm.extract(make_call(), SCHEMA)


def test_field_descriptions_types_and_synonyms_are_in_the_prompt(configure):
    schema = {"method": {"type": "enum", "values": ["card", "bank_transfer"], "description": "how the callee pays",
                         "synonyms": {"bank_transfer": ["ach", "direct debit"]}},
              "amount": {"type": "currency", "description": "amount promised"},
              "window_start": "time", "notice": {"type": "duration"}}
    with FakeLLM([("json", "{}")]) as fake:
        configure(fake)
        llm.extract(make_call(context={"timezone": "America/Chicago"}), schema)
    system = fake.requests[0]["json"]["messages"][0]["content"]
    assert ('"method": exactly one of ["card", "bank_transfer"] (ach, direct debit mean "bank_transfer")'
            ' — how the callee pays') in system
    assert '"amount": an object {"amount": number, "currency": "ISO 4217 code such as USD"} — amount promised' \
        in system
    assert '"window_start": a time of day as "HH:MM" (24-hour)' in system
    assert '"notice": a JSON integer number of seconds' in system
    assert "America/Chicago" in system and "Monday 2026-03-02 at 09:00" in system


def test_a_rate_limit_waits_as_told_then_succeeds(configure, monkeypatch):
    waits = []
    monkeypatch.setattr(llm.time, "sleep", waits.append)
    with FakeLLM([("status", 429, {"Retry-After": "3"}), ("json", '{"confirmed": true}')]) as fake:
        configure(fake)
        assert llm.extract(make_call(), SCHEMA) == {"confirmed": True}
    assert waits == [3.0]
    assert len(fake.requests) == 2


def test_a_body_that_is_not_a_chat_completion_is_unparseable(configure):
    with FakeLLM([("raw", b"<html>gateway</html>")]) as fake:
        configure(fake)
        with pytest.raises(ExtractionFailed, match="unparseable output: not a chat-completions response"):
            llm.extract(make_call(), SCHEMA)
    assert len(fake.requests) == 1


def test_a_wrong_key_is_refused_by_the_server_and_not_retried(configure, settings):
    with FakeLLM([("json", "{}")], api_key="sk-right") as fake:
        configure(fake)
        with pytest.raises(ExtractionFailed, match=r"refused the request \(HTTP 401\)"):
            llm.extract(make_call(), SCHEMA)
    assert len(fake.requests) == 1


def test_timeout_then_a_schema_violating_answer_then_nothing_stored(configure):
    """The run gets an answer after a stall; what does not fit the schema is refused by coercion."""
    from callops.extraction.schema import coerce

    with FakeLLM([("sleep", 1.0), ("json", '{"confirmed": "yes", "slot": "tomorrow", "plan": "gold"}')]) as fake:
        configure(fake, timeout=0.3)
        raw = llm.extract(make_call(), SCHEMA)
    result, errors = coerce(SCHEMA, raw, datetime(2026, 3, 2, 15, 0, tzinfo=UTC), strict=True)
    assert result == {"confirmed": None, "slot": None, "plan": None}
    assert errors["confirmed"] == "'yes' refused: the answer does not fit the schema (expected boolean, got a string)"
    assert "as ISO 8601 with offset" in errors["slot"]
    assert "expected one of basic, premium" in errors["plan"]
    assert len(fake.requests) == 2
