"""Free text the callee corrects or trails off from while saying it (no database)."""

from datetime import UTC, datetime

import pytest

from callops.extraction.extractors.rules import extract_turns
from callops.extraction.self_corrections import corrected, vague_tail_removed
from tests.extraction.conversation import turns

MONDAY = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize("text, expected", [
    ("sarah no sorry sandra lopez", "sandra lopez"),
    ("Allstate, no sorry, State Farm", "State Farm"),
    ("a senior engineer well actually as of last month its staff engineer", "staff engineer"),
    ("the blue one, or rather the grey one", "the grey one"),
    ("no, it was tess", "no, it was tess"),  # an answer opening on "no" is not a correction of something said
    ("i mean it works fine", "i mean it works fine"),
])
def test_the_value_after_a_mid_answer_correction(text, expected):
    assert corrected(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("kevin something like that tall guy", "kevin"),
    ("the red box or something", "the red box"),
    ("spanish if you have it otherwise english is fine", "spanish"),
    ("something like that", "something like that"),  # nothing before it: left as it is
])
def test_a_vague_tail_or_fallback_is_not_part_of_the_answer(text, expected):
    assert vague_tail_removed(text) == expected


@pytest.mark.parametrize("question, reply, name, description, expected", [
    ("who referred you to us", "oh uh that was my neighbor sarah no sorry sandra sandra lopez", "referrer",
     "who referred the lead", "sandra lopez"),
    ("do you remember the name of the advisor who helped you", "uh i think it was kevin something like that tall guy",
     "advisor_name", "name of the service advisor", "kevin"),
    ("any language preference for the notices", "spanish if you have it otherwise english is fine", "language",
     "preferred language", "spanish"),
    ("can you tell me your current title", "yeah so im a senior engineer well actually as of last month its staff engineer",
     "job_title", "current job title", "staff engineer"),
])
def test_corrected_and_trailing_free_text(question, reply, name, description, expected):
    got = extract_turns(turns(question, reply), {name: {"type": "string", "description": description}}, MONDAY)
    assert got == {name: expected}


def test_a_competitor_said_in_passing_is_the_one_the_callee_corrects_to():
    got = extract_turns(turns("Are you planning to renew?", "No, we got a quote from Allstate, no sorry, State Farm."),
                        {"competitor": {"type": "string", "description": "the other insurer they are going with"}}, MONDAY)
    assert got == {"competitor": "state farm"}
