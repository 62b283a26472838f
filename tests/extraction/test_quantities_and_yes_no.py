"""Yes/no, quantities, money and times as callees say them (tests/extraction/corpus/dev/dev_14.json in
small): a reply that opens on its no, purpose clauses, preferences, "would that be an issue?"."""

from datetime import UTC, datetime

import pytest

from callops.extraction import clauses
from callops.extraction.extractors.rules import extract_turns
from tests.extraction.conversation import ask, turns

TUESDAY = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


def one(kind: str, description: str, question: str, reply: str):
    return ask(kind, description, question, reply, TUESDAY)


@pytest.mark.parametrize("description, question, reply, expected", [
    # The "no" a reply opens on is its answer, not a correction of what follows.
    ("pays the whole balance", "And would that be the full three forty-two fifty?",
     "Hmm, no. I can do two hundred on Friday and the rest later.", False),
    ("wants to pay in instalments", "would it help if we split it into smaller monthly payments",
     "no no ill manage its fine", False),
    ("pays the whole balance", "Can you pay the full amount?", "Yes. Actually no, I can't this month.", False),
    # A negation in the clause saying why is not the question's.
    ("renews automatically", "And should we set it to renew automatically next year so you don't get a call like this?",
     "Sure, why not.", True),
    ("wants calls", "okay so you dont want any more calls", "no i dont", False),
    # A preference for something else is a no; for what was asked, a yes.
    ("willing to relocate", "the team sits in london would you move down for it", "id rather stay in manchester", False),
    ("pays online", "Would you pay online?", "I'd prefer to pay online, yes, easier.", True),
    # "Would that be an issue?": no is the willing answer, "that's fine" too, yes is not.
    ("willing to relocate", "The role is based in Reno. Would moving be an issue?", "No, I was planning to move anyway.", True),
    ("willing to relocate", "Would moving be an issue?", "Yeah, it would, my kids are in school here.", False),
    ("okay with the fee", "There's a forty-nine dollar fee. Is that a problem?", "That's fine.", True),
])
def test_yes_no_read_against_what_is_asked(description, question, reply, expected):
    assert one("boolean", description, question, reply) is expected


def test_a_field_recording_the_problem_keeps_the_plain_reading():
    assert clauses.problem_answer("yes", "was there any problem with the delivery?", "had_problem delivery problem") is None
    assert one("boolean", "whether there was a problem with the delivery", "Was there a problem with the delivery?",
               "Yes, the box was crushed.") is True


def test_asked_part_drops_only_a_clause_of_purpose():
    assert clauses.asked_part("Should we renew it so you don't lose cover?") == "should we renew it"
    assert clauses.asked_part("okay so you don't want calls?") == "okay so you don't want calls?"


def test_a_start_field_takes_the_first_end_of_a_window_the_agent_states():
    schema = {"window_start": {"type": "time", "description": "start of the new delivery window"}}
    got = extract_turns(turns("your delivery is today will you be home this afternoon", "no im at work till six",
                              "we can do six thirty to eight tonight", "yeah that works"), schema, TUESDAY)
    assert got == {"window_start": "18:30"}


def test_a_date_said_beside_the_fields_words_is_taken_over_a_later_one():
    schema = {"nights": {"type": "integer", "description": "number of nights"},
              "check_in": {"type": "date", "description": "check-in date"}}
    got = extract_turns(turns("How many nights will you be staying?", "Three nights, checking in Thursday and out on Sunday."),
                        schema, TUESDAY)
    assert got == {"nights": 3, "check_in": "2026-03-12"}


def test_two_days_are_no_range_and_the_last_said_still_wins():
    schema = {"delivery_date": {"type": "date", "description": "day of delivery"}}
    got = extract_turns(turns("Which day suits you for the delivery?", "Thursday or Friday, Friday is better."), schema, TUESDAY)
    assert got == {"delivery_date": "2026-03-13"}


@pytest.mark.parametrize("description, question, reply, expected", [
    ("gym visits per week", "How many times a week do you usually come in?", "Maybe once, once a week these days.", 1),
    ("tutoring sessions per week", "how many sessions a week would suit", "twice i think", 2),
    ("notice period in months", "and whats your notice period at the moment", "its a months notice", 1),
    ("party size", "How many are in your group?", "Me plus three.", 4),
    # Speech-to-text has no comma before the correction.
    ("times the customer contacted support", "how many times have you had to contact support this month",
     "three times well four counting today", 4),
])
def test_counts_said_without_a_plain_number(description, question, reply, expected):
    schema = {"field": {"type": "integer", "description": description}}
    name = "visits_per_week" if "visits" in description else "sessions_per_week" if "sessions" in description else \
        "notice_period_months" if "notice" in description else "party_size" if "party" in description else "contacts"
    schema = {name: schema["field"]}
    assert extract_turns(turns(question, reply), schema, TUESDAY) == {name: expected}


