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
