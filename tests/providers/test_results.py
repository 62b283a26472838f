"""What providers say about the conversation reaches the call and the provider extractor, through
the real adapter path (emulator over HTTP → poll or callback → call.transcript /
call.provider_result → extraction)."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from callops.calls import services as call_services
from callops.calls.models import Call, EventSource
from callops.calls.status_sync import sweep_due_syncs, sync_call
from callops.extraction.models import ExtractionState
from callops.providers.emulators.callingbox import FINAL, RESULT
from callops.providers.emulators.core import Outcome
from callops.providers.registry import adapter_for

from .conftest import new_call, place, step_clock

pytestmark = pytest.mark.django_db
NUMBER = "+14155550123"


def _until_terminal(pk, clock, rounds=500):
    """Read the call's status from the provider, moving the test clock between reads, until it ends."""
    for _ in range(rounds):
        sync_call(pk)
        call = Call.objects.get(pk=pk)
        if call.is_terminal:
            return call
        step_clock(clock)
    raise AssertionError(f"call still {call.status} after {rounds} status reads")


def _settle(pk, run_jobs, clock, rounds=500):
    """Sweeps and the worker, as production runs them, until extraction has finished; the test clock
    jumps to the next due read between rounds."""
    for _ in range(rounds):
        sweep_due_syncs()
        run_jobs()
        call = Call.objects.get(pk=pk)
        if call.is_terminal and call.result_status not in ("pending", ""):
            return call
        step_clock(clock, max_step=30.0)
    raise AssertionError(f"after {rounds} rounds the call is {call.status} with extraction still "
                         f"{call.result_status!r}")


# --- Bolna: one transcript string -------------------------------------------------------------------
def test_bolna_transcript_string_becomes_turns(emulators, make_agent, run_jobs, clock):
    emu = emulators("bolna")
    emu.script(NUMBER, Outcome([(0, "in-progress"), (2, "completed")], "completed",
                               {"conversation_duration": 30, "extracted_data": {"Interested": "yes"}}))
    agent = make_agent("bolna", emu)
    agent.returns, agent.extractor = {"interested": "boolean", "slot": "string"}, "rules"
    agent.save()
    call = _until_terminal(place(agent, NUMBER).pk, clock)
    raw = emu.calls[call.provider_call_id]
    assert isinstance(emu.render(raw)["transcript"], str)  # what Bolna sends
    assert call.transcript[:2] == [
        {"role": "agent", "text": "Hi, this is Ava from Acme Dental. Are you still interested in the cleaning offer?"},
        {"role": "user", "text": "Yes, I am interested."}]
    assert [t["role"] for t in call.transcript] == ["agent", "user", "agent", "user", "agent"]
    call = _settle(call.pk, run_jobs, clock)
    # The rules extractor reads the stored turns: the callee's own words.
    assert call.result_status == "completed" and call.result["interested"] is True


def test_bolna_pushed_transcript_string_too(emulators, make_agent, clock):
    emu = emulators("bolna")
    agent = make_agent("bolna", emu)
    call = place(agent, NUMBER)
    emu_call = emu.calls[call.provider_call_id]
    body = json.dumps(emu.render(emu_call, len(emu_call.outcome.steps) - 1)).encode()
    url = f"/callbacks/bolna/{agent.provider_account.callback_token}/"
    assert Client().post(url, body, content_type="application/json").status_code == 200
    call = Call.objects.get(pk=call.pk)
    assert call.status == "completed" and {t["role"] for t in call.transcript} == {"agent", "user"}


def test_provider_extractor_fails_a_call_without_conversation(emulators, make_agent, run_jobs, clock):
    """Bolna still sends extracted_data for a voicemail; it is not a result."""
    emu = emulators("bolna")
    emu.script(NUMBER, "voicemail")
    agent = make_agent("bolna", emu)
    agent.returns, agent.extractor = {"interested": "boolean"}, "provider"
    agent.save()
    call = _until_terminal(place(agent, NUMBER).pk, clock)
    assert call.status == "completed" and call.provider_result == {"interested": True}
    call = _settle(call.pk, run_jobs, clock)
    assert call.result_status == "failed" and call.result == {"interested": None}
    assert "before any conversation" in call.result_error


def test_rejected_call_keeps_no_extraction(emulators, make_agent, run_jobs, clock):
    """A `completed` nobody talked on ends no_answer; Bolna's extracted_data for it is not kept."""
    emu = emulators("bolna")
    emu.script(NUMBER, "completed_zero")
    agent = make_agent("bolna", emu)
    agent.returns, agent.extractor = {"interested": "boolean"}, "provider"
    agent.save()
    call = _until_terminal(place(agent, NUMBER).pk, clock)
    run_jobs()
    call = Call.objects.get(pk=call.pk)
    # Extraction runs for completed calls only: nothing pending, nothing stored.
    assert (call.status, call.provider_result, call.result_status) == ("no_answer", None, "")


