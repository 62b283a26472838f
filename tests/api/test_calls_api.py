"""/v1/calls over the test client: every documented status code and the call object."""

import json
import socket
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from callops.calls import services
from callops.calls.models import Agent, Call, CallStatus
from callops.providers.models import ProviderAccount

COMPLETED = "+12025550100"


def body(agent, **extra):
    return {"agent_id": str(agent.public_id), "to": COMPLETED, **extra}


def test_create_returns_201_with_the_full_call_object(api, sandbox_agent, clock):
    response = api.post("/v1/calls", body(sandbox_agent, metadata={"crm_id": 7}, context={"name": "Ann"},
                                          returns={"confirmed": "boolean"}))
    assert response.status_code == 201, response.content
    data = response.json()
    call = Call.objects.get(public_id=data["id"])
    assert data["object"] == "call" and data["agent_id"] == str(sandbox_agent.public_id)
    assert data["to_number"] == COMPLETED and data["metadata"] == {"crm_id": 7}
    assert data["returns"] == {"confirmed": "boolean"}
    # handed to the provider before the response
    assert call.dial_claimed_at is not None and call.provider_call_id
    assert data["status"] == "queued"  # the sandbox's first word; the test clock has not moved
    assert data["provider"] == "sandbox" and data["provider_call_id"] == call.provider_call_id
    assert len(data["timeline"]) >= 2  # created, then the provider's answer
    assert data["timeline"][0]["source"] == "api" and data["timeline"][0]["status"] == "queued"
    assert data["instructions"] == sandbox_agent.instructions  # agent default applies


@pytest.mark.parametrize("patch,field,words", [
    ({"to": "4155550100"}, "to", "must start with +"),
    ({"to": "+1415555"}, "to", "too short"),
    ({"to": "+15550100000"}, "to", "not a valid number"),
    ({"to": None}, "to", "required"),
    ({"agent_id": str(uuid.uuid4())}, "agent_id", "no agent"),
    ({"agent_id": "nope"}, "agent_id", "no agent"),
    ({"returns": {"confirmed": "bool-ish"}}, "returns", "confirmed"),
    ({"metadata": "text"}, "metadata", "JSON object"),
    ({"metadata": {"blob": "x" * 20000}}, "metadata", "limit"),
    ({"webhook_url": "ftp://example.com/hook"}, "webhook_url", "https://"),
    ({"webhook_url": "http://10.0.0.5/hook"}, "webhook_url", "a private address"),
    ({"webhook_url": "http://0x7f000001/hook"}, "webhook_url", "a private address"),
    ({"webhook_url": "http://user:pw@example.com/hook"}, "webhook_url", "credentials"),
    ({"scheduled_at": "2020-01-01T00:00:00Z"}, "scheduled_at", "past"),
    ({"scheduled_at": "2030-01-01T00:00:00"}, "scheduled_at", "timezone"),
    ({"scheduled_at": "tomorrow"}, "scheduled_at", "ISO 8601"),
    ({"surprise": 1}, "surprise", "not a field"),
])
def test_bad_input_gets_400_naming_the_field_and_changes_nothing(api, sandbox_agent, settings, patch, field, words):
    settings.OUTBOUND_ALLOW_PRIVATE = []
    response = api.post("/v1/calls", {**body(sandbox_agent), **patch})
    assert response.status_code == 400, response.content
    data = response.json()
    assert field in data["fields"] and words in data["fields"][field], data
    assert isinstance(data["error"], str) and data["error"]
    assert not Call.objects.exists()


def test_malformed_json_and_non_object_bodies(api):
    r = api.client.post("/v1/calls", "{not json", content_type="application/json",
                        headers={"Authorization": f"Bearer {api.secret}"})
    assert r.status_code == 400 and r.json() == {"error": "request body is not valid JSON"}
    r = api.client.post("/v1/calls", "[1,2]", content_type="application/json",
                        headers={"Authorization": f"Bearer {api.secret}"})
    assert r.status_code == 400 and "JSON object" in r.json()["error"]


