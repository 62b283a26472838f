"""Extraction as a background step of the call lifecycle: result statuses, the timeline, and
`call.completed` going out only after extraction, exactly once per call.

These tests commit for real (transactional_db): extraction is enqueued when the status change
commits, and the RQ worker runs it as it would in production.
"""

import json
from datetime import timedelta

import django_rq
import pytest
from django.conf import settings
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string

from callops.calls import results as extraction
from callops.calls import services as calls
from callops.calls.jobs import sweep_lost_extractions
from callops.calls.models import Call, CallEvent
from callops.extraction.models import ExtractionState
from callops.providers.sandbox_transcripts import script_for
from callops.webhooks.models import WebhookEvent
from tests.providers.conftest import step_clock

from .fake_llm import FakeLLM

pytestmark = pytest.mark.django_db(transaction=True)

RETURNS = {"confirmed": "boolean", "party_size": "integer"}
TRANSCRIPT = [
    {"role": "agent", "text": "Hi, this is the restaurant. Can you confirm your booking for tonight?"},
    {"role": "user", "text": "Yes, we'll be there."},
    {"role": "agent", "text": "Great. What's the party size?"},
    {"role": "user", "text": "Four of us. Actually five."},
    {"role": "agent", "text": "Thanks, see you later!"},
]


@pytest.fixture
def make_call(personas, sandbox_agent):
    def _make(returns=RETURNS, **kw):
        return calls.create_call(org=personas.org, agent=sandbox_agent, to_number="+14155552671",
                                 returns=returns, **kw)

    return _make


def finish(call, transcript=TRANSCRIPT, status="completed", **fields):
    calls.apply_status(call, "in_progress", source="poll")
    calls.apply_status(call, status, source="poll", fields={"transcript": transcript, **fields})
    return Call.objects.get(pk=call.pk)


def webhook_events(call, kind=None):
    rows = WebhookEvent.objects.filter(call=call).order_by("created_at", "id")
    return [e for e in rows if kind is None or e.type == kind]


def extraction_events(call):
    return list(CallEvent.objects.filter(call=call, kind=CallEvent.Kind.EXTRACTION).order_by("created_at", "id"))


def test_call_completed_goes_out_only_after_extraction(make_call, run_jobs):
    call = finish(make_call())
    assert call.status == "completed" and call.result_status == "pending"
    assert [e.type for e in webhook_events(call)] == ["call.queued", "call.answered"]

    run_jobs()
    call.refresh_from_db()
    assert call.result_status == "completed"
    assert call.result == {"confirmed": True, "party_size": 5}
    assert call.result_error == ""
    (event,) = webhook_events(call, "call.completed")
    payload = json.loads(event.body)["data"]["call"]
    assert payload["result_status"] == "completed"
    assert payload["result"] == {"confirmed": True, "party_size": 5}
    (run,) = extraction_events(call)
    assert run.created_at <= event.created_at
    assert "extraction completed by rules: 2 of 2 fields" in run.note
    assert run.payload["extractor"] == "rules"


def test_reruns_are_recorded_but_emit_no_second_terminal_event(make_call, run_jobs):
    call = finish(make_call(), provider_result={"extracted_data": {"Confirmed": "no", "party-size": "2"}})
    run_jobs()
    call.refresh_from_db()
    assert call.result == {"confirmed": True, "party_size": 5}

    # The agent switches to what the provider extracted; the re-run replaces the result.
    call.agent.extractor = "provider"
    call.agent.save()
    call = extraction.rerun(call, source="user", actor_label="owner@acme.test")
    assert call.result_status == "pending"
    assert call.result == {"confirmed": True, "party_size": 5}  # readable until the new run lands
    run_jobs()
    call.refresh_from_db()
    assert call.result_status == "completed"
    assert call.result == {"confirmed": False, "party_size": 2}
    assert len(webhook_events(call, "call.completed")) == 1
    notes = [e.note for e in extraction_events(call)]
    assert notes[0].startswith("extraction completed by rules")
    assert notes[1] == "extraction run 2 requested by owner@acme.test"
    assert notes[2].startswith("extraction completed by provider")
    state = ExtractionState.objects.get(call=call)
    assert (state.requested_runs, state.finished_runs, state.last_extractor) == (2, 2, "provider")
    assert state.recheck_at is None


def test_empty_transcript_fails_with_every_field_null(make_call, run_jobs):
    call = finish(make_call(), transcript=[])
    run_jobs()
    call.refresh_from_db()
    assert call.result_status == "failed"
    assert call.result == {"confirmed": None, "party_size": None}
    assert "empty transcript" in call.result_error
    (event,) = webhook_events(call, "call.completed")
    assert json.loads(event.body)["data"]["call"]["result_status"] == "failed"


