"""Reasons, complaints and self-descriptions cut down to their core; indifference is nothing to record (no database)."""

from datetime import UTC, datetime

import pytest

from callops.extraction.extractors.rules import extract_turns
from callops.extraction.spoken_reasons import concession_removed, judgement_kept
from tests.extraction.conversation import turns

MONDAY = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def test_what_is_granted_before_but_is_not_the_complaint():
    assert concession_removed("i mean it works fine most of the time but the customer service is terrible") == \
        "the customer service is terrible"
    assert concession_removed("the food was cold but nobody came") == "the food was cold but nobody came"


@pytest.mark.parametrize("text, expected", [
    ("it just got too expensive for us", "too expensive"),
    ("it was way too far", "way too far"),
    ("mostly i moved you know the new place is like forty minutes away", "mostly i moved"),
    ("it was expensive for us", "it was expensive for us"),
])
def test_the_judgement_kept(text, expected):
    assert judgement_kept(text) == expected


@pytest.mark.parametrize("question, reply, name, description, expected", [
    ("whats the main reason for that score",
     "i mean it works fine most of the time but the customer service is terrible i was on hold for an hour last week",
     "reason", "reason for the score", "the customer service is terrible"),
    ("Could you share why?", "Yeah. So, um, it just got too expensive for us, with two kids and everything.",
     "reason", "why they paused", "too expensive"),
    ("could you tell me the main reason you decided to cancel",
     "uh mostly i moved you know the new place is like forty minutes away from the gym so", "cancel_reason",
     "why the member cancelled", "moved"),
    ("Can you tell me your current title?", "Um, so officially I'm a business analyst, but I do a lot of reporting.",
     "job_title", "current job title", "business analyst"),
    ("what was your last role", "it was kind of like a project coordinator sort of thing at a construction company",
     "last_role", "most recent role", "project coordinator"),
    ("any instructions for the driver", "uh yeah leave them on the back porch not the front the front gets a lot of sun",
     "delivery_instructions", "where or how to deliver", "leave them on the back porch"),
    ("And how did you hear about us?", "My neighbor, Jim, uses you guys.", "referrer", "who referred them", "jim"),
    ("sure whats the main one", "the app keeps crashing on my tv like every other show", "reason",
     "main reason for cancelling", "the app keeps crashing on my tv"),
])
def test_the_core_of_the_answer(question, reply, name, description, expected):
    got = extract_turns(turns(question, reply), {name: {"type": "string", "description": description}}, MONDAY)
    assert got == {name: expected}


@pytest.mark.parametrize("question, reply, description", [
    ("And do you have a preferred hygienist?", "Not really, no. Whoever.", "hygienist the patient prefers"),
    ("whats one thing we could do better", "eh i dont really have anything", "one thing to do better"),
    ("Is there anything we could have done differently?", "No, no, you guys were great. It's just the economy, you know.",
     "what they could have done differently"),
    ("can i ask why", "well a few things", "why they cancelled"),
])
def test_indifference_and_nothing_to_add_are_null(question, reply, description):
    got = extract_turns(turns(question, reply), {"answer": {"type": "string", "description": description}}, MONDAY)
    assert got == {}


def test_a_later_answer_settles_what_i_dont_know_left_open():
    got = extract_turns(turns("What's a good time to reach you to set that up?",
                              "Hmm, I don't know, honestly. My schedule is all over the place.",
                              "No problem. Would mornings or afternoons usually work better?",
                              "Probably afternoons, like after lunch."),
                        {"best_time": {"type": "enum", "values": ["morning", "afternoon", "evening"],
                                       "description": "best time to call"}}, MONDAY)
    assert got == {"best_time": "afternoon"}


@pytest.mark.parametrize("question, reply, expected", [
    ("And what's the biggest issue for you right now?", "Honestly? The parking. It's a nightmare.", "The parking"),
    ("Is there anything we could do better next time?",
     "Hmm, I don't know... maybe, like, text reminders? I forgot the appointment the first time.", "text reminders"),
])
def test_a_filler_sentence_or_a_tentative_answer_after_it(question, reply, expected):
    got = extract_turns(turns(question, reply), {"issue": {"type": "string", "description": "what could be better"}},
                        MONDAY)
    assert got == {"issue": expected}
