"""List items said once, restated, run on into a statement or added after "any others?" (no database)."""

from datetime import UTC, datetime

import pytest

from callops.extraction.extractors.rules import extract_turns
from callops.extraction.free_text import string_items
from callops.extraction.spoken_lists import distinct, statement_cut
from tests.extraction.conversation import turns

MONDAY = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
LIST = {"type": "list", "items": "string", "description": "the items"}


@pytest.mark.parametrize("text, expected", [
    ("yeah we looked at comcast and verizon we ended up going with verizon", ["comcast", "verizon"]),
    ("We looked at HubSpot, Salesforce, and, uh, Pipedrive I think. Salesforce was way too expensive though.",
     ["HubSpot", "Salesforce", "Pipedrive"]),
    ("Yes, penicillin, and um, sulfa, I think. Sulfa drugs.", ["penicillin", "sulfa"]),
    ("Hmm, a gym would be nice.", ["gym"]),
    ("Oh, and my son's vegan. And I think, yeah, that's it. Oh wait, my son can't do peanuts.", ["vegan", "peanuts"]),
])
def test_items_as_people_say_them(text, expected):
    assert string_items(text) == expected


def test_distinct_keeps_the_first_saying_of_an_item():
    assert distinct(["Salesforce", "sulfa", "salesforce", "sulfa drugs", "sulfa free soap"]) == \
        ["Salesforce", "sulfa", "sulfa free soap"]


def test_statement_cut_leaves_an_item_that_would_be_only_a_joining_word():
    assert statement_cut("verizon we ended up going with verizon") == "verizon"
    assert statement_cut("and i think") == "and i think"


def test_items_after_any_others_join_the_list():
    got = extract_turns(turns("Do you have any drug allergies?", "Yes, penicillin, and um, sulfa, I think.",
                              "Penicillin and sulfa, okay. Any others?", "Latex, but that's not a drug."),
                        {"allergies": LIST}, MONDAY)
    assert got == {"allergies": ["penicillin", "sulfa", "Latex"]}