# --- Trillet: the batch job's result ----------------------------------------------------------------
def _trillet_job_call(emu, agent, row):
    batch_id = adapter_for(agent.provider_account).place_batch("agent_1", [row])
    job = emu.calls[emu.batches[batch_id]["jobs"][0]]
    call = new_call(agent, row["phone_number"])
    Call.objects.filter(pk=call.pk).update(provider_job_id=f"{batch_id}/{job.job_id}")
    call_services.apply_status(call, "initiated", source=EventSource.SYSTEM, note="handed to trillet in batch")
    return call, f"{batch_id}/{job.job_id}"


def test_trillet_job_result_reaches_the_provider_extractor(emulators, make_agent, run_jobs, clock):
    emu = emulators("trillet")
    agent = make_agent("trillet", emu)
    agent.returns = {"first_name": "string", "email": "email", "appointment_confirmed": "boolean",
                     "outcome": ["successful", "unsuccessful"]}
    agent.extractor = "provider"
    agent.save()
    call, job_id = _trillet_job_call(emu, agent, {"phone_number": NUMBER, "first_name": "Ann",
                                                  "email": "Ann@Example.com"})
    call = _until_terminal(call.pk, clock)
    assert call.status == "completed" and call.provider_job_id == job_id
    assert call.provider_result["outcome"] == "successful"
    assert call.provider_result["metadata"] == {"first_name": "Ann", "email": "Ann@Example.com",
                                                "appointment_confirmed": True}
    assert call.transcript[0] == {"role": "agent", "text": "Hello Ann, this is an automated call from Acme Clinic "
                                                           "about your appointment."}
    assert call.transcript[-2] == {"role": "user", "text": "Yes, I'll be there."}
    assert call.duration_seconds and call.duration_seconds > 0
    call = _settle(call.pk, run_jobs, clock)
    assert call.result_status == "completed", call.result_error
    assert call.result == {"first_name": "Ann", "email": "ann@example.com", "appointment_confirmed": True,
                           "outcome": "successful"}


def test_trillet_unlabelled_transcript_is_kept_but_not_turned_into_turns(emulators, make_agent, run_jobs, clock):
    emu = emulators("trillet")
    emu.script(NUMBER, "completed_plain")
    agent = make_agent("trillet", emu)
    agent.returns, agent.extractor = {"appointment_confirmed": "boolean"}, "provider"
    agent.save()
    call, _ = _trillet_job_call(emu, agent, {"phone_number": NUMBER, "first_name": "Bo"})
    call = _until_terminal(call.pk, clock)
    assert call.transcript == []
    assert call.provider_result["transcript"].startswith("Hello Bo, this is an automated call")
    call = _settle(call.pk, run_jobs, clock)  # talk time, no turns: the provider's extraction still counts
    assert call.result == {"appointment_confirmed": True}


# --- CallingBox: result pending right after completed --------------------------------------------
def test_callingbox_result_pending_is_fetched_until_final(emulators, make_agent, run_jobs, clock):
    emu = emulators("callingbox")
    emu.script(NUMBER, Outcome([(0, "queued"), (2, "in_progress"), (10, "completed"), (40, FINAL)], "completed",
                               {"answered_by": "human", "result": RESULT}))
    agent = make_agent("callingbox", emu)
    agent.returns, agent.extractor = {"appointment_confirmed": "boolean", "party_size": "integer"}, "provider"
    agent.save()
    call = _until_terminal(place(agent, NUMBER).pk, clock)
    # Completed, but CallingBox is still extracting: nothing to trust yet, and a read is due.
    assert call.status == "completed" and call.provider_result is None and call.next_sync_at is not None
    run_jobs()
    call = Call.objects.get(pk=call.pk)
    assert call.result_status == "pending"  # extraction waits for the follow-up, not failing "no data"
    call = _settle(call.pk, run_jobs, clock)
    assert call.provider_result == RESULT and call.next_sync_at is None
    assert call.result_status == "completed" and call.result == RESULT
    assert ExtractionState.objects.get(call=call).finished_runs == 1


def test_callingbox_follow_up_is_bounded(emulators, make_agent, run_jobs, settings, clock):
    settings.PROVIDER_SYNC_SPEED = 1  # real time on the test clock: a read every 10 s for 5 minutes
    emu = emulators("callingbox", speed=1)
    emu.script(NUMBER, Outcome([(0, "queued"), (1, "in_progress"), (5, "completed"), (10**6, FINAL)], "completed",
                               {"result": RESULT}))
    agent = make_agent("callingbox", emu)
    agent.returns, agent.extractor = {"party_size": "integer"}, "provider"
    agent.save()
    call = _settle(place(agent, NUMBER).pk, run_jobs, clock)
    assert call.next_sync_at is None and call.provider_result is None
    assert call.result_status == "failed" and "no extracted data" in call.result_error
    reads = sum(n for (method, _), n in emu.requests.items() if method == "GET")
    assert 1 <= reads < 40
