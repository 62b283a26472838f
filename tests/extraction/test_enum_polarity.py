"""An enum option and its negation picked by a plain yes or no (no database)."""

from datetime import UTC, datetime

import pytest

from callops.extraction.enum_polarity import by_polarity
from callops.extraction.extractors.rules import extract_turns

MONDAY = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
CHOICES = ["renewing", "not_renewing", "undecided"]


@pytest.mark.parametrize("reply, expected", [
    ("Honestly, probably not.", "not_renewing"),
    ("Yes, we will.", "renewing"),
    ("Let me think about it.", None),
])
def test_a_yes_or_no_picks_the_option_or_its_negation(reply, expected):
    assert by_polarity(reply, "Are you planning to renew with us?", CHOICES) == expected


def test_no_pair_or_no_yes_no_question_picks_nothing():
    assert by_polarity("No.", "Are you planning to renew?", ["renew", "cancel"]) is None
    assert by_polarity("No.", "Which would you like?", CHOICES) is None


def test_read_from_a_call():
    got = extract_turns([{"role": "agent", "text": "Your policy comes up next month. Are you planning to renew with us?"},
                         {"role": "user", "text": "Honestly, probably not."}],
                        {"renewal_intent": {"type": "enum", "values": CHOICES,
                                            "description": "whether the customer will renew"}}, MONDAY)
    assert got == {"renewal_intent": "not_renewing"}
