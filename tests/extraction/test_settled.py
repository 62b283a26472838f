"""Lists said without commas, summaries the callee corrects, yes/no settled by approving a statement,
and free text after a frame that announces it (tests/extraction/corpus/dev/dev_13.json in small)."""

from datetime import UTC, datetime

import pytest

from callops.extraction.extractors.rules import extract_turns
from callops.extraction.free_text import string_items
from callops.extraction.lead_ins import frame_removed
from tests.extraction.conversation import turns

WEDNESDAY = datetime(2026, 6, 10, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize("reply, items", [
    ("mostly invoicing time tracking and expense reports", ["invoicing", "time tracking", "expense reports"]),
    ("we need live chat reporting and a mobile app", ["live chat", "reporting", "mobile app"]),
    ("uh the couch the bookshelf and um two lamps", ["couch", "bookshelf", "lamps"]),
    ("the kitchen the hallway and both bathrooms", ["kitchen", "hallway", "bathrooms"]),
    ("cleaning the windows and the back of the house", ["cleaning the windows", "back of the house"]),
    ("tuesday thursday and saturday mornings", ["tuesday", "thursday", "saturday"]),
])
def test_list_items_said_without_commas(reply, items):
    assert string_items(reply) == items


@pytest.mark.parametrize("reply, question, span", [
    ("um the main reason was honestly the price it just went up too much", "", "the price it just went up too much"),
    ("um id prefer something on a higher floor if possible", "", "something on a higher floor if possible"),
    ("yeah my main complaint is the engineer turned up two hours late", "", "the engineer turned up two hours late"),
    ("what could you improve um id say the parking situation", "and what could we improve", "the parking situation"),
    ("i would like to cancel", "", "i would like to cancel"),
])
def test_the_frame_before_a_free_text_answer_goes(reply, question, span):
    assert frame_removed(reply, question) == span


def test_a_corrected_summary_takes_the_correction_and_keeps_the_rest():
    schema = {"party_size": {"type": "integer", "description": "number of people"},
              "time": {"type": "time", "description": "time of the booking"}}
    got = extract_turns(turns("How many people and what time?", "four of us at seven please",
                              "So that's a table for four at seven this evening?",
                              "actually make it five, my sister is coming too"), schema, WEDNESDAY)
    assert got == {"party_size": 5, "time": "19:00"}


def test_a_corrected_count_goes_to_the_count_whose_noun_is_said():
    schema = {"rooms": {"type": "integer", "description": "number of rooms"},
              "nights": {"type": "integer", "description": "number of nights"}}
    got = extract_turns(turns("how many rooms and for how many nights", "two rooms three nights",
                              "so just to confirm two rooms for three nights", "oh actually make it one room we can share"),
                        schema, WEDNESDAY)
    assert got == {"rooms": 1, "nights": 3}


@pytest.mark.parametrize("description, statement, reply, expected", [
    ("whether the patient confirms the appointment", "Your appointment is on Friday at 10 a.m. with Dr. Lee.",
     "friday's fine", True),
    ("whether a high chair is needed", "For the little one we'd add a high chair to the table.", "oh lovely thank you", True),
    ("whether a high chair is needed", "For the little one we'd add a high chair to the table.", "no thanks we bring our own",
     False),
    ("whether the customer moves to paperless bills", "We'd also switch you to paperless bills by email.", "okay", None),
])
def test_a_statement_is_settled_by_approving_or_declining_it(description, statement, reply, expected):
    schema = {"field": {"type": "boolean", "description": description}}
    assert extract_turns(turns(statement, reply), schema, WEDNESDAY).get("field") is expected


@pytest.mark.parametrize("description, question, reply, expected", [
    ("why they need to reschedule", "whats the reason you need to move it",
     "uh yeah so basically my kid is sick and i have to stay home with him", "kid is sick"),
    ("what could be improved", "is there anything we could do better",
     "hmm maybe the check in was a bit slow we waited like twenty minutes", "the check in was a bit slow"),
    ("preferred contact method", "How would you prefer we contact you?", "text is probably best for me", "text"),
    ("special requests", "Any special requests for the booking?", "could we get a table by the window if thats possible",
     "table by the window"),
    ("occasion being celebrated", "Is anyone celebrating?", "no just dinner", None),
    ("feedback", "How was the visit?", "The technician was great but he arrived late",
     "The technician was great but he arrived late"),
])
def test_free_text_keeps_the_informative_span(description, question, reply, expected):
    schema = {"field": {"type": "string", "description": description}}
    assert extract_turns(turns(question, reply), schema, WEDNESDAY).get("field") == expected


@pytest.mark.parametrize("description, question, reply, expected", [
    ("available for an interview", "are you available friday morning for an interview", "friday morning works", True),
    ("can work weekends", "would you be able to do weekend shifts", "weekends are hard for me i have my kids", False),
    ("can pay today", "Can you make a payment today?", "i get paid friday so not till then", False),
    ("wants a text reminder", "Want me to text you a reminder on Friday?", "dont bother ill remember", False),
    ("interested in a free quote", "Would you be interested in a free quote?", "i mean i could take a look i suppose", True),
    ("will attend", "are you still able to come in on monday", "uh monday i have work actually", False),
])
def test_a_yes_or_no_said_without_one(description, question, reply, expected):
    schema = {"field": {"type": "boolean", "description": description}}
    assert extract_turns(turns(question, reply), schema, WEDNESDAY).get("field") is expected


@pytest.mark.parametrize("description, question, reply, expected", [
    ("package was delivered", "did your package arrive ok", "yeah it came yesterday", True),
    ("the tap works properly", "is the tap working properly now", "its still dripping to be honest", False),
    ("wants to upgrade the plan", "Would you like to upgrade?", "im happy with what ive got thanks", False),
    ("wants a callback", "Should someone call you back?", "ill call them myself if i need to", False),
    ("already paid the invoice", "Have you paid the March invoice?", "i sent it last week", True),
    ("wants autopay", "Would you like to set up autopay?", "i suppose so", True),
])
def test_a_state_or_an_action_answers_a_yes_no(description, question, reply, expected):
    schema = {"field": {"type": "boolean", "description": description}}
    assert extract_turns(turns(question, reply), schema, WEDNESDAY).get("field") is expected


@pytest.mark.parametrize("description, question, reply, expected", [
    ("competitor they are considering", "Who else are you looking at?", "we got a quote from aviva as well", "aviva"),
    ("current job title", "whats your current role", "im currently a senior accountant", "senior accountant"),
])
def test_hedges_uncovered_by_a_lead_in_go(description, question, reply, expected):
    schema = {"field": {"type": "string", "description": description}}
    assert extract_turns(turns(question, reply), schema, WEDNESDAY).get("field") == expected


def test_no_to_a_closing_question_answers_no_yes_no_field():
    schema = {"confirmed": {"type": "boolean", "description": "confirms the delivery"}}
    got = extract_turns(turns("Can you confirm you'll be home on Thursday for your delivery?", "yes i will",
                              "Thanks for confirming your delivery. Is there anything else I can help with?",
                              "no thats all thanks"), schema, WEDNESDAY)
    assert got == {"confirmed": True}


@pytest.mark.parametrize("reply, expected", [("we own it", True), ("we rent", False)])
def test_a_choice_between_verbs_answers_the_yes_no(reply, expected):
    schema = {"owns_home": {"type": "boolean", "description": "owns the home"}}
    assert extract_turns(turns("do you own your home or rent", reply), schema, WEDNESDAY).get("owns_home") is expected


@pytest.mark.parametrize("description, question, reply, expected", [
    ("delivery on time", "did the driver arrive on time", "he was about an hour late", False),
    ("nothing was missing", "did your order arrive complete", "everything but the drinks", False),
    ("driver was polite", "was the driver polite", "he was a bit rude to be honest", False),
    ("delivery on time", "did the driver arrive on time", "yes right on time", True),
])
def test_the_contrary_of_the_quality_asked_is_a_no(description, question, reply, expected):
    schema = {"field": {"type": "boolean", "description": description}}
    assert extract_turns(turns(question, reply), schema, WEDNESDAY).get("field") is expected


@pytest.mark.parametrize("reply, expected", [("two boys and a girl", 3), ("one boy and two girls", 3), ("three", 3)])
def test_children_counted_in_parts(reply, expected):
    schema = {"children": {"type": "integer", "description": "number of children"}}
    assert extract_turns(turns("How many children will be staying?", reply), schema, WEDNESDAY).get("children") == expected
