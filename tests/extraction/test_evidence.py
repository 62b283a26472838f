"""Evidence: the turn each extracted value came from, stored with the result, shown on the call page."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from callops.calls import services as calls
from callops.calls.models import Call
from callops.extraction import evidence

WHEN = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
TRANSCRIPT = [{"role": "agent", "text": "How many people, and your email?"},
              {"role": "user", "text": "Four of us <b>maybe</b> five. ann at example dot com"}]


def test_locate_finds_the_callee_turn_that_says_a_value():
    schema = {"party": "integer", "email": "email", "ok": "boolean", "note": "string"}
    found = evidence.locate(TRANSCRIPT, schema, {"party": 5, "email": "ann@example.com", "ok": True,
                                                 "note": "nothing said"}, WHEN)
    assert found == {"party": {"turn": 1, "text": TRANSCRIPT[1]["text"], "confidence": 0.5},
                     "email": {"turn": 1, "text": TRANSCRIPT[1]["text"], "confidence": 0.5}}


def test_keep_drops_fields_whose_value_did_not_survive_coercion():
    found = {"a": {"turn": 1, "text": "x" * 900, "confidence": 1.7}, "b": {"turn": 2, "text": "y", "confidence": 0.4}}
    kept = evidence.keep(found, {"a": 3, "b": None})
    assert kept == {"a": {"turn": 1, "text": "x" * evidence.MAX_TEXT, "confidence": 1.0}}
    assert evidence.keep(found, {"a": None, "b": None}) is None


@pytest.mark.django_db(transaction=True)
def test_the_call_page_shows_why_each_value_was_chosen(personas, sandbox_agent, run_jobs):
    call = calls.create_call(org=personas.org, agent=sandbox_agent, to_number="+14155552671",
                             returns={"party": "integer", "email": "email", "never_asked": "date"})
    calls.apply_status(call, "in_progress", source="poll")
    calls.apply_status(call, "completed", source="poll", fields={"transcript": TRANSCRIPT})
    run_jobs()
    call = Call.objects.get(pk=call.pk)
    assert call.result == {"party": 5, "email": "ann@example.com", "never_asked": None}
    assert set(call.result_evidence) == {"party", "email"}
    assert call.result_evidence["party"]["turn"] == 1
    page = personas.viewer.client().get(reverse("dashboard:call_detail", args=[call.public_id])).content.decode()
    shown = page[page.index('data-testid="evidence-party"'):]
    shown = shown[:shown.index("</p>")]
    assert "from turn 1" in shown and "confidence" in shown
    assert "&lt;b&gt;maybe&lt;/b&gt;" in shown and "<b>maybe</b>" not in shown  # the callee's words, escaped
    assert 'data-testid="evidence-never_asked"' not in page
