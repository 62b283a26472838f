"""Replies as people give them, fourth round: head counts asked of the people themselves, yes/no
polarity of removal offers and conditions, and noun forms of a field's verb."""

from datetime import UTC, datetime

import pytest

from callops.extraction.extractors.rules import extract_turns
from tests.extraction.conversation import turns

WEDNESDAY = datetime(2026, 6, 10, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize("question, reply, expected", [
    ("Great. How many of you are we seeing?", "Me and my two kids.", 3),
    ("How many people should we expect?", "Just me and my husband.", 2),
])
def test_a_question_about_people_counts_the_people_listed_for_any_count_field(question, reply, expected):
    schema = {"patients": {"type": "integer", "description": "number of patients to be seen"}}
    assert extract_turns(turns(question, reply), schema, WEDNESDAY)["patients"] == expected


def test_a_count_field_not_about_people_keeps_the_number_said():
    schema = {"rooms": {"type": "integer", "description": "number of rooms to paint"}}
    got = extract_turns(turns("How many rooms?", "Me and my two kids share two rooms."), schema, WEDNESDAY)
    assert got["rooms"] == 2


def yes_no(name: str, description: str, question: str, reply: str):
    schema = {name: {"type": "boolean", "description": description}}
    return extract_turns(turns(question, reply), schema, WEDNESDAY).get(name)


@pytest.mark.parametrize("question, reply, expected", [
    ("no problem should i take your number off our call list", "nah youre alright just not right now", False),
    ("Should I take your number off our call list?", "Yes please.", True),
])
def test_an_offer_to_take_the_number_off_a_list_asks_the_opt_out_itself(question, reply, expected):
    assert yes_no("opt_out", "asked to be removed from the call list", question, reply) is expected


@pytest.mark.parametrize("description, question, reply, expected", [
    ("call this number if no answer", "and if no one answers should we call this number", "yeah call me", True),
    ("call this number if no answer", "and if no one answers should we call this number", "no, just leave it", False),
    ("may leave the parcel with a neighbour", "If you're not home, can we leave it with a neighbour?", "Yes, that's fine.",
     True),
])
def test_a_negation_inside_an_if_clause_does_not_turn_the_question_around(description, question, reply, expected):
    assert yes_no("field", description, question, reply) is expected


@pytest.mark.parametrize("question, reply", [
    ("vegan and gluten free got it any nut allergies", "not that i know of no"),
    ("Any nut allergies?", "Not that I'm aware of."),
    ("Noted. Any nut allergies?", "None that I know of."),
])
def test_nothing_known_of_it_is_a_no(question, reply):
    assert yes_no("nut_allergy", "any guest has a nut allergy", question, reply) is False


def test_a_restated_slot_stands_when_the_no_answers_the_next_question():
    schema = {"rescheduled_to": {"type": "datetime", "description": "new appointment date and time"},
              "insurance_provider": {"type": "string", "description": "current insurance provider"}}
    got = extract_turns(turns("We have openings on Wednesday the 17th at two fifteen or Thursday the 18th at eight thirty.",
                              "Thursday. The early one.",
                              "Great, so that's Thursday June 18th at eight thirty a m. And is your insurance still Aetna?",
                              "No, we switched, it's Cigna now."), schema, WEDNESDAY)
    assert got["rescheduled_to"] == "2026-06-18T08:30:00+00:00"


def test_an_any_question_after_a_restated_booking_restates_no_seating_choice():
    schema = {"reservation_time": {"type": "datetime", "description": "date and time of the booking"},
              "seating": {"type": "enum", "description": "seating area preference",
                          "values": ["indoor", "outdoor", "no_preference"]},
              "dietary_needs": {"type": "list", "description": "dietary requirements",
                                "items": {"type": "enum", "values": ["vegetarian", "nut_allergy"]}}}
    got = extract_turns(turns("What time would you like the table?", "Around half past seven.",
                              "Let me check. Seven thirty tomorrow, Thursday the 11th, is available. Any dietary requirements?",
                              "My father is vegetarian."), schema, WEDNESDAY)
    assert got["reservation_time"] == "2026-06-11T19:30:00+00:00"


SURVEY = {"do_not_call": {"type": "boolean", "description": "asked not to be called again"},
          "took_survey": {"type": "boolean", "description": "agreed to take the survey"}}


@pytest.mark.parametrize("last_reply, expected", [("No. Goodbye.", False), ("Oh go on then.", True)])
def test_a_request_asked_again_smaller_after_a_turned_aside_reply_is_still_that_request(last_reply, expected):
    got = extract_turns(turns("Hi, this is Civic Polling. Do you have five minutes for a survey on local transport?",
                              "Who gave you this number? Don't call this number again.",
                              "I'm sorry. Would you still like to answer just one question?",
                              last_reply), SURVEY, WEDNESDAY)
    assert got["took_survey"] is expected


def test_an_answered_request_is_not_carried_to_the_next_question():
    got = extract_turns(turns("Do you have five minutes for a survey on local transport?", "No, sorry.",
                              "I'm sorry. Would you still like a callback?", "Yes."), SURVEY, WEDNESDAY)
    assert got["took_survey"] is False


def test_a_field_recording_the_callees_own_question_takes_no_yes_to_the_agents():
    schema = {"do_not_call": {"type": "boolean", "description": "callee asked not to be called"},
              "asked_company_name": {"type": "boolean", "description": "callee asked who was calling"}}
    got = extract_turns(turns("Hello, this is an automated call from Summit Recovery regarding an account. Is this Paul Grant?",
                              "Who is this again? What company?", "Summit Recovery, a collection agency.",
                              "Right. Don't call me at work again.",
                              "Understood. Should we stop calling this number entirely?", "Yes. Mail only."),
                        schema, WEDNESDAY)
    assert got == {"do_not_call": True, "asked_company_name": True}
