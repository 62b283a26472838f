"""A month said in passing fills a field that records a month (no database)."""

from datetime import UTC, datetime

import pytest

from callops.extraction.extractors.rules import extract_turns
from callops.extraction.month_fields import said_month
from tests.extraction.conversation import turns

MONDAY = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize("text, expected", [
    ("i give every year in december, call me then", "december"),
    ("not now, maybe in March or actually April", "april"),
    ("you may call me later", None),  # the verb, not the month
    ("try again in may", "may"),
    ("may the 3rd works", "may"),
    ("no thanks", None),
])
def test_the_last_month_named(text, expected):
    assert said_month(text) == expected


def test_a_month_said_in_passing_fills_a_month_field():
    got = extract_turns(turns("Would you like me to remove you from our call list?",
                              "no, no, don't do that. i give every year in december, call me then. just not now",
                              "Of course, we'll reach out then.", "sure, bye"),
                        {"preferred_contact_month": {"type": "string", "description": "month the callee wants to be contacted"}},
                        MONDAY)
    assert got == {"preferred_contact_month": "december"}


def test_no_month_is_recorded_when_none_is_named():
    got = extract_turns(turns("Would you like me to remove you from our call list?", "no, just call me another time"),
                        {"preferred_contact_month": {"type": "string", "description": "month the callee wants to be contacted"}},
                        MONDAY)
    assert got == {}