def test_scheduled_call_answers_queued_and_is_not_dialed(api, sandbox_agent, run_jobs):
    when = (timezone.now() + timedelta(hours=2)).replace(microsecond=0)
    offset = when.astimezone(timezone.get_fixed_timezone(120)).isoformat()  # numeric offset form
    response = api.post("/v1/calls", body(sandbox_agent, scheduled_at=offset))
    assert response.status_code == 201
    data = response.json()
    assert data["status"] == "queued" and data["scheduled_at"] == when.isoformat().replace("+00:00", "Z")
    from callops.calls.jobs import sweep_scheduled_calls

    assert sweep_scheduled_calls() == 0
    call = Call.objects.get(public_id=data["id"])
    assert call.dial_claimed_at is None and not call.provider_call_id


def test_scheduled_call_is_placed_when_due(api, sandbox_agent, run_jobs):
    response = api.post("/v1/calls", body(sandbox_agent, scheduled_at=(timezone.now() + timedelta(minutes=5))
                                          .isoformat().replace("+00:00", "Z")))
    call = Call.objects.get(public_id=response.json()["id"])
    Call.objects.filter(pk=call.pk).update(scheduled_at=timezone.now() - timedelta(seconds=1))
    from callops.calls.jobs import sweep_scheduled_calls

    assert sweep_scheduled_calls() == 1
    run_jobs()
    call.refresh_from_db()
    assert call.dial_claimed_at is not None and call.provider_call_id
    assert call.events.filter(note="accepted by the provider", source="system").exists()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_provider_gives_502_and_keeps_the_call_failed(api, personas):
    account = ProviderAccount.objects.create(organization=personas.org, kind="callingbox", name="CB down",
                                             base_url=f"http://127.0.0.1:{_closed_port()}")
    account.set_credentials({"api_key": "sk_test_x"})
    account.save()
    agent = Agent.objects.create(organization=personas.org, provider_account=account, name="CB",
                                 provider_agent_id=str(uuid.uuid4()))
    response = api.post("/v1/calls", body(agent))
    assert response.status_code == 502
    data = response.json()
    assert "could not place" in data["error"]
    call = Call.objects.get(public_id=data["call_id"])
    assert call.status == CallStatus.FAILED and call.error_code and call.error_message


def test_sandbox_refused_number_gives_the_documented_502(api, sandbox_agent):
    """+12025550109: the sandbox refuses the create itself, so the 502 is seen without an account."""
    response = api.post("/v1/calls", body(sandbox_agent, to="+12025550109"))
    assert response.status_code == 502
    call = Call.objects.get()
    assert response.json() == {
        "error": "the provider could not place the call: the sandbox refuses calls to +12025550109 (the test "
                 "number for a refused placement)",
        "call_id": str(call.public_id)}
    assert (call.status, call.error_code, call.provider_call_id) == (CallStatus.FAILED, "invalid_request", "")
    assert call.error_message == "the sandbox refuses calls to +12025550109 (the test number for a refused placement)"
    # The call object reads the same failure.
    detail = api.get(f"/v1/calls/{call.public_id}").json()
    assert (detail["status"], detail["error_code"]) == ("failed", "invalid_request")


def test_idempotency_key_replays_and_never_dials_twice(api, sandbox_agent):
    first = api.post("/v1/calls", body(sandbox_agent), headers={"Idempotency-Key": "order-42"})
    again = api.post("/v1/calls", body(sandbox_agent), headers={"Idempotency-Key": "order-42"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Call.objects.count() == 1


def test_idempotency_key_with_a_different_body_is_409(api, sandbox_agent):
    api.post("/v1/calls", body(sandbox_agent), headers={"Idempotency-Key": "k1"})
    other = api.post("/v1/calls", body(sandbox_agent, to="+12025550101"), headers={"Idempotency-Key": "k1"})
    assert other.status_code == 409 and "different request" in other.json()["error"]
    assert Call.objects.count() == 1


def test_idempotency_keys_are_per_organization(api, api_outsider, sandbox_agent, personas):
    api.post("/v1/calls", body(sandbox_agent), headers={"Idempotency-Key": "shared"})
    response = api_outsider.post("/v1/calls", body(sandbox_agent), headers={"Idempotency-Key": "shared"})
    assert response.status_code == 400  # Acme's agent does not exist for Globex: no replay across orgs
    assert "agent_id" in response.json()["fields"]


def test_idempotency_expires_after_24_hours(api, sandbox_agent):
    from callops.calls.models import IdempotencyRecord

    api.post("/v1/calls", body(sandbox_agent), headers={"Idempotency-Key": "old"})
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))
    response = api.post("/v1/calls", body(sandbox_agent), headers={"Idempotency-Key": "old"})
    assert response.status_code == 201 and not response.has_header("Idempotent-Replayed")
    assert Call.objects.count() == 2


