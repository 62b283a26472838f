"""Every list under /v1/ pages with starting_after / ending_before as the CallingBox SDK does,
refuses query parameters it does not know, and every answer under /v1/ is JSON (414, 415)."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from callops.calls import services as calls
from callops.calls.models import Agent, Call, EventSource

N = 7


def _age(model, objs):
    """Distinct creation times, newest first in the order given, so the expected order is plain."""
    now = timezone.now()
    for i, obj in enumerate(objs):
        model.objects.filter(pk=obj.pk).update(created_at=now - timedelta(minutes=i + 1))


def _calls(org, agent, n=N):
    made = [calls.create_call(org=org, agent=agent, to_number="+14155550123", source=EventSource.API)
            for _ in range(n)]
    _age(Call, made)
    return made


def _expected(qs):
    return [str(pid) for pid in qs.order_by("-created_at", "-id").values_list("public_id", flat=True)]


def _build(kind, personas, agent):
    """(url, the ids the list must answer, newest first) for one list with N or more rows."""
    org = personas.org
    if kind == "calls":
        _calls(org, agent)
        return "/v1/calls", _expected(Call.objects.filter(organization=org))
    if kind == "agents":
        made = [Agent.objects.create(organization=org, provider_account=agent.provider_account, name=f"a{i}")
                for i in range(N)]
        _age(Agent, made)
        return "/v1/agents", _expected(Agent.objects.filter(organization=org, is_active=True))
    if kind in ("batches", "batch_calls"):
        from callops.batches import recipient_lists
        from callops.batches import services as batches
        from callops.batches.batch_settings import clean_settings
        from callops.batches.models import Batch

        made = [batches.create_batch(org=org, agent=agent, settings=clean_settings({}, agent=agent),
                                     rows=recipient_lists.rows_from_json(["+14155550123"]), columns=["phone"],
                                     start=False) for _ in range(N)]
        _age(Batch, made)
        if kind == "batches":
            return "/v1/batches", _expected(Batch.objects.filter(organization=org))
        batch = made[0]
        Call.objects.filter(pk__in=[c.pk for c in _calls(org, agent)]).update(batch=batch)
        _calls(org, agent, 2)  # calls of no batch stay out of the batch's list
        return f"/v1/batches/{batch.public_id}/calls", _expected(Call.objects.filter(batch=batch))
    if kind == "numbers":
        from callops.providers.models import PhoneNumber

        made = [PhoneNumber.objects.create(organization=org, provider_account=agent.provider_account,
                                           e164=f"+1202555019{i}", number_type="local",
                                           purchased_at=timezone.now(), created_at=timezone.now())
                for i in range(N)]
        _age(PhoneNumber, made)
        return "/v1/numbers", _expected(PhoneNumber.objects.filter(organization=org))
    from callops.webhooks import services as webhooks
    from callops.webhooks.models import RecoveryJob, WebhookDelivery, WebhookEndpoint

    if kind == "webhook_endpoints":
        made = [webhooks.create_endpoint(org, {"url": f"http://127.0.0.1:9/hook{i}"})[0] for i in range(N)]
        _age(WebhookEndpoint, made)
        return "/v1/webhook_endpoints", _expected(WebhookEndpoint.objects.filter(organization=org))
    endpoint, _ = webhooks.create_endpoint(org, {"url": "http://127.0.0.1:9/hook"})
    if kind == "webhook_deliveries":
        _calls(org, agent)
        deliveries = list(WebhookDelivery.objects.filter(organization=org))
        assert len(deliveries) >= N
        _age(WebhookDelivery, deliveries)
        return "/v1/webhook_deliveries", _expected(WebhookDelivery.objects.filter(organization=org))
    assert kind == "webhook_recoveries"
    made = [webhooks.start_recovery(org, since=timezone.now() - timedelta(hours=1), endpoint=endpoint)
            for _ in range(N)]
    _age(RecoveryJob, made)
    return "/v1/webhook_recoveries", _expected(RecoveryJob.objects.filter(organization=org))


LISTS = ["calls", "agents", "numbers", "batches", "batch_calls", "webhook_endpoints", "webhook_deliveries",
         "webhook_recoveries"]


@pytest.mark.parametrize("kind", LISTS)
def test_forward_and_backward_pages(kind, api, api_outsider, personas, sandbox_agent):
    url, ids = _build(kind, personas, sandbox_agent)
    n = len(ids)
    assert n >= N

    # Forward: starting_after the last id of each page, exactly as the SDK's iter_pages does.
    pages, after = [], None
    for _ in range(n):  # bounded: a server that ignores starting_after would loop forever
        params = {"limit": 3, **({"starting_after": after} if after else {})}
        response = api.get(url, params)
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["object"] == "list"
        got = [row["id"] for row in body["data"]]
        pages.append(got)
        if not body["has_more"]:
            break
        after = got[-1]
    assert pages == [ids[i:i + 3] for i in range(0, n, 3)]

    # Backward from the oldest row: the page just newer than it, still newest first.
    response = api.get(url, {"limit": 3, "ending_before": ids[-1]})
    body = response.json()
    assert [r["id"] for r in body["data"]] == ids[n - 4:n - 1]
    assert body["has_more"] is (n - 1 > 3)
    # From the newest row there is nothing newer.
    body = api.get(url, {"limit": 3, "ending_before": ids[0]}).json()
    assert body["data"] == [] and body["has_more"] is False
    # Backward until the start, the way iter_pages(ending_before=...) walks.
    before, seen = ids[-1], []
    for _ in range(n):
        body = api.get(url, {"limit": 3, "ending_before": before}).json()
        seen = [r["id"] for r in body["data"]] + seen
        if not body["has_more"] or not body["data"]:
            break
        before = body["data"][0]["id"]
    assert seen == ids[:-1]

    # The old cursor still works beside them.
    first = api.get(url, {"limit": 3}).json()
    assert first["next_cursor"] and first["has_more"]
    second = api.get(url, {"limit": 3, "cursor": first["next_cursor"]}).json()
    assert [r["id"] for r in second["data"]] == ids[3:6]

    # Another organization's id, or no object at all, is a 400 naming the parameter.
    for name in ("starting_after", "ending_before"):
        if "batches/" not in url:  # (another organization cannot see the batch at all: 404)
            response = api_outsider.get(url, {name: ids[0]})
            assert response.status_code == 400, response.content
            assert response.json() == {
                "error": f"{name} must be the id of an object in this list; {ids[0]} was not found",
                "fields": {name: "no such object in this organization"}}
        response = api.get(url, {name: "00000000-0000-4000-8000-000000000000"})
        assert response.status_code == 400 and name in response.json()["error"]
        response = api.get(url, {name: "not-an-id"})
        assert response.status_code == 400 and response.json()["fields"] == {name: "no such object in this organization"}
    response = api.get(url, {"starting_after": ids[0], "ending_before": ids[1]})
    assert response.status_code == 400
    assert response.json() == {"error": "pass only one of starting_after, ending_before",
                               "fields": {"ending_before": "conflicts"}}


@pytest.mark.parametrize("url", ["/v1/calls", "/v1/agents", "/v1/numbers", "/v1/batches", "/v1/webhook_endpoints",
                                 "/v1/webhook_deliveries", "/v1/webhook_recoveries"])
def test_unknown_query_parameter_is_400(api, url):
    response = api.get(url, {"limit": 2, "foo": "1"})
    assert response.status_code == 400
    assert response.json() == {"error": "unknown query parameter: foo", "fields": {"foo": "unknown query parameter"}}


def test_unknown_query_parameter_on_reads(api, sandbox_agent):
    call = _calls(sandbox_agent.organization, sandbox_agent, 1)[0]
    for url in (f"/v1/calls/{call.public_id}", f"/v1/agents/{sandbox_agent.public_id}"):
        response = api.get(url, {"expand": "timeline"})
        assert response.status_code == 400, url
        assert response.json() == {"error": "unknown query parameter: expand",
                                   "fields": {"expand": "unknown query parameter"}}
    # A path parameter is not a query parameter.
    response = api.get(f"/v1/calls/{call.public_id}", {"call_id": str(call.public_id)})
    assert response.json()["error"] == "unknown query parameter: call_id"
    assert api.get(f"/v1/calls/{call.public_id}").status_code == 200


@pytest.fixture
def sdk(db, api):
    """The official callingbox SDK, talking to the real WSGI app in process."""
    import httpx
    from callingbox import Callingbox
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    from callops.wsgi import application

    # As Django's test client does: the test's transaction must survive each in-process request.
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    client = Callingbox(api_key=api.secret, base_url="http://testserver")
    client._http = httpx.Client(transport=httpx.WSGITransport(app=application), base_url="http://testserver",
                                headers=dict(client._http.headers))
    yield client
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


def test_sdk_iter_calls_pages_to_the_end(sdk, personas, sandbox_agent):
    made = _calls(personas.org, sandbox_agent)
    ids = [str(c.public_id) for c in made]  # created newest first by _age
    requests = []
    unbounded = sdk.calls.list

    def bounded(**kw):
        # Against a server that ignores starting_after, iter_calls never ends: stop it here.
        requests.append(kw)
        assert len(requests) <= 10, "iter_calls did not stop"
        return unbounded(**kw)

    sdk.calls.list = bounded
    assert [c.id for c in sdk.calls.iter_calls(limit=3)] == ids
    assert len(requests) == 3
    # Backward from the oldest: every newer call, newest first.
    requests.clear()
    assert [c.id for c in sdk.calls.iter_calls(limit=3, ending_before=ids[-1])] == ids[:-1]
    first = sdk.calls.list(limit=3)
    assert [c.id for c in first] == ids[:3] and first.has_more


def test_over_long_url_is_json_414(api):
    response = api.get("/v1/calls", {"agent_id": "x" * 5000})
    assert response.status_code == 414
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"error": "the URL is 5019 characters long; the limit is 4094"}


def test_non_json_body_is_json_415(api, sandbox_agent):
    headers = {"Authorization": f"Bearer {api.secret}"}
    response = api.client.post("/v1/calls", "agent_id=x&to=y", content_type="application/x-www-form-urlencoded",
                               headers=headers)
    assert response.status_code == 415
    assert response.json() == {"error": "Content-Type application/x-www-form-urlencoded is not supported; "
                                        "send application/json"}
    response = api.client.post("/v1/batches", "phone\n+14155550123\n", content_type="text/csv", headers=headers)
    assert response.status_code == 415
    assert response.json() == {"error": "Content-Type text/csv is not supported; "
                                        "send application/json or multipart/form-data"}
    # JSON with a charset, or a +json type, is JSON; no body needs no type.
    body = json.dumps({"agent_id": str(sandbox_agent.public_id), "to": "+12025550100"})
    response = api.client.post("/v1/calls", body, content_type="application/json; charset=utf-8", headers=headers)
    assert response.status_code == 201, response.content
    assert api.client.post("/v1/calls/00000000-0000-4000-8000-000000000000/cancel", b"", headers=headers,
                           content_type="text/plain").status_code == 404
    assert not Call.objects.filter(to_number="+14155550123").exists()


def test_empty_patch_is_400(api, personas):
    from callops.webhooks import services as webhooks

    endpoint, _ = webhooks.create_endpoint(personas.org, {"url": "http://127.0.0.1:9/hook"})
    response = api.client.patch(f"/v1/webhook_endpoints/{endpoint.public_id}", b"", content_type="application/json",
                                headers={"Authorization": f"Bearer {api.secret}"})
    assert response.status_code == 400
    assert response.json() == {"error": "request body is required: a JSON object of the fields to change",
                               "fields": {"body": "is required"}}
    assert api.patch(f"/v1/webhook_endpoints/{endpoint.public_id}", {"description": "ops"}).status_code == 200


def test_batch_responses_match_their_declared_models(api, sandbox_agent, clock):
    """The seven batch responses the OpenAPI document now types (they were bare objects)."""
    from callops.api import schemas

    body = {"agent_id": str(sandbox_agent.public_id), "recipients": ["+14155550123", {"phone": "+14155550124"}, "x"],
            "window": {"start_hour": 9, "end_hour": 18, "days": [1, 2, 3, 4, 5]},
            "circuit_breaker": {"threshold": 0.4, "min_calls": 10, "window_seconds": 120}}
    preview = api.post("/v1/batches", {**body, "dry_run": True})
    assert preview.status_code == 200, preview.content
    schemas.BatchPreviewOut.model_validate(preview.json())
    created = api.post("/v1/batches", body)
    assert created.status_code == 201, created.content
    schemas.BatchCreatedOut.model_validate(created.json())
    batch_id = created.json()["id"]
    schemas.BatchDetailOut.model_validate(api.get(f"/v1/batches/{batch_id}").json())
    schemas.BatchListOut.model_validate(api.get("/v1/batches").json())
    for action in ("pause", "resume", "stop"):
        response = api.post(f"/v1/batches/{batch_id}/{action}")
        assert response.status_code in (200, 409), response.content
        if response.status_code == 200:
            schemas.BatchDetailOut.model_validate(response.json())
    doc = api.get("/v1/openapi.json").json()
    create = doc["paths"]["/v1/batches"]["post"]
    assert create["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/BatchCreatedOut"}
    recipients = create["requestBody"]["content"]["application/json"]["schema"]["properties"]["recipients"]
    assert recipients["items"]["anyOf"][0] == {"type": "string", "minLength": 1}
