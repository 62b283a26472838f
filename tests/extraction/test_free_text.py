"""Free text, lists and enums read from replies as people say them (no database)."""

from datetime import UTC, datetime

import pytest

from callops.extraction.extractors.rules import extract_turns
from tests.extraction.conversation import turns

MONDAY = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def enum(values, description="the choice"):
    return {"type": "enum", "values": values, "description": description}


@pytest.mark.parametrize("question, reply, values, description, expected", [
    ("We have two plans, the basic at twenty or the plus at thirty-five. Which one sounds better?",
     "The second one, I use a lot of data.", ["basic", "plus"], "the plan", "plus"),
    ("Keep your current cover, upgrade to the premium plan with flood cover, or cancel. Which would you like?",
     "Hmm, we had a flooding scare last spring, so I think the one with flood cover.",
     ["keep_current", "upgrade_premium", "cancel"], "the renewal choice", "upgrade_premium"),
    ("How big is your team?", "We're about thirty people, give or take.", ["1-10", "11-50", "51-200", "200+"],
     "number of employees", "11-50"),
    ("Would you like it delivered to your home or will you collect it at the airport?",
     "Deliver it please, I'm not driving back out there.", ["home_delivery", "airport_pickup"], "how it gets back",
     "home_delivery"),
    ("Are you filing single or jointly?", "Married, filing together.",
     ["single", "married_joint", "married_separate"], "tax filing status", "married_joint"),
    ("Do you prefer a morning or afternoon slot?", "Mornings are tough, so afternoon.", ["morning", "afternoon"],
     "the slot", "afternoon"),
    ("how would you describe your visit very satisfied satisfied neutral or dissatisfied",
     "eh somewhere in the middle id say", ["very_satisfied", "satisfied", "neutral", "dissatisfied"],
     "overall experience", "neutral"),
])
def test_an_enum_option_said_without_its_name(question, reply, values, description, expected):
    name = "company_size" if "employees" in description else "choice"
    got = extract_turns(turns(question, reply), {name: enum(values, description)}, MONDAY)
    assert got == {name: expected}


def test_an_enum_correction_replaces_the_option_said_before_it():
    got = extract_turns(turns("Which day works for you, Monday, Wednesday or Friday?",
                              "Monday. Oh wait, no, Monday I have a thing. Wednesday."),
                        {"day": enum(["monday", "wednesday", "friday"], "day of the appointment")}, MONDAY)
    assert got == {"day": "wednesday"}


def test_enum_fields_with_their_own_options_do_not_share_them():
    schema = {"plan": enum(["print_digital", "digital_only"], "plan chosen"),
              "billing_cycle": {"type": "enum", "values": ["monthly", "annual"], "synonyms": {"annual": ["yearly"]},
                                "description": "how often they are billed"}}
    got = extract_turns(turns("Digital only is eight a month or seventy nine a year.", "the yearly one",
                              "great, digital only, billed annually.", "thanks"), schema, MONDAY)
    assert got == {"plan": "digital_only", "billing_cycle": "annual"}


@pytest.mark.parametrize("name, question, reply, items, expected", [
    ("mains", "Which mains would you like for the buffet?", "Let's do the chicken, the salmon and a veggie one.", "string",
     ["chicken", "salmon", "veggie"]),
    ("languages", "Which languages do you speak?", "English obviously, French fluently, and a bit of Italian.", "string",
     ["English", "French", "Italian"]),
    ("allergies", "Any allergies we should know about?", "One guest is allergic to nuts, that's it.", "string", ["nuts"]),
    ("dogs", "Which dogs are we seeing?", "both of them so bella and max", "string", ["bella", "max"]),
    ("special_requests", "Any special requests?", "Um, a quiet room if possible, high floor, and late checkout.", "string",
     ["quiet room", "high floor", "late checkout"]),
])
def test_spoken_lists(name, question, reply, items, expected):
    got = extract_turns(turns(question, reply), {name: {"type": "list", "items": items}}, MONDAY)
    assert got == {name: expected}


def test_items_added_after_anything_else_join_the_list():
    got = extract_turns(turns("What items need special handling?", "The piano and a glass table.",
                              "So the piano and a glass table. Anything else?", "Oh, and the mirror too, sorry."),
                        {"fragile_items": {"type": "list", "items": "string",
                                           "description": "items needing special handling"}}, MONDAY)
    assert got == {"fragile_items": ["piano", "glass table", "mirror"]}


def test_no_items_is_no_list():
    got = extract_turns(turns("Any allergies in the group?", "No, none at all."),
                        {"allergies": {"type": "list", "items": "string", "description": "allergies"}}, MONDAY)
    assert got == {}


@pytest.mark.parametrize("question, reply, name, description, expected", [
    ("What could we do better?", "What could you do better... hmm, I'd say answer the phone faster.",
     "improvement", "what could be better", "answer the phone faster"),
    ("whats your role at the company", "im kind of the operations lead i guess", "job_title", "callee's role",
     "the operations lead"),
    ("which route did you use to take", "the forty two mostly", "route", "bus route", "the forty two"),
    ("Who should we ask for when we call back?", "Ask for Karen. No, sorry, Karen's off next week, ask for Tom.",
     "contact_name", "person to ask for", "tom"),
    ("who will be there to receive the sofa", "probably my neighbour um her names priya", "receiver_name",
     "name of who receives it", "priya"),
    ("If you're not home, where can we leave it?", "Um, behind the side gate would be best, by the bins.",
     "safe_place", "where to leave the parcel", "behind the side gate"),
    ("Why are you looking to move on from your current job?",
     "Honestly the commute is killing me, it's like ninety minutes each way.", "reason_for_leaving",
     "why they want to leave", "the commute is killing me"),
    ("can i ask why youre not interested", "because im already locked into a contract till next year", "reason",
     "why not interested", "already locked into a contract"),
])
def test_the_minimal_free_text_answer(question, reply, name, description, expected):
    got = extract_turns(turns(question, reply), {name: {"type": "string", "description": description}}, MONDAY)
    assert got == {name: expected}


def test_the_reason_after_because_not_the_decision_before_it():
    schema = {"renew": {"type": "boolean", "description": "renews the policy"},
              "reason": {"type": "string", "description": "why they are not renewing"}}
    got = extract_turns(turns("your car policy renews next week do you want to go ahead",
                              "no im gonna switch to another company because they quoted me way cheaper"), schema, MONDAY)
    assert got == {"renew": False, "reason": "they quoted me way cheaper"}


def test_a_reason_said_after_the_decision_unasked():
    schema = {"interested": {"type": "boolean", "description": "interested in an assessment"},
              "reason_not_interested": {"type": "string", "description": "why they are not interested"}}
    got = extract_turns(turns("would you be interested in a free roof assessment", "no thanks we rent so its not our roof"),
                        schema, MONDAY)
    assert got == {"interested": False, "reason_not_interested": "we rent"}


def test_nothing_to_report_and_a_voicemail_greeting_are_null():
    schema = {"improvement": {"type": "string", "description": "what the hotel could do better"}}
    assert extract_turns(turns("Anything we could have done better during your stay?",
                               "No, nothing really, it was great."), schema, MONDAY) == {}
    schema = {"reason": {"type": "string", "description": "why they want to move it"}}
    assert extract_turns(turns("hello this is coastline dental calling for maria, why do you need to move it",
                               "the person you are trying to reach is not available please leave a message after the beep"),
                         schema, MONDAY) == {}
