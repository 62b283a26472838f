"""Employer and title said in one breath, and a choice with what is said of it after (no database)."""

from datetime import UTC, datetime

import pytest

from callops.extraction.extractors.rules import extract_turns
from callops.extraction.self_descriptions import work_part
from tests.extraction.conversation import turns

MONDAY = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize("text, wants_title, expected", [
    ("i work for acme logistics as a dispatcher", False, "acme logistics"),
    ("yeah i work for acme logistics as a dispatcher", True, "dispatcher"),
    ("i work as a nurse at st marys", True, "nurse"),
    ("i work as a nurse at st marys", False, "st marys"),
    ("i work as a nurse", False, None),
    ("im a nurse", True, None),
])
def test_the_part_of_i_work_for_x_as_a_y(text, wants_title, expected):
    assert work_part(text, wants_title) == expected


@pytest.mark.parametrize("question, reply, name, description, expected", [
    ("what do you do", "Yeah, I work for Acme Logistics as a dispatcher.", "job_title", "current job title", "dispatcher"),
    ("where do you work", "Yeah, I work for Acme Logistics as a dispatcher.", "employer", "current employer",
     "Acme Logistics"),
    ("who did you go with", "we went with geico they were like half the price", "competitor", "competitor they chose",
     "geico"),
    ("why did you cancel", "mostly the price honestly it was just too expensive", "reason", "why they cancelled",
     "the price"),
    ("what could we do better", "honestly i dont know maybe the app", "improvement", "what could be better", "the app"),
])
def test_each_field_takes_its_own_part(question, reply, name, description, expected):
    got = extract_turns(turns(question, reply), {name: {"type": "string", "description": description}}, MONDAY)
    assert got == {name: expected}
