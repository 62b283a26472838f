"""Replies as people give them, beyond the earlier rounds (tests/extraction/corpus/dev/dev_12.json in
small): questions in unpunctuated speech-to-text, offers declined without a "no", lists, free text."""

from datetime import UTC, datetime

import pytest

from callops.extraction.extractors.rules import extract_turns
from tests.extraction.conversation import ask, turns

WEDNESDAY = datetime(2026, 6, 10, 16, 0, tzinfo=UTC)


def one(kind: str, description: str, question: str, reply: str):
    return ask(kind, description, question, reply, WEDNESDAY)


@pytest.mark.parametrize("description, question, reply, expected", [
    ("any items damaged", "sorry about that were any items damaged", "no everything else was fine", False),
    ("wants a payment plan", "im sorry to hear that would a payment plan help", "yeah that would help actually", True),
    ("accepts overnight routes", "Great. Are you okay with overnight routes?", "Hmm, I'd prefer not to be honest.", False),
])
def test_yes_no_asked_without_punctuation_or_declined_without_a_no(description, question, reply, expected):
    assert one("boolean", description, question, reply) is expected


def test_declining_to_answer_is_not_a_no():
    assert one("boolean", "has other quotes", "Have you had other quotes?", "I'd rather not say.") is None


def test_a_statement_with_has_a_asks_nothing():
    schema = {"keeps_original": {"type": "boolean", "description": "keeps the original appointment"}}
    got = extract_turns(turns("Can you still make Monday at nine?", "No, I have work. Can I come in the evening?",
                              "Dr Sen has a slot at seven fifteen on Monday evening.", "Seven fifteen is okay."),
                        schema, WEDNESDAY)
    assert got.get("keeps_original") is False


@pytest.mark.parametrize("kind, description, question, reply, expected", [
    ("string", "what they enjoyed most", "what did you enjoy most about your meal", "oh the desserts for sure", "the desserts"),
    ("string", "what could be improved", "anything we could improve", "honestly not really it was all great", None),
    ("string", "what they want to change", "anything youd like to change",
     "maybe add flood cover because we had water in the basement last spring", "add flood cover"),
    ("string", "why the payment is late", "why was the payment late",
     "yeah sorry i lost my job last month so things are tight", "lost my job"),
    ("string", "what could be improved", "what could we improve",
     "the wait was kind of long i was sitting there like forty minutes", "the wait was kind of long"),
])
def test_free_text_keeps_the_answer_without_hedges_explanations_or_run_on_sentences(kind, description, question, reply,
                                                                                   expected):
    assert one(kind, description, question, reply) == expected


def test_questions_no_field_names_are_tied_to_the_open_fields_by_order():
    schema = {"liked_most": {"type": "string", "description": "what the customer liked most"},
              "complaint": {"type": "string", "description": "main complaint"},
              "repeat_buyer": {"type": "boolean", "description": "would buy again"}}
    got = extract_turns(turns("What stood out for you so far?", "I'd say how quiet it is, honestly.",
                              "And what's been frustrating?", "The lid is hard to get off.",
                              "Would you buy from us again?", "Probably, yeah."), schema, WEDNESDAY)
    assert got == {"liked_most": "how quiet it is", "complaint": "The lid is hard to get off", "repeat_buyer": True}


def test_an_unclaimed_yes_no_between_answered_fields_answers_the_yes_no_field_between_them():
    schema = {"keeps_cover": {"type": "boolean", "description": "keeps the same cover"},
              "accepts_increase": {"type": "boolean", "description": "accepts the price increase"},
              "change_requested": {"type": "string", "description": "what they want to change"}}
    got = extract_turns(turns("do you want to keep the same cover", "yeah i suppose so",
                              "it goes up by about four percent is that okay", "ugh fine",
                              "is there anything about the policy youd like to change", "no thats all"),
                        schema, WEDNESDAY)
    assert got.get("accepts_increase") is True and got.get("change_requested") is None


@pytest.mark.parametrize("description, question, reply, expected", [
    ("name of the neighbour", "Is there a neighbour who could take it?", "Yeah, Tom at number six usually takes stuff for me.",
     "Tom"),
    ("name of a staff member who stood out", "did anyone on our team stand out",
     "yeah the concierge marco was amazing he booked everything for us", "marco"),
    ("name on the booking", "what name should i put the table under", "under garcia thanks", "garcia"),
    ("other vendor considered", "Have you looked at other vendors for this?", "We talked to Looker, but it was too pricey.",
     "Looker"),
    ("where to leave the parcel", "If you're out, where can we leave the parcel?",
     "You can leave it behind the green bin by the side door.", "behind the green bin by the side door"),
    ("what could be better", "is there anything we could have done better", "nothing really no", None),
])
def test_names_vendors_and_places_without_what_is_said_around_them(description, question, reply, expected):
    assert one("string", description, question, reply) == expected


