"""Triage's "blocked by calling rules" cause: calls a calling rule canceled, with no retry offered."""

from django.urls import reverse

from callops.calls import services
from callops.rules import suppressions
from callops.triage import explanations

URL = reverse("dashboard:triage")


def test_suppressed_calls_are_blocked_by_calling_rules_without_a_retry(personas, sandbox_agent):
    suppressions.add(personas.org, "+12025550100", reason="asked by letter")
    call = services.create_call(org=personas.org, agent=sandbox_agent, to_number="+12025550100")
    services.place_call(call)
    response = personas.admin.client().get(URL, {"window": "24h"})
    groups = response.context["groups"]
    assert [(g.cause.title, g.count) for g in groups] == [("Blocked by calling rules", 1)]
    page = response.content.decode()
    assert "suppression (do-not-call) list" in page
    assert 'value="retry"' not in page  # re-dialing would be refused again
    assert 'value="review"' in page


def test_every_calling_rule_code_has_the_cause():
    for code in explanations.CALLING_RULE_CODES:
        cause = explanations.for_call("canceled", code, "")
        assert cause.title == "Blocked by calling rules" and cause.can_retry is False
