"""The rules extractor and its parsers: spoken answers to typed values, offline and deterministic."""

from datetime import UTC, date, datetime

import pytest

from callops.extraction import answers, contacts, parsing, times_of_day
from callops.extraction.extractors.rules import extract_turns
from callops.extraction.schema import coerce
from tests.extraction.conversation import turns

from .labelled import CALL_TIME, HAND_WRITTEN, cases, score

MONDAY = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def test_rules_accuracy_on_the_labelled_set_meets_the_goal():
    assert len(cases()) >= 40

    def rules(transcript, returns, when):
        return coerce(returns, extract_turns(transcript, returns, when), when)[0]

    right, total, misses = score(rules)
    assert right / total >= 0.9, misses
    # Phrasing the sandbox never uses must hold up too, not only the sandbox's own scripts.
    right, total, misses = score(rules, HAND_WRITTEN)
    assert right / total >= 0.85, misses


@pytest.mark.parametrize("text, expected", [
    ("Yes.", True), ("Yeah, that's right.", True), ("No problem, go ahead.", True), ("Not a problem.", True),
    ("No.", False), ("Nope, can't make it.", False), ("I don't think so.", False),
    ("Yes... actually, wait. No.", False), ("No. Hmm, actually yes, that works.", True),
    ("I'd rather not say.", None), ("Sorry, what was that?", None), ("Hmm.", None),
])
def test_yes_no_with_negation_and_change_of_mind(text, expected):
    assert answers.parse_boolean(text) is expected


@pytest.mark.parametrize("text, expected", [
    ("two hundred and fifty", 250), ("1,200 dollars", 1200), ("about 40k", 40000), ("three and a half", 3.5),
    ("three point five", 3.5), ("twelve hundred", 1200), ("250, no wait, make that 300", 300),
    ("Can we skip that one?", None), ("Just the one cat.", 1), ("around 3pm", None),
])
def test_numbers_in_digits_and_words(text, expected):
    assert parsing.parse_number(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("tomorrow", date(2026, 3, 3)), ("the day after tomorrow", date(2026, 3, 4)),
    ("next Tuesday", date(2026, 3, 3)), ("on Monday", date(2026, 3, 9)), ("Friday", date(2026, 3, 6)),
    ("in three days", date(2026, 3, 5)), ("a week from today", date(2026, 3, 9)),
    ("March 5th", date(2026, 3, 5)), ("the 1st of March", date(2027, 3, 1)),
    ("the twenty-first of April", date(2026, 4, 21)), ("12/25", date(2026, 12, 25)),
    ("2026-07-04", date(2026, 7, 4)), ("Tuesday. Actually no, Thursday", date(2026, 3, 5)),
    ("whenever", None),
])
def test_dates_relative_to_the_call(text, expected):
    assert parsing.parse_date(text, MONDAY) == expected


@pytest.mark.parametrize("text, expected", [
    ("next Tuesday at 3pm", datetime(2026, 3, 3, 15, 0, tzinfo=UTC)),
    ("tomorrow at half past ten in the morning", datetime(2026, 3, 3, 10, 30, tzinfo=UTC)),
    ("Friday, around four thirty in the afternoon", datetime(2026, 3, 6, 16, 30, tzinfo=UTC)),
    ("March 10 at noon", datetime(2026, 3, 10, 12, 0, tzinfo=UTC)),
    ("at 9", datetime(2026, 3, 3, 9, 0, tzinfo=UTC)),     # 9am already passed today
    ("at 5", datetime(2026, 3, 2, 17, 0, tzinfo=UTC)),    # a bare 5 is 5pm, still ahead today
    ("Wednesday", None),                                   # a date alone is not a date and time
])
def test_datetimes_relative_to_the_call(text, expected):
    assert times_of_day.parse_datetime(text, MONDAY) == expected


@pytest.mark.parametrize("text, expected", [
    ("It's john.smith@example.com.", "john.smith@example.com"),
    ("john dot smith at example dot com", "john.smith@example.com"),
    ("sure, it's maria underscore lopez at mail dot example dot net", "maria_lopez@mail.example.net"),
    ("I'm at home right now", None),
])
def test_emails_written_and_spoken(text, expected):
    assert contacts.parse_email(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("(415) 555-2671", "+14155552671"), ("+1 212 555 0134", "+12125550134"),
    ("four one five, five five five, two six seven one", "+14155552671"),
    ("six one seven, five five five, oh one double nine", "+16175550199"),
    ("415-555-2671. Actually, no, use 212 555 0134", "+12125550134"),
    ("it's 12", None),
])
def test_phones_to_e164(text, expected):
    assert contacts.parse_phone(text) == expected


