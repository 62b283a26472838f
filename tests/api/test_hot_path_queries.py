"""The API's hot paths under load (the fault suite's load scenario): what each request asks the
database, pinned so a change that adds a query per request shows up here, and shown not to grow
with the organization's calls."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from callops.rules.models import DialRecord

pytestmark = pytest.mark.django_db


def tables(ctx) -> list[str]:
    """The first table each captured statement names (BEGIN/COMMIT/SAVEPOINT as themselves)."""
    out = []
    for q in ctx.captured_queries:
        sql = q["sql"]
        for word in ("FROM", "INTO", "UPDATE"):
            if f'{word} "' in sql:
                out.append(sql.split(f'{word} "', 1)[1].split('"', 1)[0])
                break
        else:
            out.append(sql.split(None, 1)[0])
    return out


def create(api, agent, n: int) -> str:
    response = api.post("/v1/calls", {"agent_id": str(agent.public_id), "to": f"+1202555{1000 + n:04d}"})
    assert response.status_code == 201, response.content
    return response.json()["id"]


def test_reading_a_call_is_three_queries_whatever_its_timeline(api, sandbox_agent):
    ids = [create(api, sandbox_agent, n) for n in range(5)]
    api.get(f"/v1/calls/{ids[0]}")  # last_used_at is written at most once a minute: done now
    for call_id in ids:
        with CaptureQueriesContext(connection) as ctx:
            response = api.get(f"/v1/calls/{call_id}")
        assert response.status_code == 200 and response.json()["id"] == call_id
        assert len(response.json()["timeline"]) == 2
        assert tables(ctx) == ["accounts_apikey", "calls_call", "calls_callevent"]


def test_a_filtered_list_page_is_two_queries_however_many_calls(api, sandbox_agent):
    for n in range(3):
        create(api, sandbox_agent, n)
    api.get("/v1/calls")
    with CaptureQueriesContext(connection) as few:
        small = api.get("/v1/calls", {"status": "queued", "limit": 20})
    for n in range(3, 30):
        create(api, sandbox_agent, n)
    with CaptureQueriesContext(connection) as many:
        large = api.get("/v1/calls", {"status": "queued", "limit": 20})
    assert len(small.json()["data"]) == 3 and len(large.json()["data"]) == 20
    assert tables(few) == tables(many) == ["accounts_apikey", "calls_call"]


def test_creating_a_call_reads_the_policy_once_and_admits_it_once(api, sandbox_agent):
    create(api, sandbox_agent, 0)  # warm: last_used_at, the rollup row of this hour
    with CaptureQueriesContext(connection) as first:
        call_id = create(api, sandbox_agent, 1)
    for n in range(2, 20):
        create(api, sandbox_agent, n)
    with CaptureQueriesContext(connection) as later:
        create(api, sandbox_agent, 20)
    # Screening and admission share one read of the calling policy, and the call admitted in its
    # creating transaction is not asked about again before the provider request.
    assert tables(first).count("rules_callingpolicy") == 1
    assert tables(first).count("rules_suppression") == 2  # screening, then under the number's lock
    assert tables(first).count("rules_dialrecord") == 2  # already counted? then the record
    assert DialRecord.objects.filter(call_public_id=call_id).count() == 1
    # 30: the 25 of the create itself (the new call counted in its hour's and its day's rollups),
    # and the committed routing entry naming the agent and account asked before the provider
    # request (its claim check, savepoint and write), which recovery needs.
    assert len(first.captured_queries) <= 30
    assert tables(later) == tables(first)  # flat in the organization's calls
