"""A verdict said before what happened is not the reason for it (no database)."""

from datetime import UTC, datetime

import pytest

from callops.extraction.bare_verdicts import verdict_only
from callops.extraction.extractors.rules import extract_turns
from tests.extraction.conversation import turns

MONDAY = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize("sentence, expected", [
    ("scheduling was a pain, like a four", True),
    ("honestly it was just awful", True),
    ("the food was great", True),
    ("i was on hold for twenty minutes", False),
    ("the technician was two hours late", False),  # what happened, not a verdict
    ("the parking was a pain because nobody told us about the fee", False),
])
def test_a_sentence_that_only_passes_a_verdict(sentence, expected):
    assert verdict_only(sentence) is expected


def test_the_reason_is_what_happened_after_the_verdict():
    got = extract_turns(turns("How was scheduling your appointment, and what went wrong?",
                              "scheduling was a pain, like a four. i was on hold for twenty minutes. but dr kim was great"),
                        {"scheduling_complaint": {"type": "string", "description": "what went wrong when booking"}}, MONDAY)
    assert got == {"scheduling_complaint": "on hold for twenty minutes"}


def test_a_verdict_alone_is_kept():
    got = extract_turns(turns("What was the main problem with the booking?", "scheduling was a pain, like a four."),
                        {"complaint": {"type": "string", "description": "what went wrong when booking"}}, MONDAY)
    assert got == {"complaint": "scheduling was a pain"}