def test_call_that_ended_before_any_conversation_fails(make_call, run_jobs):
    call = make_call(context={"sandbox_scenario": "voicemail"})
    voicemail = script_for(call).turns
    assert voicemail and all(t["role"] == "agent" for t in voicemail)
    call = finish(call, transcript=voicemail)
    run_jobs()
    call.refresh_from_db()
    assert call.result_status == "failed"
    assert call.result == {"confirmed": None, "party_size": None}
    assert "ended before any conversation" in call.result_error


def test_a_transcript_arriving_after_the_terminal_status_is_waited_for(make_call, run_jobs, settings):
    settings.EXTRACTION_DETAILS_GRACE_SECONDS = 30
    call = finish(make_call(), transcript=[])
    run_jobs()
    call.refresh_from_db()
    state = ExtractionState.objects.get(call=call)
    assert call.result_status == "pending" and not webhook_events(call, "call.completed")
    assert state.recheck_at == call.ended_at + timedelta(seconds=30)
    # The provider's late callback fills the transcript in (an ignored report still fills blanks).
    calls.apply_status(call, "completed", source="callback", fields={"transcript": TRANSCRIPT})
    ExtractionState.objects.filter(call=call).update(recheck_at=timezone.now())
    assert sweep_lost_extractions() == 1
    run_jobs()
    call.refresh_from_db()
    assert call.result_status == "completed" and call.result == {"confirmed": True, "party_size": 5}
    assert len(webhook_events(call, "call.completed")) == 1


def test_after_the_grace_an_empty_transcript_fails(make_call, run_jobs, settings):
    settings.EXTRACTION_DETAILS_GRACE_SECONDS = 30
    call = finish(make_call(), transcript=[])
    Call.objects.filter(pk=call.pk).update(ended_at=timezone.now() - timedelta(seconds=31))
    run_jobs()
    call.refresh_from_db()
    assert call.result_status == "failed" and "empty transcript" in call.result_error


def test_partial_result_keeps_parsed_fields_and_names_the_rest(make_call, run_jobs):
    call = finish(make_call(), transcript=TRANSCRIPT[:2] + [
        {"role": "agent", "text": "What's the party size?"}, {"role": "user", "text": "Not sure yet, sorry."}])
    run_jobs()
    call.refresh_from_db()
    assert call.result_status == "completed"
    assert call.result == {"confirmed": True, "party_size": None}
    assert call.result_error.startswith("partial result, 1 of 2 fields null")
    assert "party_size: not found in the conversation" in call.result_error
    assert "confirmed" not in call.result_error
    assert extraction_events(call)[0].payload["errors"] == {"party_size": "not found in the conversation"}


def test_nothing_parsed_is_failed(make_call, run_jobs):
    call = finish(make_call(), transcript=[{"role": "agent", "text": "Can you confirm?"},
                                           {"role": "user", "text": "Who is this?"}])
    run_jobs()
    call.refresh_from_db()
    assert call.result_status == "failed"
    assert call.result == {"confirmed": None, "party_size": None}
    assert call.result_error.startswith("no return field could be extracted")
    assert len(webhook_events(call, "call.completed")) == 1


@pytest.mark.parametrize("status", ["no_answer", "busy", "failed", "canceled"])
def test_other_terminal_statuses_get_no_extraction(make_call, run_jobs, status):
    call = make_call()
    calls.apply_status(call, status, source="poll")
    run_jobs()
    call.refresh_from_db()
    assert call.result_status == "" and call.result is None
    assert not ExtractionState.objects.filter(call=call).exists()
    assert [e.type for e in webhook_events(call)] == ["call.queued", f"call.{status}"]


def test_calls_without_returns_complete_at_once(make_call, run_jobs):
    call = finish(make_call(returns={}))
    assert call.result_status == ""
    assert [e.type for e in webhook_events(call)][-1] == "call.completed"


def test_rerun_only_for_completed_calls_with_returns(make_call):
    live = make_call()
    with pytest.raises(calls.CallActionError, match="only for completed calls"):
        extraction.rerun(live, source="api")
    plain = finish(make_call(returns={}))
    with pytest.raises(calls.CallActionError, match="no returns schema"):
        extraction.rerun(plain, source="api")
    assert not extraction_events(live) and not extraction_events(plain)


def test_a_duplicate_job_does_nothing(make_call, run_jobs):
    call = finish(make_call())
    run_jobs()
    extraction.run_extraction(call.pk)
    assert len(extraction_events(call)) == 1
    assert len(webhook_events(call, "call.completed")) == 1


