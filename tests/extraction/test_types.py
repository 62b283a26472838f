"""The value types users ask for, read from spoken answers: time, currency, duration, enum synonyms,
lists, and the spoken forms the libraries underneath do not read on their own."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from callops.extraction import amounts, contacts, parsing, times_of_day
from callops.extraction.extractors.rules import extract_turns, read_transcript
from callops.extraction.schema import coerce, validate_returns
from tests.extraction.conversation import turns

MONDAY = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
TORONTO = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("America/Toronto"))


@pytest.mark.parametrize("text, expected", [
    ("a dozen", [12]), ("1.2 million", [1_200_000]), ("about 1.5k", [1500]), ("two grand", [2000]),
    ("a hundred and forty", [140]), ("three bedrooms, we've got two kids", [3, 2]), ("seven and a half", [7.5]),
    ("one point five", [1.5]), ("Can we skip that one?", []), ("around 3pm", []), ("the twenty sixth", []),
])
def test_numbers_in_words(text, expected):
    assert parsing.numbers_in(text) == expected


def test_prices_said_in_pairs():
    assert amounts.parse_currency("i can do like two fifty then") == {"amount": 250.0, "currency": "USD"}
    assert amounts.currencies_in("twenty four fifty for twelve months")[0][1] == {"amount": 2450.0, "currency": "USD"}


def test_years_in_words_and_digits_read_one_by_one():
    assert parsing.numbers_in("nineteen eighty five") == [1985]
    assert parsing.dates_in("march third nineteen eighty five", MONDAY, past=True) == [date(1985, 3, 3)]
    assert parsing.dates_in("since twenty nineteen", MONDAY) == []
    assert contacts.phones_in("seven seven three, five five five, oh one eight two") == ["+17735550182"]
    assert contacts.phones_in("oh seven seven double oh, nine double oh, one two three", "GB") == ["+447700900123"]


@pytest.mark.parametrize("text, expected", [
    ("the 26th", date(2026, 3, 26)), ("the 2nd", date(2026, 3, 2)), ("the 1st", date(2026, 4, 1)),
    ("tuesday the week after next", date(2026, 3, 17)), ("end of the month", date(2026, 3, 31)),
    ("end of february", date(2027, 2, 28)), ("a week from today", date(2026, 3, 9)),
    ("friday the thirteenth", date(2026, 3, 13)), ("december eleventh", date(2026, 12, 11)),
    ("next friday", date(2026, 3, 6)), ("the day after tomorrow", date(2026, 3, 4)),
    ("Yes, the second one.", None),
])
def test_relative_dates_against_the_call(text, expected):
    assert parsing.parse_date(text, MONDAY) == expected


@pytest.mark.parametrize("text, evening, expected", [
    ("half past seven", True, (19, 30)), ("half past seven", False, (7, 30)), ("noon", False, (12, 0)),
    ("eight thirty a m", False, (8, 30)), ("a quarter to nine", False, (8, 45)), ("at 3", False, (15, 0)),
    ("ten past six in the evening", False, (18, 10)), ("10:30am", False, (10, 30)), ("3 people", False, None),
])
def test_times_of_day(text, evening, expected):
    assert times_of_day.parse_time(text, evening) == expected


def test_a_window_said_as_a_range():
    assert [hm for _, hm in times_of_day.times_with_spans("two to six")] == [(14, 0), (18, 0)]
    assert [hm for _, hm in times_of_day.times_with_spans("between ten and two")] == [(10, 0), (14, 0)]


@pytest.mark.parametrize("text, region, expected", [
    ("four hundred eighty seven dollars and twelve cents", "US", {"amount": 487.12, "currency": "USD"}),
    ("twelve thousand rupees", "IN", {"amount": 12000.0, "currency": "INR"}),
    ("about 1.5k euros", "US", {"amount": 1500.0, "currency": "EUR"}),
    ("forty five dollars a night", "CA", {"amount": 45.0, "currency": "CAD"}),
    ("fifteen to twenty lakhs", "IN", {"amount": 2_000_000.0, "currency": "INR"}),
    ("two fifty", "GB", {"amount": 250.0, "currency": "GBP"}),
])
def test_currency_amount_and_code(text, region, expected):
    assert amounts.parse_currency(text, region) == expected


@pytest.mark.parametrize("text, expected", [
    ("an hour and forty-five minutes", 6300), ("90 minutes", 5400), ("half an hour", 1800),
    ("two weeks", 1_209_600), ("an hour and a half", 5400), ("three days", 259_200), ("soon", None),
])
def test_durations_in_seconds(text, expected):
    assert amounts.parse_duration(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("k dot nguyen eight eight at outlook dot com", "k.nguyen88@outlook.com"),
    ("priya dot n at lakeshore logistics dot com", "priya.n@lakeshorelogistics.com"),
    ("m underscore alvarez at brightwater c p a dot com", "m_alvarez@brightwatercpa.com"),
    ("It's g dot whitfield, W-H-I-T-F-I-E-L-D, sixty-two, at btinternet dot com.", "g.whitfield62@btinternet.com"),
    ("D-E-V-O-N dot R at loopwell dot A-I.", "devon.r@loopwell.ai"),
])
def test_spoken_emails(text, expected):
    assert contacts.parse_email(text) == expected


def test_schema_forms_for_the_new_types():
    schema = validate_returns({"at": "time", "fee": "currency", "notice": "duration", "names": ["string"],
                               "pay": {"type": "enum", "values": ["card", "bank_transfer"],
                                       "synonyms": {"bank_transfer": ["direct debit"]}, "description": "how"},
                               "days": {"type": "list", "items": "date"}})
    assert schema["names"] == {"list": "string"}
    assert schema["pay"]["synonyms"] == {"bank_transfer": ["direct debit"]}
    result, errors = coerce(schema, {"at": "half past seven", "fee": "$45", "notice": "two weeks",
                                     "names": "ann and bo", "pay": "by direct debit", "days": ["the 5th"]},
                            MONDAY)
    assert errors == {}
    assert result == {"at": "07:30", "fee": {"amount": 45.0, "currency": "USD"}, "notice": 1_209_600,
                      "names": ["ann", "bo"], "pay": "bank_transfer", "days": ["2026-03-05"]}


def test_a_list_of_one_type_name_is_a_list_not_an_enum():
    assert validate_returns({"tags": ["string"], "colour": ["red"]}) == {"tags": {"list": "string"},
                                                                      "colour": ["red"]}


def test_the_description_ties_a_question_to_a_field():
    schema = {"party_size": {"type": "integer", "description": "number of guests joining"},
              "seating": {"type": "enum", "values": ["indoor", "outdoor"], "synonyms": {"outdoor": ["terrace"]}}}
    got = extract_turns(turns("How many will be joining you?", "Six of us, I think.",
                              "And would you like to sit inside?", "The terrace, please."), schema, MONDAY)
    assert got == {"party_size": 6, "seating": "outdoor"}


def test_lowercase_speech_to_text_has_no_question_marks():
    schema = {"confirmed": "boolean", "visit": "datetime"}
    got = extract_turns(turns("hi this is the clinic are you still able to make your visit tomorrow",
                              "yeah yeah ill be there", "great what time works best for you",
                              "um like half past three"), schema, MONDAY)
    assert got == {"confirmed": True, "visit": "2026-03-03T15:30:00+00:00"}


def test_a_yes_is_not_overwritten_by_the_next_questions_yes():
    schema = {"renew": "boolean", "wants_paper_invoice": "boolean"}
    got = extract_turns(turns("Would you like to renew?", "No, not this year.",
                              "Okay. Can I ask you a quick question about the service?", "Yes, go ahead."),
                        schema, MONDAY)
    assert got == {"renew": False}


def test_several_quantities_in_one_answer_go_to_their_fields():
    schema = {"bedrooms": "integer", "children": "integer"}
    got = extract_turns(turns("How many bedrooms do you need, and do you have children?",
                              "three bedrooms, we've got two kids"), schema, MONDAY)
    assert got == {"bedrooms": 3, "children": 2}


def test_currency_and_time_from_a_conversation_in_the_callees_zone():
    schema = {"amount": {"type": "currency", "description": "amount promised"},
              "window_start": "time", "window_end": "time", "pay_day": "date"}
    got = extract_turns(turns("Your balance is overdue. How much can you pay, and when?",
                              "i can do two fifty on the 13th", "And when is someone home for the visit?",
                              "two to six"), schema, TORONTO, region="CA")
    assert got == {"amount": {"amount": 250.0, "currency": "CAD"}, "pay_day": "2026-03-13",
                   "window_start": "14:00", "window_end": "18:00"}


def test_hedges_and_fillers_are_trimmed_from_free_text():
    got = extract_turns(turns("What was the technician's name?", "it was, uh, marcus? something like that"),
                        {"technician_name": "string"}, MONDAY)
    assert got == {"technician_name": "marcus"}


def test_evidence_names_the_turn_and_its_text():
    values, evidence = read_transcript(turns("Hi! How many people?", "Four. Actually five.",
                                             "Thanks, and your email?", "ann at example dot com"),
                                       {"party": "integer", "email": "email"}, MONDAY)
    assert values == {"party": 5, "email": "ann@example.com"}
    assert evidence["party"]["turn"] == 1 and evidence["party"]["text"] == "Four. Actually five."
    assert evidence["email"]["turn"] == 3
    assert all(0 < e["confidence"] <= 1 for e in evidence.values())


@pytest.mark.parametrize("scenario", ["cooperative", "mixed", "change_of_mind", "clarify"])
def test_the_sandbox_callee_answers_the_new_types_and_the_rules_read_them(scenario):
    from callops.providers.sandbox_transcripts import build_script

    schema = {"fee": {"type": "currency", "description": "the fee"}, "arrival": "time", "stay": "duration",
              "pay": {"type": "enum", "values": ["card", "cash"]}, "tags": ["string"]}
    for i in range(8):
        script = build_script(schema, seed=f"{scenario}{i}", when=MONDAY, scenario=scenario)
        got = coerce(schema, extract_turns(script.turns, schema, MONDAY), MONDAY)[0]
        got["tags"] = [t.lower() for t in got["tags"]] if got["tags"] else got["tags"]
        assert got == script.expected, script.turns


@pytest.mark.parametrize("text, expected", [
    ("we did one point two million in revenue", [1_200_000]), ("about a quarter million, give or take", [250_000]),
    ("half a million", [500_000]), ("two point five thousand", [2500]), ("three point seven five", [3.75]),
])
def test_decimals_and_fractions_said_with_a_scale(text, expected):
    assert parsing.numbers_in(text) == expected


def test_the_week_after_next_said_before_its_weekday():
    assert parsing.parse_date("the week after next, the thursday if you can", MONDAY) == date(2026, 3, 19)
    assert parsing.parse_date("next week, on the tuesday", MONDAY) == date(2026, 3, 10)


def test_a_code_read_digit_by_digit_with_oh_for_zero():
    got = extract_turns(turns("can i get the zip code on the account", "yeah its one oh zero two three"),
                        {"zip_code": {"type": "string", "description": "postal code"}}, MONDAY)
    assert got == {"zip_code": "10023"}


def test_a_wh_question_after_a_yes_no_does_not_take_its_yes():
    schema = {"pay_today": "boolean", "first_amount": "currency", "remaining_amount": "currency"}
    got = extract_turns(turns("hi this is the payments assistant at cityline credit can you make a payment today",
                              "not today no i get paid friday", "ok how much could you pay on friday",
                              "maybe two fifty and the rest later",
                              "so two hundred fifty on friday and the remaining one sixty two later is that right",
                              "yeah thats right"), schema, MONDAY)
    assert got == {"pay_today": False, "first_amount": {"amount": 250.0, "currency": "USD"},
                   "remaining_amount": {"amount": 162.0, "currency": "USD"}}


def test_the_agents_introduction_names_no_field():
    schema = {"attending": {"type": "boolean", "description": "will attend the appointment"},
              "text_reminder": {"type": "boolean", "description": "wants an sms reminder"}}
    got = extract_turns(turns("Hello, this is the reminder assistant from Elm Dental. Will you be able to make it?",
                              "Yes, I'll be there.", "And would you like a text reminder the day before?", "No thanks."),
                        schema, MONDAY)
    assert got == {"attending": True, "text_reminder": False}


def test_a_dinner_time_at_a_trattoria_is_in_the_evening():
    got = extract_turns(turns("hi this is the reservations line at trattoria luca what time works for you",
                              "half past seven ideally"), {"booking_time": "time"}, MONDAY)
    assert got == {"booking_time": "19:30"}


def test_a_reason_is_what_follows_the_refusal_and_a_broken_thing_is_not_working():
    schema = {"keeps_appointment": {"type": "boolean", "description": "keeps the original appointment"},
              "reason": {"type": "string", "description": "why they cannot make the original time"},
              "atm_working": "boolean"}
    got = extract_turns(turns("your vaccination is on wednesday at nine can you still make that",
                              "oh no i cant wednesday i have jury duty", "i'm sorry. was the atm out of service?",
                              "yep"), schema, MONDAY)
    assert got == {"keeps_appointment": False, "reason": "jury duty", "atm_working": False}


def test_the_answer_said_first_and_explained_after():
    got = extract_turns(turns("what could we do better", "honestly just the waiting room coffee, it was cold"),
                        {"improvement": {"type": "string", "description": "what the shop could do better"}}, MONDAY)
    assert got == {"improvement": "the waiting room coffee"}


def test_a_voicemail_greeting_is_no_person():
    schema = {"is_voicemail": {"type": "boolean", "description": "the call went to voicemail"},
              "human_answered": {"type": "boolean", "description": "a person answered the call"},
              "confirmed": "boolean"}
    got = extract_turns("user: the person you are trying to reach\nassistant: hello am i speaking with mr ortiz\n"
                        "user: is not available at the tone please record your message\n"
                        "assistant: hello this is metro pharmacy your prescription is ready goodbye", schema, MONDAY)
    assert got == {"is_voicemail": True, "human_answered": False}


def test_keeping_what_one_has_is_a_no_to_a_change_and_nothing_to_add_is_null():
    schema = {"paperless": {"type": "boolean", "description": "switches to paperless billing"},
              "other_comments": {"type": "string", "description": "anything else the callee said"}}
    got = extract_turns(turns("would you like to switch to paperless billing", "id rather keep getting paper thanks",
                              "is there anything else youd like to tell us", "no thats it"), schema, MONDAY)
    assert got == {"paperless": False}


def test_bare_amounts_are_in_the_currency_the_conversation_names():
    schema = {"amount_now": {"type": "currency", "description": "amount paid today"}}
    got = extract_turns(turns("Calling about invoice 2114 for three thousand two hundred euros. How much can you pay today?",
                              "I can send two grand now."), schema, MONDAY, region="US")
    assert got == {"amount_now": {"amount": 2000.0, "currency": "EUR"}}
    assert amounts.named_currency("we got a dog, she's small, like fifteen pounds", "US") is None


def test_a_length_of_time_is_not_an_amount():
    assert amounts.currencies_in("a six month lease would be twenty five twenty five") == [
        (25, {"amount": 2525.0, "currency": "USD"})]


@pytest.mark.parametrize("reply, expected", [
    ("just me and my husband", 2), ("its just me", 1), ("me and two colleagues", 3),
    ("me, my wife, her parents and our two kids", 6), ("me and the kids", None),
    ("I'm not comfortable sharing that.", None), ("i think about six", 6),
])
def test_a_head_count_said_as_the_people(reply, expected):
    got = extract_turns(turns("how many people will be coming", reply),
                        {"party_size": {"type": "integer", "description": "number of guests"}}, MONDAY)
    assert got == ({"party_size": expected} if expected is not None else {})


def test_a_bare_ordinal_answers_a_count_question():
    assert extract_turns(turns("what floor are you on", "the fourth"), {"floor": "integer"}, MONDAY) == {"floor": 4}


@pytest.mark.parametrize("question, reply, expected", [
    ("would you be interested in a free quote", "not at the moment thanks", False),
    ("would you be interested in a free quote", "were all set thanks", False),
    ("do you have any pets", "just a cat", True),
    ("do you have any pets", "none", False),
    ("any claims in the last five years", "one, a fender bender in 2022", True),
    ("do you own or rent", "we rent", False),
    ("do you own or rent", "we own it", True),
    ("do you smoke", "i quit two years ago", False),
    ("do you agree to the terms", "uh huh", True),
    ("am i speaking with the account holder", "thats me", True),
    ("can we charge the card on file", "please dont i want to use a different card", False),
    ("are you available next week", "only on tuesday", True),
])
def test_yes_and_no_in_the_words_people_use(question, reply, expected):
    name = {"free quote": "interested_in_quote", "pets": "has_pet", "claims": "prior_claims", "own or rent": "owns_home",
            "smoke": "smoker", "terms": "agrees_to_terms", "account holder": "is_account_holder",
            "card on file": "charge_card_on_file", "available": "available_next_week"}
    field = next(v for k, v in name.items() if k in question)
    assert extract_turns(turns(question, reply), {field: "boolean"}, MONDAY) == {field: expected}


def test_list_items_without_what_is_said_about_them_and_short_enum_options_said_in_full():
    languages = {"languages": {"type": "list", "items": "string", "description": "languages spoken"}}
    assert extract_turns(turns("what languages do you speak", "english, portuguese is my native, and decent spanish"),
                         languages, MONDAY) == {"languages": ["english", "portuguese", "spanish"]}
    assert extract_turns(turns("any allergies", "no none"), {"allergies": {"type": "list", "items": "string"}},
                         MONDAY) == {}
    days = {"available_days": {"type": "list", "items": {"type": "enum", "values": ["mon", "tue", "wed", "thu"]}}}
    assert extract_turns(turns("which days are you available", "monday tuesday and thursday"), days, MONDAY) == {
        "available_days": ["mon", "tue", "thu"]}


def test_enum_list_items_said_unasked():
    services = {"services": {"type": "list", "items": {"type": "enum", "values": ["oil_change", "brakes", "wipers"]}}}
    assert extract_turns(turns("what can we do for you", "an oil change, and check the brakes"), services, MONDAY) == {
        "services": ["oil_change", "brakes"]}


@pytest.mark.parametrize("reply, expected", [
    ("nine fifteen", "09:15"), ("ten ish", "10:00"), ("half eight", "08:30"), ("twenty to four", "15:40"),
    ("sometime after lunch, say one thirty", "13:30"), ("first thing in the morning like eight", "08:00"),
    ("evening, eight thirty", "20:30"), ("three oh three, five five five, oh one nine six", None),
])
def test_a_time_said_alone_as_the_answer(reply, expected):
    got = extract_turns(turns("what time will you arrive", reply), {"arrival_time": "time"}, MONDAY)
    assert got == ({"arrival_time": expected} if expected else {})


@pytest.mark.parametrize("question, reply, expected", [
    ("and youre ok with a text reminder", "yeah thats fine", True),
    ("happy for us to leave it with a neighbour", "rather not to be honest", False),
    ("how about a quick demo next week", "nah were not looking right now", False),
    ("shall i go ahead and renew it for another year", "hold off for now", False),
    ("just calling to confirm your appointment tomorrow at ten", "thats right see you then", True),
])
def test_a_yes_no_question_asked_as_a_statement(question, reply, expected):
    assert extract_turns(turns(question, reply), {"agreed": {"type": "boolean", "description": "callee agrees"}},
                         MONDAY) == {"agreed": expected}


def test_free_text_from_speech_to_text_without_apostrophes():
    from callops.extraction.free_text import string_answer
    from callops.extraction.matching import Profile
    from callops.extraction.schema import fields

    def read(name, description, reply):
        spec = fields(validate_returns({name: {"type": "string", "description": description}}))[name]
        return string_answer(Profile(name, spec, "US", MONDAY, False), reply)

    assert read("reason", "why the callee is unavailable", "not really im driving") == "driving"
    assert read("current_provider", "the callee's current provider", "uh were with comcast right now") == "comcast"