@pytest.mark.parametrize("question, reply, expected", [
    ("would you like us to freeze it instead", "yeah no i think just cancel it", False),
    ("Would you like breakfast included?", "Yeah no, we'll eat out.", False),
    ("and are you able to lift fifty pounds", "oh yeah no problem", True),
    ("would you be open to a demo next week", "maybe if its a lot cheaper than what we pay now", True),
    ("would you stay with us again", "honestly? not sure. maybe if the parking thing gets sorted out", None),
])
def test_yeah_no_and_conditional_yeses(question, reply, expected):
    assert one("boolean", "the thing asked", question, reply) is expected


@pytest.mark.parametrize("question, reply, expected", [
    ("any allergies or dietary needs i should note", "one of us is vegan and my son cant have peanuts", ["vegan", "peanuts"]),
    ("Anything you'd like the vet to look at?", "Her ears and her teeth, and she's been limping a bit.",
     ["ears", "teeth", "limping"]),
    ("Which regions would you be willing to drive?", "The northeast, the midwest or the south, any of those.",
     ["northeast", "midwest", "south"]),
])
def test_list_items_said_of_someone_and_without_any_of_those(question, reply, expected):
    schema = {"items": {"type": "list", "items": "string", "description": "what was listed"}}
    assert sorted(extract_turns(turns(question, reply), schema, WEDNESDAY)["items"]) == sorted(expected)


@pytest.mark.parametrize("description, question, reply, expected", [
    ("building has a lift", "Is there a lift in the building?", "There isn't one, sorry, it's stairs only.", False),
    ("adds a nail trim", "Would you like us to add a nail trim for each?", "Not this time, thanks.", False),
    ("wants no more marketing calls", "Should I take you off our marketing calls?", "Please do.", True),
])
def test_more_ways_of_saying_yes_and_no(description, question, reply, expected):
    assert one("boolean", description, question, reply) is expected


@pytest.mark.parametrize("description, question, reply, expected", [
    ("number of guests", "how many of you will be staying", "me my wife and our two kids", 4),
    ("visits this year", "How many times have you visited us this year?", "This is my third time, I think.", 3),
])
def test_counts_said_as_people_or_as_an_ordinal(description, question, reply, expected):
    assert one("integer", description, question, reply) == expected


def test_a_judging_clause_answers_a_yes_no_about_being_happy():
    assert one("boolean", "happy with the current provider", "And are you happy with them?",
               "It's been a nightmare, to be honest.") is False


def test_a_corrected_name_without_the_correction_around_it():
    assert one("string", "name of the server", "so jess was your server", "oh sorry no it was tess not jess") == "tess"


def test_an_unasked_reason_after_a_comma():
    schema = {"renews": {"type": "boolean", "description": "keeps the plan"},
              "reason": {"type": "string", "description": "why they are leaving"}}
    got = extract_turns(turns("Would you like to keep it?", "No, cancel it please, we barely watch anything now."),
                        schema, WEDNESDAY)
    assert got == {"renews": False, "reason": "we barely watch anything"}


def test_something_named_in_reply_to_an_anything_question_is_a_yes():
    schema = {"adding_pet": {"type": "boolean", "description": "a pet joins the household"}}
    got = extract_turns(turns("great. anything else change in the household?", "oh, we got a dog. she's small"),
                        schema, WEDNESDAY)
    assert got == {"adding_pet": True}


def test_a_moved_booking_does_not_keep_the_original():
    schema = {"keeps_original_slot": {"type": "boolean", "description": "keeps the monday slot"},
              "rescheduled_to": {"type": "datetime", "description": "the new appointment"}}
    got = extract_turns(turns("You're booked for Monday at nine.", "Oh, Monday's not gonna work, my grandson has a thing.",
                              "We have Thursday at eight thirty.", "Thursday at eight thirty then."), schema, WEDNESDAY)
    assert got.get("keeps_original_slot") is False and got.get("rescheduled_to")