def _make_calls(personas, agent, n, **kw):
    return [services.create_call(org=personas.org, agent=agent, to_number=COMPLETED, **kw) for _ in range(n)]


def test_list_is_newest_first_with_a_stable_cursor(api, personas, sandbox_agent):
    calls = _make_calls(personas, sandbox_agent, 5)
    page1 = api.get("/v1/calls", {"limit": 2}).json()
    assert [c["id"] for c in page1["data"]] == [str(c.public_id) for c in calls[::-1][:2]]
    assert page1["has_more"] and page1["next_cursor"]
    _make_calls(personas, sandbox_agent, 3)  # new calls arrive between pages
    page2 = api.get("/v1/calls", {"limit": 2, "cursor": page1["next_cursor"]}).json()
    page3 = api.get("/v1/calls", {"limit": 2, "cursor": page2["next_cursor"]}).json()
    seen = [c["id"] for c in page1["data"] + page2["data"] + page3["data"]]
    assert seen == [str(c.public_id) for c in calls[::-1]]
    assert not page3["has_more"] and page3["next_cursor"] is None


def test_list_filters(api, personas, sandbox_agent):
    a, b, c = _make_calls(personas, sandbox_agent, 3)
    services.apply_status(a, "failed", source="poll")
    services.apply_status(b, "busy", source="poll")
    Call.objects.filter(pk=c.pk).update(to_number="+12025550188")

    def ids(params):
        response = api.get("/v1/calls", params)
        assert response.status_code == 200, response.content
        return {x["id"] for x in response.json()["data"]}

    assert ids({"status": "failed"}) == {str(a.public_id)}
    assert ids({"status": "failed,busy"}) == {str(a.public_id), str(b.public_id)}
    assert ids({"status": ["failed", "busy"]}) == {str(a.public_id), str(b.public_id)}
    assert ids({"to": "+12025550188"}) == {str(c.public_id)}
    assert ids({"agent_id": str(sandbox_agent.public_id)}) == {str(x.public_id) for x in (a, b, c)}
    assert ids({"provider": "bolna"}) == set()
    assert ids({"created_after": (timezone.now() + timedelta(minutes=1)).isoformat().replace("+00:00", "Z")}) == set()
    assert len(ids({"created_before": (timezone.now() + timedelta(minutes=1)).isoformat()})) == 3


@pytest.mark.parametrize("params,field", [({"status": "exploded"}, "status"), ({"limit": 101}, "limit"),
                                          ({"limit": 0}, "limit"), ({"cursor": "garbage"}, "cursor"),
                                          ({"agent_id": "x"}, "agent_id"), ({"created_after": "soon"}, "created_after"),
                                          ({"result_status": "meh"}, "result_status")])
def test_bad_list_parameters_get_400(api, params, field):
    response = api.get("/v1/calls", params)
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]


def test_list_never_shows_other_orgs_calls(api_outsider, personas, sandbox_agent):
    _make_calls(personas, sandbox_agent, 2)
    assert api_outsider.get("/v1/calls").json()["data"] == []


def test_read_call_with_timeline(api, personas, sandbox_agent):
    (call,) = _make_calls(personas, sandbox_agent, 1)
    services.apply_status(call, "ringing", source="callback", raw_status="ringing")
    services.apply_status(call, "initiated", source="poll", raw_status="initiated")
    data = api.get(f"/v1/calls/{call.public_id}").json()
    assert [(e["status"], e["ignored"]) for e in data["timeline"]] == [
        ("queued", False), ("ringing", False), ("initiated", True)]
    assert data["timeline"][2]["raw_status"] == "initiated" and data["timeline"][2]["source"] == "poll"