def test_once_counts_nothing_for_a_field_not_counted_in_times_and_a_rate_is_not_one_unit():
    assert one("integer", "number of people in the party", "How many people?", "Once, maybe.") is None
    schema = {"visits_per_week": {"type": "integer", "description": "visits per week"}}
    assert extract_turns(turns("How many times a week could you come?", "Once I get my new schedule I'll know."),
                         schema, TUESDAY) == {}
    schema = {"nights": {"type": "integer", "description": "number of nights"},
              "nightly_rate": {"type": "currency", "description": "rate per night"}}
    got = extract_turns(turns("How many nights?", "Two nights.", "I have a double queen at $189 a night.", "Yep, that's fine."),
                        schema, TUESDAY)
    assert got == {"nights": 2, "nightly_rate": {"amount": 189.0, "currency": "USD"}}


def test_one_after_a_negated_verb_is_no_amount():
    schema = {"budget": {"type": "currency", "description": "budget for the solution"}}
    got = extract_turns(turns("have you set aside a budget for a new storage solution", "we havent really set one yet"),
                        schema, TUESDAY)
    assert got == {}


def test_an_agent_figure_counting_something_else_is_not_the_fields():
    schema = {"years_as_customer": {"type": "integer", "description": "how many years the customer has subscribed"},
              "accepts_discount": {"type": "boolean", "description": "whether the customer takes the discount offer"}}
    got = extract_turns(turns("how long have you been with us", "oh god like four years maybe",
                              "if we could take twenty percent off the next year would that change anything",
                              "honestly no its not about the price"), schema, TUESDAY)
    assert got == {"years_as_customer": 4, "accepts_discount": False}


def test_an_amount_the_agent_states_does_not_stand_when_the_callee_will_not_pay():
    schema = {"promised_amount": {"type": "currency", "description": "amount the callee agreed to pay"},
              "disputes_charge": {"type": "boolean", "description": "whether the callee disputes the balance"}}
    got = extract_turns(turns("Hi, I'm calling from Lakeside Billing about a balance of $275 on your account.",
                              "Yeah, I got the letter. Honestly I don't think I even owe that.",
                              "Are you disputing the charge?", "Yes, I am."), schema, TUESDAY)
    assert got == {"disputes_charge": True}
    assert clauses.wont_pay("I'm not paying anything until you fix the invoice")
    assert not clauses.wont_pay("Not a problem, I can pay that on Friday")


def test_a_time_picked_from_two_the_agent_offers():
    schema = {"new_date": {"type": "date", "description": "new appointment date"},
              "new_time": {"type": "time", "description": "new appointment time"}}
    got = extract_turns(turns("We need to move your check-up. Would Tuesday the 10th or Thursday the 12th suit you better?",
                              "Thursday the 12th.", "And morning or afternoon? We have ten thirty or two fifteen.",
                              "Ten thirty, please."), schema, TUESDAY)
    assert got == {"new_date": "2026-03-12", "new_time": "10:30"}


def test_a_yes_to_a_summary_of_the_values_does_not_answer_an_earlier_yes_no():
    schema = {"promise_date": {"type": "date", "description": "date the customer will make the payment"},
              "promised_amount": {"type": "currency", "description": "amount the customer promised to pay"},
              "paying_in_full": {"type": "boolean", "description": "whether the customer will pay the whole past due balance"}}
    got = extract_turns(turns("We show a past due balance of $342.50. When could you take care of that?", "Probably Friday.",
                              "And would that be the full three forty-two fifty?",
                              "Hmm, no. I can do two hundred on Friday and the rest later.",
                              "Got it, so two hundred dollars on Friday the 13th. Is that right?", "Yep, that's right."),
                        schema, TUESDAY)
    assert got == {"promise_date": "2026-03-13", "promised_amount": {"amount": 200.0, "currency": "USD"},
                   "paying_in_full": False}


@pytest.mark.parametrize("name, description, reply, expected", [
    ("min_hourly_rate", "lowest hourly pay the candidate accepts", "i'm at twenty one now. i'd want at least twenty three, twenty four",
     {"amount": 23.0, "currency": "USD"}),
    ("max_budget", "the most the customer will spend", "we spend 200 now, but no more than 350 a month",
     {"amount": 350.0, "currency": "USD"}),
])
def test_a_minimum_or_maximum_field_takes_the_value_said_as_one(name, description, reply, expected):
    schema = {name: {"type": "currency", "description": description}}
    assert extract_turns(turns("What hourly rate are you looking for?" if "rate" in name else "What's your budget?", reply),
                         schema, TUESDAY) == {name: expected}