def test_a_run_overtaken_by_a_rerun_request_writes_nothing(make_call, run_jobs, monkeypatch):
    call = finish(make_call())
    compute = extraction._compute

    def rerun_meanwhile(*args):
        outcome = compute(*args)
        ExtractionState.objects.filter(call=call).update(requested_runs=F("requested_runs") + 1)
        return outcome

    monkeypatch.setattr(extraction, "_compute", rerun_meanwhile)
    extraction.run_extraction(call.pk)
    call.refresh_from_db()
    assert call.result_status == "pending" and call.result is None
    assert not extraction_events(call) and not webhook_events(call, "call.completed")
    monkeypatch.setattr(extraction, "_compute", compute)
    run_jobs()  # the queued job now serves the newest request
    call.refresh_from_db()
    assert call.result_status == "completed"
    assert len(webhook_events(call, "call.completed")) == 1


def test_a_lost_job_is_requeued_by_the_sweep(make_call, run_jobs):
    call = finish(make_call())
    django_rq.get_connection("default").flushdb()  # Redis lost the job
    run_jobs()
    assert Call.objects.get(pk=call.pk).result_status == "pending"
    assert sweep_lost_extractions() == 0  # not due yet
    ExtractionState.objects.filter(call=call).update(recheck_at=timezone.now())
    assert sweep_lost_extractions() == 1
    run_jobs()
    call.refresh_from_db()
    assert call.result_status == "completed" and call.result == {"confirmed": True, "party_size": 5}
    assert sweep_lost_extractions() == 0
    assert ExtractionState.objects.get(call=call).recheck_at is None


def test_an_invalid_stored_schema_fails_with_the_reason(make_call, run_jobs):
    call = make_call()
    Call.objects.filter(pk=call.pk).update(returns={"bad field": "string"})
    call = finish(call)
    run_jobs()
    call.refresh_from_db()
    assert call.result_status == "failed"
    assert call.result_error.startswith("invalid returns schema")
    assert len(webhook_events(call, "call.completed")) == 1


def test_extractor_falls_back_to_the_organization_default(make_call, run_jobs, personas):
    personas.org.default_extractor = "provider"
    personas.org.save()
    call = finish(make_call(), provider_result={"gathered_context": {"confirmed": True, "Party Size": 3,
                                                                     "call_disposition": "completed"}})
    run_jobs()
    call.refresh_from_db()
    assert call.result == {"confirmed": True, "party_size": 3}
    assert extraction_events(call)[0].payload["extractor"] == "provider"


def test_provider_extractor_without_data_fails(make_call, run_jobs, sandbox_agent):
    sandbox_agent.extractor = "provider"
    sandbox_agent.save()
    call = finish(make_call())
    run_jobs()
    call.refresh_from_db()
    assert call.result_status == "failed"
    assert call.result_error == "provider extractor: the provider returned no extracted data for this call"


def test_llm_extractor_end_to_end_with_a_retry(make_call, run_jobs, sandbox_agent, settings, monkeypatch):
    from callops.extraction.extractors import llm

    monkeypatch.setattr(llm, "RETRY_DELAYS", (0.0, 0.0))
    sandbox_agent.extractor = "llm"
    sandbox_agent.save()
    with FakeLLM([("status", 503), ("json", '{"confirmed": true, "party_size": 5, "extra": 1}')]) as fake:
        settings.LLM_BASE_URL = fake.base_url
        call = finish(make_call())
        run_jobs()
    call.refresh_from_db()
    assert call.result_status == "completed"
    assert call.result == {"confirmed": True, "party_size": 5}
    assert len(fake.requests) == 2
    # The model gave no turns: the evidence is where the callee said the value, when it can be found.
    assert call.result_evidence == {"party_size": {"turn": 3, "text": "Four of us. Actually five.",
                                                   "confidence": 0.5}}


def test_llm_answers_that_violate_the_schema_are_refused_not_stored(make_call, run_jobs, sandbox_agent, settings):
    sandbox_agent.extractor = "llm"
    sandbox_agent.save()
    returns = {"confirmed": "boolean", "party_size": "integer", "seating": ["indoor", "outdoor"]}
    with FakeLLM([("json", '{"confirmed": true, "party_size": "five", "seating": "rooftop"}')]) as fake:
        settings.LLM_BASE_URL = fake.base_url
        call = finish(make_call(returns=returns))
        run_jobs()
    call.refresh_from_db()
    assert call.result_status == "completed"  # partial: what fits is kept
    assert call.result == {"confirmed": True, "party_size": None, "seating": None}
    assert "party_size: 'five' refused: the answer does not fit the schema (expected integer, got a string)" \
        in call.result_error
    assert "seating: 'rooftop' refused: the answer does not fit the schema (expected one of indoor, outdoor" \
        in call.result_error
    assert set(call.result_evidence or {}) <= {"confirmed"}