def test_unknown_and_foreign_ids_are_404(api, api_outsider, personas, sandbox_agent):
    (call,) = _make_calls(personas, sandbox_agent, 1)
    missing = uuid.uuid4()
    assert api.get(f"/v1/calls/{missing}").json() == {"error": f"call {missing} not found"}
    for path in (f"/v1/calls/{call.public_id}",):
        response = api_outsider.get(path)
        assert response.status_code == 404
        assert response.json() == {"error": f"call {call.public_id} not found"}
    for path in (f"/v1/calls/{call.public_id}/cancel", f"/v1/calls/{call.public_id}/extract"):
        assert api_outsider.post(path).status_code == 404
    assert api_outsider.get(f"/v1/agents/{sandbox_agent.public_id}").status_code == 404
    call.refresh_from_db()
    assert call.status == "queued"


def test_cancel_before_answer_and_409_after(api, personas, sandbox_agent):
    queued, live = _make_calls(personas, sandbox_agent, 2)
    response = api.post(f"/v1/calls/{queued.public_id}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "canceled"
    queued.refresh_from_db()
    assert queued.dial_claimed_at is not None  # nobody can dial it any more
    services.apply_status(live, "in_progress", source="poll")
    response = api.post(f"/v1/calls/{live.public_id}/cancel")
    assert response.status_code == 409 and "can no longer be canceled" in response.json()["error"]


def test_cancel_a_placed_sandbox_call(api, sandbox_agent, clock):
    created = api.post("/v1/calls", body(sandbox_agent, to="+12025550106")).json()  # long call
    assert created["status"] == "queued"
    response = api.post(f"/v1/calls/{created['id']}/cancel")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "canceled"


def test_agents_list(api, sandbox_agent, personas, api_outsider):
    data = api.get("/v1/agents").json()["data"]
    assert data[0]["id"] == str(sandbox_agent.public_id) and data[0]["provider"] == "sandbox"
    assert api_outsider.get("/v1/agents").json()["data"] == []


def _down_agent(personas):
    account = ProviderAccount.objects.create(organization=personas.org, kind="callingbox", name="CB down",
                                             base_url=f"http://127.0.0.1:{_closed_port()}")
    account.set_credentials({"api_key": "sk_test_x"})
    account.save()
    return Agent.objects.create(organization=personas.org, provider_account=account, name="CB",
                                provider_agent_id=str(uuid.uuid4()))


def test_idempotent_retry_after_a_502_replays_it_and_never_dials_again(api, personas):
    agent = _down_agent(personas)
    first = api.post("/v1/calls", body(agent), headers={"Idempotency-Key": "flaky-1"})
    again = api.post("/v1/calls", body(agent), headers={"Idempotency-Key": "flaky-1"})
    assert first.status_code == again.status_code == 502
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert Call.objects.count() == 1  # the provider may have received the first request: no second call


def test_an_interrupted_idempotent_request_is_reported_not_repeated(api, sandbox_agent, personas):
    from callops.calls.models import IdempotencyRecord

    api.post("/v1/calls", body(sandbox_agent), headers={"Idempotency-Key": "cut"})
    # As if the process died before storing the answer.
    IdempotencyRecord.objects.update(response_status=None, response_body=None)
    busy = api.post("/v1/calls", body(sandbox_agent), headers={"Idempotency-Key": "cut"})
    assert busy.status_code == 409 and "still being processed" in busy.json()["error"]
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    stalled = api.post("/v1/calls", body(sandbox_agent), headers={"Idempotency-Key": "cut"})
    assert stalled.status_code == 409 and "interrupted" in stalled.json()["error"]
    assert Call.objects.count() == 1


def test_deeply_nested_json_is_a_400_with_or_without_idempotency_key(api, sandbox_agent):
    nested = "[" * 600 + "]" * 600
    raw = json.dumps({"agent_id": str(sandbox_agent.public_id), "to": COMPLETED, "context": {"deep": "X"}})
    raw = raw.replace('"X"', nested)
    for headers in ({}, {"Idempotency-Key": "deep"}):
        r = api.client.post("/v1/calls", raw, content_type="application/json",
                            headers={"Authorization": f"Bearer {api.secret}", **headers})
        assert r.status_code == 400, r.content
        assert "nested too deeply" in r.json()["error"] or "not valid JSON" in r.json()["error"]
    assert not Call.objects.exists()


@pytest.mark.parametrize("value", ["9999-12-31T23:00:00-05:00", "10000-01-01T00:00:00Z", "0001-01-01T00:30:00+01:00"])
def test_times_outside_the_storable_range_are_400(api, sandbox_agent, value):
    response = api.post("/v1/calls", body(sandbox_agent, scheduled_at=value))
    assert response.status_code == 400 and "scheduled_at" in response.json()["fields"]
    listing = api.get("/v1/calls", {"created_after": value})
    assert listing.status_code == 400 and "created_after" in listing.json()["fields"]
    assert not Call.objects.exists()


def test_webhook_url_longer_than_the_column_is_a_400(api, sandbox_agent):
    url = "https://hooks.example.com/" + "a" * 2000
    response = api.post("/v1/calls", body(sandbox_agent, webhook_url=url))
    assert response.status_code == 400 and "limit is 2000" in response.json()["fields"]["webhook_url"]
    assert not Call.objects.exists()


def test_an_immediate_call_is_created_holding_its_dial_claim(api, sandbox_agent, monkeypatch):
    # No separate claim step after the row commits: there is no moment at which a sweep or a
    # retry could find the row unclaimed and dial it behind the caller's back.
    from callops.calls.jobs import sweep_scheduled_calls

    def no_second_step(call):
        raise AssertionError("an immediate API call must not be claimed after it was created")

    monkeypatch.setattr(services, "claim_for_dialing", no_second_step)
    data = api.post("/v1/calls", body(sandbox_agent)).json()
    call = Call.objects.get(public_id=data["id"])
    created = call.events.get(note="created")
    assert call.dial_claimed_at is not None and call.dial_claimed_at <= created.created_at + timedelta(seconds=1)
    assert sweep_scheduled_calls() == 0
    assert call.events.filter(note="accepted by the provider").count() == 1

def test_list_filters_by_batch_result_webhook_status_and_time(api, personas, sandbox_agent):
    from callops.batches.models import Batch

    batch = Batch.objects.create(organization=personas.org, agent=sandbox_agent, name="spring")
    a, b, c = _make_calls(personas, sandbox_agent, 3)
    Call.objects.filter(pk=a.pk).update(batch=batch, result_status="failed", webhook_status="delivered")
    Call.objects.filter(pk=b.pk).update(result_status="completed", webhook_status="failed",
                                        created_at=timezone.now() - timedelta(days=2))

    def ids(params):
        response = api.get("/v1/calls", params)
        assert response.status_code == 200, response.content
        return {x["id"] for x in response.json()["data"]}

    assert ids({"batch_id": str(batch.public_id)}) == {str(a.public_id)}
    assert ids({"result_status": "failed"}) == {str(a.public_id)}
    assert ids({"result_status": "failed,completed"}) == {str(a.public_id), str(b.public_id)}
    assert ids({"webhook_status": "failed"}) == {str(b.public_id)}
    assert ids({"provider": "sandbox", "status": "queued"}) == {str(x.public_id) for x in (a, b, c)}
    day_ago = (timezone.now() - timedelta(days=1)).isoformat()
    assert ids({"created_after": day_ago}) == {str(a.public_id), str(c.public_id)}
    assert ids({"created_before": day_ago}) == {str(b.public_id)}
    assert ids({"batch_id": str(uuid.uuid4())}) == set()


def test_a_listed_call_is_the_same_object_as_the_single_read(api, personas, sandbox_agent):
    from callops.batches.models import Batch

    batch = Batch.objects.create(organization=personas.org, agent=sandbox_agent, name="spring")
    first = services.create_call(org=personas.org, agent=sandbox_agent, to_number=COMPLETED, context={"name": "Ann"},
                                 metadata={"crm": [1, 2]}, returns={"ok": "boolean"})
    retry = services.create_call(org=personas.org, agent=sandbox_agent, to_number=COMPLETED, batch=batch,
                                 retry_of=first, attempt=2)
    services.apply_status(first, "completed", source="poll", fields={"answered_by": "human"})
    Call.objects.filter(pk=first.pk).update(result={"ok": True}, result_status="completed")
    listed = {c["id"]: c for c in api.get("/v1/calls").json()["data"]}
    for call in (first, retry):
        single = api.get(f"/v1/calls/{call.public_id}").json()
        single.pop("timeline")
        assert listed[str(call.public_id)] == single
    assert listed[str(retry.public_id)]["retry_of"] == str(first.public_id)
    assert listed[str(retry.public_id)]["batch_id"] == str(batch.public_id)
    assert listed[str(first.public_id)]["metadata"] == {"crm": [1, 2]}
