"""An item the callee rules out as they list it, for a field about what they can work with (no database)."""

from datetime import UTC, datetime

import pytest

from callops.extraction.disclaimed_items import at_work, disclaimed_removed
from callops.extraction.extractors.rules import extract_turns
from tests.extraction.conversation import turns

MONDAY = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize("text, expected", [
    ("English, Portuguese is my native, and decent Spanish. A bit of French but not work level.",
     "English, Portuguese is my native, and decent Spanish."),
    ("english, some german but not fluently, and dutch", "english, and dutch"),
    ("salmon but not tuna", "salmon but not tuna"),  # "tuna" is an item, not a level
])
def test_a_part_the_callee_rules_out_is_taken_off(text, expected):
    assert disclaimed_removed(text) == expected


@pytest.mark.parametrize("description, expected", [
    ("languages the candidate can support customers in", True),
    ("languages used professionally", True),
    ("languages spoken", False),
])
def test_only_a_field_about_working_with_the_items(description, expected):
    assert at_work(description) is expected


LANGUAGES = "English, Portuguese is my native, and decent Spanish. A bit of French but not work level."


def test_the_disclaimed_item_is_not_listed_for_work():
    got = extract_turns(turns("Which languages can you support customers in?", LANGUAGES),
                        {"languages": {"type": "list", "items": "string",
                                       "description": "languages the candidate can support customers in"}}, MONDAY)
    assert got == {"languages": ["English", "Portuguese", "Spanish"]}


def test_the_disclaimed_item_is_listed_when_the_field_is_all_spoken():
    got = extract_turns(turns("Which languages do you speak?", LANGUAGES),
                        {"languages": {"type": "list", "items": "string", "description": "languages spoken"}}, MONDAY)
    assert got == {"languages": ["English", "Portuguese", "Spanish", "French"]}
