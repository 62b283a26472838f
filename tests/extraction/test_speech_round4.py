"""Replies as people give them, fourth round: head counts asked of the people themselves, yes/no
polarity of removal offers and conditions, and noun forms of a field's verb."""

from datetime import UTC, datetime

import pytest

from callops.extraction.extractors.rules import extract_turns

WEDNESDAY = datetime(2026, 6, 10, 16, 0, tzinfo=UTC)


def turns(*lines):
    return [{"role": "agent" if i % 2 == 0 else "user", "text": t} for i, t in enumerate(lines)]


@pytest.mark.parametrize("question, reply, expected", [
    ("Great. How many of you are we seeing?", "Me and my two kids.", 3),
    ("How many people should we expect?", "Just me and my husband.", 2),
])
def test_a_question_about_people_counts_the_people_listed_for_any_count_field(question, reply, expected):
    schema = {"patients": {"type": "integer", "description": "number of patients to be seen"}}
    assert extract_turns(turns(question, reply), schema, WEDNESDAY)["patients"] == expected


def test_a_count_field_not_about_people_keeps_the_number_said():
    schema = {"rooms": {"type": "integer", "description": "number of rooms to paint"}}
    got = extract_turns(turns("How many rooms?", "Me and my two kids share two rooms."), schema, WEDNESDAY)
    assert got["rooms"] == 2
