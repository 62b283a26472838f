"""Answers as people give them on the phone: yes/no said around the question, quantities, money,
dates, times and emails in spoken form (the cases of tests/extraction/corpus/dev/dev_11.json, in small)."""

from datetime import UTC, datetime

import pytest

from callops.extraction import amounts, contacts, parsing
from callops.extraction.extractors.rules import extract_turns
from tests.extraction.conversation import turns

THURSDAY = datetime(2026, 6, 11, 15, 0, tzinfo=UTC)


def test_digits_read_one_by_one_are_one_number():
    assert parsing.numbers_in("yeah, it's four seven two nine one") == [47291]
    assert parsing.numbers_in("three bedrooms and two kids") == [3, 2]


@pytest.mark.parametrize("text, region, expected", [
    ("twelve pounds fifty an hour", "GB", {"amount": 12.5, "currency": "GBP"}),
    ("twenty two fifty an hour", "US", {"amount": 22.5, "currency": "USD"}),
    ("twenty two fifty a month", "US", {"amount": 2250.0, "currency": "USD"}),
    ("ten dollars fifty", "US", {"amount": 10.5, "currency": "USD"}),
])
def test_cents_after_the_unit_and_hourly_rates_in_pairs(text, region, expected):
    assert amounts.parse_currency(text, region) == expected


def test_spelled_letters_and_an_initial_in_an_email():
    assert contacts.emails_in("It's k e l l y dot r at yahoo dot com.") == ["kelly.r@yahoo.com"]
    assert contacts.emails_in("jsmith at gmail dot com. Actually no, use my work one, j smith at acme dot io.") == [
        "jsmith@gmail.com", "jsmith@acme.io"]


def test_a_yes_no_asked_beside_a_stated_value_answers_its_own_field():
    schema = {"accepts_rent": {"type": "boolean", "description": "accepts the new rent"},
              "monthly_rent": {"type": "currency", "description": "new monthly rent"}}
    got = extract_turns(turns("The new rent would be $1,650 a month. Does that work for you?", "Yeah, that's fine."),
                        schema, THURSDAY)
    assert got == {"accepts_rent": True, "monthly_rent": {"amount": 1650.0, "currency": "USD"}}
    schema = {"wants_brochure": {"type": "boolean", "description": "wants the brochure"},
              "email": {"type": "email", "description": "email for the brochure"}}
    got = extract_turns(turns("Shall I email you the brochure?", "Yes please.", "What's the address?",
                              "It's priya dot nair at tidewater dot co dot uk."), schema, THURSDAY)
    assert got == {"wants_brochure": True, "email": "priya.nair@tidewater.co.uk"}


@pytest.mark.parametrize("question, reply, expected", [
    ("And you don't have any pets, right?", "No, no pets.", False),
    ("And you don't have any pets, right?", "Yes I do, a cat.", True),
    ("So you won't need parking?", "Actually we will, we're driving in.", True),
    ("so you wont need parking", "no", False),
])
def test_a_negative_question_is_answered_about_its_statement(question, reply, expected):
    schema = {"has_pets": {"type": "boolean", "description": "the tenant has pets"},
              "parking": {"type": "boolean", "description": "needs a parking space"}}
    field = "has_pets" if "pets" in question else "parking"
    assert extract_turns(turns(question, reply), schema, THURSDAY) == {field: expected}


def test_how_big_asks_a_count_and_each_count_goes_to_its_noun():
    schema = {"employees": {"type": "integer", "description": "number of employees"},
              "offices": {"type": "integer", "description": "number of offices"}}
    got = extract_turns(turns("Tell me a little about the business: how big is the team?",
                              "We've got about 120 staff across three offices."), schema, THURSDAY)
    assert got == {"employees": 120, "offices": 3}


def test_part_of_the_party_counted_after_of_them():
    schema = {"party_size": {"type": "integer", "description": "number of guests"},
              "children": {"type": "integer", "description": "number of children"}}
    got = extract_turns(turns("How many people is the table for?", "Six of us, two of them are kids."),
                        schema, THURSDAY)
    assert got == {"party_size": 6, "children": 2}


def test_a_moment_counted_from_the_call_and_a_time_before_its_day():
    schema = {"callback_at": {"type": "datetime", "description": "when to call back"}}
    got = extract_turns(turns("is now a good time", "not really can you call me back in like forty five minutes"),
                        schema, THURSDAY)
    assert got == {"callback_at": "2026-06-11T15:45:00+00:00"}
    assert parsing.numbers_in("seven thirty tomorrow") == [7, 30]
    from callops.extraction import times_of_day
    assert times_of_day.times_with_spans("Let me check. Seven thirty tomorrow is available.", True) == [(14, (19, 30))]


@pytest.mark.parametrize("text, expected", [
    ("The second Saturday in February, if you have it.", "2027-02-13"),
    ("the last friday of june", "2026-06-26"),
    ("the week after next. the monday", "2026-06-22"),
    ("Two nights, June 20th to 22nd.", "2026-06-22"),
])
def test_dates_people_say_around_a_weekday_or_a_range(text, expected):
    assert parsing.parse_date(text, THURSDAY).isoformat() == expected


@pytest.mark.parametrize("field, description, question, reply, expected", [
    ("driver_polite", "the driver was polite", "Was the driver polite?", "He was lovely actually.", True),
    ("home", "someone is home in the window", "Will you be home on Thursday between 2 and 6?", "I should be.", True),
    ("leave_at_door", "may leave it at the back door", "Can the driver leave it at the back door?",
     "I'd prefer you didn't.", False),
    ("order_again", "would order again", "Would you order from us again?", "Maybe not, to be honest.", False),
    ("pays_in_full", "pays the full balance today", "Can you pay the full amount today?", "Not all of it.", False),
])
def test_yes_or_no_said_without_yes_or_no(field, description, question, reply, expected):
    schema = {field: {"type": "boolean", "description": description}}
    assert extract_turns(turns(question, reply), schema, THURSDAY) == {field: expected}


def test_a_recorded_greeting_answers_no_question():
    schema = {"reached_voicemail": {"type": "boolean", "description": "the call reached voicemail"},
              "confirmed": {"type": "boolean", "description": "the patient confirmed"}}
    got = extract_turns(turns("Hi, this is Lakeside Dental calling to confirm your appointment tomorrow at 9am.",
                              "Hi, you've reached Marcus. I can't take your call right now, leave a message after "
                              "the tone."), schema, THURSDAY)
    assert got == {"reached_voicemail": True}


def test_the_rest_goes_to_the_later_of_two_dates():
    schema = {"first_payment_date": "date", "second_payment_date": "date"}
    got = extract_turns(turns("when can you pay", "today no. i get paid on the 13th, i can do half then and the rest "
                                                  "at the end of the month"), schema, THURSDAY)
    assert got == {"first_payment_date": "2026-06-13", "second_payment_date": "2026-06-30"}
