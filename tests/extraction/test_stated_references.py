"""A reference number the agent reads out and the callee goes along with (no database)."""

from datetime import UTC, datetime

import pytest

from callops.extraction.extractors.rules import extract_turns
from callops.extraction.stated_references import reference_field, stated
from tests.extraction.conversation import turns

MONDAY = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize("name, expected", [
    ("invoice_number", True), ("policy_no", True), ("order_id", True),
    ("number", False),  # no noun saying which reference
    ("gate_code", False), ("reason", False),
])
def test_a_reference_field_is_named_for_a_noun_and_a_number(name, expected):
    assert reference_field(name) is expected


@pytest.mark.parametrize("name, text, expected", [
    ("invoice_number", "calling about invoice twenty-one fourteen for three thousand euros", "2114"),
    ("invoice_number", "I'll note both payments against invoice 2114.", "2114"),
    ("order_number", "your order number is 4 4 1 9 2", "44192"),
    ("invoice_number", "that's the second of two invoices, invoice 2", None),  # too short for a reference
    ("policy_number", "calling about invoice 2114", None),  # another reference's number
])
def test_the_digits_read_out_after_the_fields_noun(name, text, expected):
    assert stated(name, text) == expected


def test_a_reference_only_the_agent_says_is_recorded():
    got = extract_turns(turns("Hello, calling about invoice twenty-one fourteen, now thirty days overdue.",
                              "Yes, sorry, I can pay it on Friday.", "Thank you, I'll note that against invoice 2114.",
                              "Great."),
                        {"invoice_number": {"type": "string", "description": "invoice being discussed"}}, MONDAY)
    assert got == {"invoice_number": "2114"}


def test_no_reference_is_made_up_when_the_agent_reads_none():
    got = extract_turns(turns("Hello, calling about your overdue invoice.", "Yes, I can pay it on Friday."),
                        {"invoice_number": {"type": "string", "description": "invoice being discussed"}}, MONDAY)
    assert got == {}