def test_llm_unparseable_output_fails_the_run(make_call, run_jobs, sandbox_agent, settings):
    sandbox_agent.extractor = "llm"
    sandbox_agent.save()
    with FakeLLM([("json", "The callee said yes.")]) as fake:
        settings.LLM_BASE_URL = fake.base_url
        call = finish(make_call())
        run_jobs()
    call.refresh_from_db()
    assert call.result_status == "failed"
    assert call.result == {"confirmed": None, "party_size": None}
    assert "unparseable output" in call.result_error
    assert len(webhook_events(call, "call.completed")) == 1


def test_sandbox_call_end_to_end(personas, sandbox_agent, run_jobs, clock):
    """A real sandbox call: placed, polled to completion, transcript scripted, fields extracted."""
    returns = {"appointment_confirmed": "boolean", "slot": "datetime", "email": "email",
               "plan": ["basic", "premium"]}
    call = calls.create_call(org=personas.org, agent=sandbox_agent, to_number="+12025550100", returns=returns,
                             context={"sandbox_scenario": "cooperative"})
    calls.place_call(call)
    sweeps = [import_string(path) for path in settings.SWEEPS]
    for _ in range(500):  # rounds of the sweeper and the worker, the test clock moved between them
        for sweep in sweeps:
            sweep()
        run_jobs()
        call.refresh_from_db()
        if call.status == "completed" and call.result_status != "pending":
            break
        step_clock(clock)
    assert call.status == "completed"
    assert call.transcript == script_for(call).turns
    assert call.result_status == "completed"
    assert call.result == script_for(call).expected
    assert len(webhook_events(call, "call.completed")) == 1


def test_a_crashing_extractor_fails_the_run_instead_of_hanging(make_call, run_jobs, monkeypatch):
    from callops.extraction.extractors import rules

    def boom(call, schema):
        raise ZeroDivisionError("bug")

    monkeypatch.setattr(rules, "extract", boom)
    monkeypatch.setattr(rules, "extract_with_evidence", boom)
    call = finish(make_call())
    run_jobs()
    call.refresh_from_db()
    assert call.result_status == "failed"
    assert call.result_error == "rules extractor: internal error (ZeroDivisionError)"
    assert len(webhook_events(call, "call.completed")) == 1


AGENT_ONLY = [{"role": "agent", "text": "Hi, this is the restaurant calling about your booking tonight."}]


@pytest.mark.parametrize("extractor", ["rules", "llm", "provider"])
@pytest.mark.parametrize(("transcript", "why"), [
    ([], "the call ended before any conversation"),
    (AGENT_ONLY, "the callee never spoke"),
])
def test_no_conversation_fails_whatever_the_extractor(make_call, run_jobs, sandbox_agent, settings, extractor,
                                                      transcript, why):
    settings.LLM_BASE_URL = "http://127.0.0.1:9"  # never asked: nothing to ask about
    sandbox_agent.extractor = extractor
    sandbox_agent.save()
    # The provider extracted something anyway (Bolna does for a voicemail); it is not a result.
    call = finish(make_call(), transcript=transcript, duration_seconds=0,
                  provider_result={"extracted_data": {"confirmed": "yes", "party_size": 4}})
    run_jobs()
    call.refresh_from_db()
    assert call.result_status == "failed"
    assert call.result == {"confirmed": None, "party_size": None}
    if extractor != "provider" and not transcript:
        assert call.result_error == "empty transcript: nothing to extract"
    else:
        assert why in call.result_error
    assert len(webhook_events(call, "call.completed")) == 1


def test_provider_extractor_trusts_talk_time_when_no_transcript_is_sent(make_call, run_jobs, sandbox_agent):
    """Many providers send no transcript: talk time says a conversation happened."""
    sandbox_agent.extractor = "provider"
    sandbox_agent.save()
    call = finish(make_call(), transcript=[], duration_seconds=42,
                  provider_result={"gathered_context": {"confirmed": True, "party_size": "3"}})
    run_jobs()
    call.refresh_from_db()
    assert call.result_status == "completed" and call.result == {"confirmed": True, "party_size": 3}
    machine = finish(make_call(), transcript=[], duration_seconds=42, answered_by="machine",
                     provider_result={"gathered_context": {"confirmed": True}})
    run_jobs()
    machine.refresh_from_db()
    assert machine.result_status == "failed" and "a machine answered" in machine.result_error