@pytest.mark.parametrize("said, expected", [
    ("yes please. sharon dot b, just the letter b, at yahoo dot com", ["sharon.b@yahoo.com"]),
    ("k dot weber at nordlicht minus logistik dot de", ["k.weber@nordlicht-logistik.de"]),
    ("its j dash smith at gmail dot com all lowercase", ["j-smith@gmail.com"]),
])
def test_spoken_emails_with_minus_and_letter_clarifications(said, expected):
    from callops.extraction import contacts

    assert contacts.emails_in(said) == expected


def test_an_unasked_one_word_state_after_the_decision_is_the_reason():
    schema = {"callback_at": {"type": "time", "description": "when to call back"},
              "reason_unavailable": {"type": "string", "description": "why the callee cannot talk now"}}
    got = extract_turns(turns("Is now a good time?", "Not really, I'm driving. Call me back at lunch."), schema, WEDNESDAY)
    assert got.get("reason_unavailable") == "driving"


def test_an_elliptical_follow_up_is_a_yes_no_question():
    schema = {"email_ok": {"type": "boolean", "description": "keeps email offers"},
              "phone_ok": {"type": "boolean", "description": "keeps phone calls"}}
    got = extract_turns(turns("Would you like to keep getting our offers by email?", "I guess so, yeah.",
                              "And by phone?", "No, please stop calling me."), schema, WEDNESDAY)
    assert got == {"email_ok": True, "phone_ok": False}


@pytest.mark.parametrize("description, question, reply, expected", [
    ("will attend", "can you still make it on thursday", "wouldnt miss it", True),
    ("will attend", "can you still make it on thursday", "unfortunately something came up", False),
    ("satisfied", "were you happy with the service", "not particularly", False),
    ("satisfied", "were you happy with the service", "could have been better", False),
    ("issue resolved", "is the problem sorted now", "still not working", False),
    ("recommend", "would you recommend us", "already have", True),
    ("recommend", "would you recommend us", "i would not", False),
    ("recommend", "would you recommend us", "id have to think about it", None),
])
def test_yes_and_no_said_as_what_happened_or_how_it_went(description, question, reply, expected):
    assert one("boolean", description, question, reply) is expected


@pytest.mark.parametrize("description, question, reply, expected", [
    ("current energy supplier", "who supplies your energy", "british gas unfortunately", "british gas"),
    ("callee's name", "and your name please", "its sarah sarah jones", "sarah jones"),
    ("best time to call", "whens a good time to reach you", "evenings are better", "evenings"),
    ("what could be improved", "what could we do better", "um i dunno maybe more parking", "more parking"),
    ("what could be improved", "what could we do better", "nothing its fine", None),
    ("allergies", "does he have any allergies", "yeah hes allergic to penicillin", "penicillin"),
    ("vehicle model", "what car do you drive", "a 2019 honda civic", "2019 honda civic"),
    ("gate code", "whats the gate code", "pound four four one nine", "pound 4419"),
])
def test_free_text_trims_tails_repeats_articles_and_tentative_answers(description, question, reply, expected):
    assert one("string", description, question, reply) == expected


@pytest.mark.parametrize("question, reply, expected", [
    ("what are we moving for you", "a sofa two armchairs and a coffee table", ["armchairs", "coffee table", "sofa"]),
    ("which days work for you", "mondays wednesdays and fridays", ["fridays", "mondays", "wednesdays"]),
    ("which services are you interested in", "mainly cleaning but also maybe gardening", ["cleaning", "gardening"]),
    ("what tools do you use today", "we use slack, jira, and google sheets for most things", ["google sheets", "jira", "slack"]),
    ("anything for the vet to look at", "her ears and she's been limping a bit", ["ears", "limping"]),
])
def test_lists_said_without_commas_or_with_but_also(question, reply, expected):
    schema = {"items": {"type": "list", "items": "string", "description": "what was listed"}}
    assert sorted(extract_turns(turns(question, reply), schema, WEDNESDAY)["items"]) == expected


@pytest.mark.parametrize("reply, expected", [
    ("its a guy called peter mills", "peter mills"),
    ("just ask for dave hes the manager", "dave"),
    ("her names priya", "priya"),
])
def test_a_surname_is_kept_when_the_name_is_introduced_as_one(reply, expected):
    assert one("string", "name of the contact", "who should we ask for", reply) == expected


def test_a_week_today_is_seven_days_on():
    from callops.extraction import parsing

    assert [d for _, d in parsing.dates_with_spans("a week today", WEDNESDAY, False, "GB")] == [
        datetime(2026, 6, 17).date()]
