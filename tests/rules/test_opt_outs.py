"""Opt-out detection: callee requests not to be called again suppress the number."""

import pytest

from callops.calls import opt_out_detection
from callops.calls.models import CallStatus
from callops.rules import suppressions
from callops.rules.models import Suppression
from callops.rules.opt_outs import asks_not_to_be_called, opt_out_phrase


@pytest.mark.parametrize("text", [
    "Stop calling me.", "Please remove me from your list.", "Don't call me again!", "Take me off your list.",
    "Please take me off your list.",  # the sandbox's hangup scenario
    "Do not call this number again", "Remove me from your calling list, thanks", "don\u2019t call me again",
    "Please stop calling.", "Put me on your do not call list.",
])
def test_requests_not_to_be_called(text):
    assert asks_not_to_be_called(text)


@pytest.mark.parametrize("text", [
    "You can call me again next week.", "You don't need to take me off your list.", "Not interested, sorry. Bye.",
    "Please call me back tomorrow.", "I never said stop calling.", "Hi, yes, speaking.",
])
def test_other_words_are_not_requests(text):
    assert not asks_not_to_be_called(text)


def test_only_callee_turns_count():
    assert opt_out_phrase([("agent", "We'll stop calling if you like."), ("user", "No, it's fine.")]) is None
    assert opt_out_phrase([("agent", "Hello"), ("user", "Take me off your list.")]) == "Take me off your list."


TRANSCRIPT = [{"role": "agent", "text": "Hi, this is Sam."}, {"role": "user", "text": "Please take me off your list."}]


def test_an_opt_out_suppresses_the_number_and_says_so(personas, make_call):
    call = make_call(CallStatus.COMPLETED, to="+14155550123", transcript=TRANSCRIPT)
    assert opt_out_detection.detect(call)
    row = Suppression.objects.get(organization=personas.org)
    assert (row.number, row.source, row.call_public_id) == ("+14155550123", "opt_out", call.public_id)
    assert row.reason == "asked on the call: \u201cPlease take me off your list.\u201d"
    assert call.events.filter(note="the callee asked not to be called again; +14155550123 added to the "
                                    "suppression list").count() == 1
    assert not opt_out_detection.detect(call)  # a re-run adds nothing twice


def test_the_organization_can_turn_detection_off(personas, make_call):
    suppressions.set_opt_out_detection(personas.org, False)
    call = make_call(CallStatus.COMPLETED, to="+14155550123", transcript=TRANSCRIPT)
    assert not opt_out_detection.detect(call)
    assert not Suppression.objects.exists()


def test_a_completed_call_without_extraction_is_read_when_it_completes(personas, make_call):
    from callops.calls import services
    from callops.calls.models import EventSource

    call = make_call(CallStatus.IN_PROGRESS, to="+14155550123")
    services.apply_status(call, CallStatus.COMPLETED, source=EventSource.POLL, fields={"transcript": TRANSCRIPT})
    assert Suppression.objects.filter(organization=personas.org, number="+14155550123", source="opt_out").exists()


def test_extraction_runs_the_detection_when_the_transcript_is_final(personas, sandbox_agent, run_jobs):
    from callops.calls import services
    from callops.calls.models import EventSource

    call = services.create_call(org=personas.org, agent=sandbox_agent, to_number="+14155550123",
                                returns={"confirmed": "boolean"})
    for step in (CallStatus.INITIATED, CallStatus.IN_PROGRESS):
        services.apply_status(call, step, source=EventSource.POLL)
    services.apply_status(call, CallStatus.COMPLETED, source=EventSource.POLL, fields={"transcript": TRANSCRIPT})
    assert not Suppression.objects.exists()  # not before the run reads the final transcript
    run_jobs()
    assert Suppression.objects.filter(organization=personas.org, number="+14155550123", source="opt_out").exists()
