"""`POST /v1/calls/{id}/extract` and the `returns` check on create, through the public API."""

import pytest

from callops.calls import services as calls
from callops.calls.models import Call

pytestmark = pytest.mark.django_db(transaction=True)

TRANSCRIPT = [{"role": "agent", "text": "Can you confirm the visit?"}, {"role": "user", "text": "Yes, I can."}]


def test_rerun_over_the_api(api, api_readonly, api_outsider, personas, sandbox_agent, run_jobs):
    call = calls.create_call(org=personas.org, agent=sandbox_agent, to_number="+14155552671",
                             returns={"visit_confirmed": "boolean"})
    response = api.post(f"/v1/calls/{call.public_id}/extract")
    assert response.status_code == 409
    assert "only for completed calls" in response.json()["error"]

    calls.apply_status(call, "in_progress", source="poll")
    calls.apply_status(call, "completed", source="poll", fields={"transcript": TRANSCRIPT})
    run_jobs()
    assert api_outsider.post(f"/v1/calls/{call.public_id}/extract").status_code == 404
    assert api_readonly.post(f"/v1/calls/{call.public_id}/extract").status_code == 403
    response = api.post(f"/v1/calls/{call.public_id}/extract")
    assert response.status_code == 202, response.content
    assert response.json()["result_status"] == "pending"
    run_jobs()
    data = api.get(f"/v1/calls/{call.public_id}").json()
    assert data["result_status"] == "completed" and data["result"] == {"visit_confirmed": True}
    evidence = data["result_evidence"]
    assert set(evidence) == {"visit_confirmed"}
    assert evidence["visit_confirmed"]["turn"] == 1 and evidence["visit_confirmed"]["text"] == "Yes, I can."
    assert 0 < evidence["visit_confirmed"]["confidence"] <= 1
    notes = [e.note for e in Call.objects.get(pk=call.pk).events.filter(kind="extraction")]
    assert len(notes) == 3 and "requested by API key" in notes[1]


def test_the_object_form_is_accepted_and_kept(api, sandbox_agent):
    returns = {"method": {"type": "enum", "values": ["card", "bank_transfer"], "description": "how they pay",
                          "synonyms": {"bank_transfer": ["ach"]}},
               "amount": {"type": "currency", "description": "amount promised"}, "names": ["string"]}
    response = api.post("/v1/calls", {"agent_id": str(sandbox_agent.public_id), "to": "+12025550100",
                                      "returns": returns})
    assert response.status_code in (200, 201), response.content
    assert response.json()["returns"] == {**returns, "names": {"list": "string"}}
    assert response.json()["result_evidence"] is None


@pytest.mark.parametrize("returns, words", [
    ({"when": "timestamp"}, "returns.when: unknown type 'timestamp'"),
    ({"tags": ["list", ["a"]]}, "returns.tags: enum values must be non-empty strings"),
    ({"9lives": "integer"}, "field name '9lives'"),
    ({"pay": {"type": "enum", "values": ["card"], "synonyms": {"cash": ["notes"]}}},
     "returns.pay: synonyms name 'cash', which is not one of the enum values"),
    ({"amount": {"type": "money"}}, "returns.amount: unknown type 'money'"),
    ({"days": {"type": "list"}}, 'returns.days: a list needs "items"'),
])
def test_bad_returns_is_400_naming_the_field(api, sandbox_agent, returns, words):
    response = api.post("/v1/calls", {"agent_id": str(sandbox_agent.public_id), "to": "+12025550100",
                                      "returns": returns})
    assert response.status_code == 400
    assert words in response.json()["error"]
    assert not Call.objects.exists()
