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
    notes = [e.note for e in Call.objects.get(pk=call.pk).events.filter(kind="extraction")]
    assert len(notes) == 3 and "requested by API key" in notes[1]


@pytest.mark.parametrize("returns, words", [
    ({"when": "timestamp"}, "returns.when: unknown type 'timestamp'"),
    ({"tags": ["list", ["a"]]}, "returns.tags: enum values must be non-empty strings"),
    ({"9lives": "integer"}, "field name '9lives'"),
])
def test_bad_returns_is_400_naming_the_field(api, sandbox_agent, returns, words):
    response = api.post("/v1/calls", {"agent_id": str(sandbox_agent.public_id), "to": "+12025550100",
                                      "returns": returns})
    assert response.status_code == 400
    assert words in response.json()["error"]
    assert not Call.objects.exists()