def test_phone_without_country_code_uses_the_given_region():
    assert contacts.parse_phone("020 7946 0018", region="GB") == "+442079460018"


@pytest.mark.parametrize("text, expected", [
    ("Card, please.", "card"), ("Credit card.", "card"), ("cash, not card", "cash"),
    ("Card... no, actually cash.", "cash"), ("Mornings work best.", "morning"), ("not urgent", "low"),
    ("whatever you think", None),
])
def test_enum_words_synonyms_and_plurals(text, expected):
    assert answers.match_enum(text, ["card", "cash", "morning", "high", "low"]) == expected


def test_fields_follow_their_questions():
    schema = {"appointment_confirmed": "boolean", "appointment_date": "date", "party_size": "integer",
              "name": "string"}
    got = extract_turns(turns(
        "Hi, this is the clinic. I'm calling to confirm your appointment.", "Oh, yes, hello.",
        "What date suits you for the appointment?", "Thursday would be good.",
        "Can you confirm the appointment for Thursday then?", "No, sorry, I have to cancel.",
        "How many people are in your party size?", "Three. Actually four.",
        "And your name?", "Um, it's Lucia Rossi.",
        "Anything else I can help you with?", "No, that's all.",
    ), schema, MONDAY)
    assert got == {"appointment_confirmed": False, "appointment_date": "2026-03-05", "party_size": 4,
                   "name": "Lucia Rossi"}


def test_a_follow_up_question_stays_on_the_same_field():
    got = extract_turns(turns(
        "When should we book the visit?", "Tuesday at 3.",
        "Sorry, could you repeat that?", "Actually make it Wednesday at 4pm.",
        "So that's Wednesday at 4, correct?", "Yes.",
    ), {"visit": "datetime"}, MONDAY)
    assert got == {"visit": "2026-03-04T16:00:00+00:00"}


def test_one_question_for_two_fields():
    got = extract_turns(turns("Could I get your email and phone number?",
                              "jane at example dot com, and 415 555 2671."),
                        {"email": "email", "phone": "phone"}, MONDAY)
    assert got == {"email": "jane@example.com", "phone": "+14155552671"}


def test_refusals_and_unasked_fields_stay_empty():
    got = extract_turns(turns("What's your income?", "I'd rather not say.", "Okay. Goodbye!", "Bye."),
                        {"income": "number", "never_asked": "string"}, MONDAY)
    assert got == {}


def test_lists_collect_every_choice():
    got = extract_turns(turns("Which toppings: cheese, ham or olives?", "Cheese and olives, but not ham."),
                        {"toppings": {"list": ["cheese", "ham", "olives"]}}, MONDAY)
    assert got == {"toppings": ["cheese", "olives"]}


def test_string_transcripts_from_providers_are_read():
    transcript = "assistant: Is the address still correct?\nuser: Yes it is.\nassistant: Thanks, bye."
    assert extract_turns(transcript, {"address_correct": "boolean"}, CALL_TIME) == {"address_correct": True}


def test_the_callees_time_zone_anchors_relative_times():
    from types import SimpleNamespace

    from callops.extraction.extractors import rules

    # 02:00 UTC on Tuesday is still Monday evening in New York: "tomorrow" is Tuesday there.
    call = SimpleNamespace(transcript=turns("When should we call back?", "Tomorrow at 10am."),
                           context={"timezone": "America/New_York"}, to_number="+14155552671",
                           answered_at=datetime(2026, 3, 3, 2, 0, tzinfo=UTC), started_at=None, created_at=None)
    assert rules.extract(call, {"call_back": "datetime"}) == {"call_back": "2026-03-03T10:00:00-05:00"}
    call.context = {"timezone": "Not/AZone"}
    assert rules.extract(call, {"call_back": "datetime"}) == {"call_back": "2026-03-04T10:00:00+00:00"}


def test_unknown_extractor_is_refused():
    from callops.extraction.extractors import ExtractionFailed, get

    with pytest.raises(ExtractionFailed, match="unknown extractor 'magic'"):
        get("magic")
