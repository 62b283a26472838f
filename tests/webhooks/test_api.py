"""/v1/webhook_endpoints and /v1/webhook_deliveries at the tenant boundary."""

from datetime import datetime

import pytest
from standardwebhooks import Webhook

from callops.webhooks.models import WebhookDelivery, WebhookEndpoint


@pytest.fixture
def created(api, sink):
    resp = api.post("/v1/webhook_endpoints", {"url": sink.url, "description": "ops", "enabled_events": ["call.*"]})
    assert resp.status_code == 201, resp.content
    return resp.json()


def test_create_returns_secret_once_and_stores_it_encrypted(api, created):
    assert created["secret"].startswith("whsec_") and created["status"] == "enabled"
    ep = WebhookEndpoint.objects.get(public_id=created["id"])
    assert created["secret"] not in ep.secret_encrypted and ep.secret == created["secret"]
    read = api.get(f"/v1/webhook_endpoints/{created['id']}").json()
    assert "secret" not in read and read["enabled_events"] == ["call.*"]
    listed = api.get("/v1/webhook_endpoints").json()
    assert [e["id"] for e in listed["data"]] == [created["id"]] and "secret" not in listed["data"][0]


@pytest.mark.parametrize("body,field", [
    ({"url": "ftp://x.test/"}, "url"),
    ({"url": "http://127.0.0.1:9/", "enabled_events": ["call.exploded"]}, "enabled_events"),
    ({"url": "http://127.0.0.1:9/", "enabled_events": []}, "enabled_events"),
    ({"url": "http://127.0.0.1:9/", "headers": {"Host": "x"}}, "headers"),
    ({"url": "http://127.0.0.1:9/", "headers": {"CallingBox-Signature": "x"}}, "headers"),
    ({"url": "http://127.0.0.1:9/", "headers": {"X-A": "a\r\nb"}}, "headers"),
    ({"url": "http://127.0.0.1:9/", "bogus": 1}, "bogus"),
    ({}, "url"),
])
def test_bad_input_is_400_and_writes_nothing(api, body, field):
    resp = api.post("/v1/webhook_endpoints", body)
    assert resp.status_code == 400 and field in resp.json()["fields"] and "error" in resp.json()
    assert not WebhookEndpoint.objects.exists()


def test_private_url_refused_at_save_when_not_allowed(api, settings):
    settings.OUTBOUND_ALLOW_PRIVATE = []
    resp = api.post("/v1/webhook_endpoints", {"url": "http://10.0.0.5/hook"})
    assert resp.status_code == 400 and "10.0.0.5 (private 10.0.0.0/8)" in resp.json()["error"]


def test_update_delete_rotate(api, created):
    path = f"/v1/webhook_endpoints/{created['id']}"
    resp = api.patch(path, {"description": "new", "enabled": False})
    assert resp.status_code == 200 and resp.json()["description"] == "new" and resp.json()["status"] == "disabled"
    assert api.patch(path, {"enabled": True}).json()["status"] == "enabled"
    rotated = api.post(f"{path}/rotate_secret").json()
    assert rotated["secret"] != created["secret"] and rotated["previous_secret_expires_at"]
    ep = WebhookEndpoint.objects.get(public_id=created["id"])
    assert ep.signing_secrets() == [rotated["secret"], created["secret"]]
    deleted = api.delete(path)
    assert deleted.status_code == 200
    assert deleted.json() == {"id": created["id"], "object": "webhook_endpoint", "deleted": True}
    assert api.get(path).status_code == 404


def test_signing_secret_is_the_secret(api, created):
    # `signing_secret` for the CallingBox SDK, `secret` for existing callers: one value.
    assert created["signing_secret"] == created["secret"]
    rotated = api.post(f"/v1/webhook_endpoints/{created['id']}/rotate_secret").json()
    assert rotated["signing_secret"] == rotated["secret"] != created["secret"]
    read = api.get(f"/v1/webhook_endpoints/{created['id']}").json()
    assert "signing_secret" not in read and "secret" not in read


def test_status_patch(api, created):
    path = f"/v1/webhook_endpoints/{created['id']}"
    off = api.patch(path, {"status": "disabled"}).json()
    assert (off["status"], off["enabled"], off["disabled_reason"]) == ("disabled", False, "disabled by API key tests")
    assert off["disabled_at"]
    on = api.patch(path, {"status": "enabled"}).json()
    assert (on["status"], on["disabled_reason"], on["disabled_at"], on["consecutive_failures"]) == (
        "enabled", None, None, 0)
    for body in ({"status": "paused"}, {"status": None}, {"status": "enabled", "enabled": False}):
        resp = api.patch(path, body)
        assert resp.status_code == 400 and "status" in resp.json()["fields"] and "status" in resp.json()["error"]
    assert WebhookEndpoint.objects.get(public_id=created["id"]).enabled


def test_outsider_gets_404_everywhere(api_outsider, created, api, make_call, run_jobs):
    make_call()
    run_jobs()
    d = api.get("/v1/webhook_deliveries").json()["data"][0]
    eid = created["id"]
    for method, path in [("get", f"/v1/webhook_endpoints/{eid}"), ("patch", f"/v1/webhook_endpoints/{eid}"),
                         ("delete", f"/v1/webhook_endpoints/{eid}"),
                         ("post", f"/v1/webhook_endpoints/{eid}/rotate_secret"),
                         ("get", f"/v1/webhook_deliveries/{d['id']}"),
                         ("post", f"/v1/webhook_deliveries/{d['id']}/redeliver")]:
        resp = getattr(api_outsider, method)(path)
        assert resp.status_code == 404, (method, path)
        assert "error" in resp.json()
    assert api_outsider.get("/v1/webhook_endpoints").json()["data"] == []
    assert api_outsider.get("/v1/webhook_deliveries").json()["data"] == []
    assert WebhookEndpoint.objects.get(public_id=eid).enabled


def test_read_only_key_403_on_writes(api_readonly, created):
    eid = created["id"]
    for method, path in [("post", "/v1/webhook_endpoints"), ("patch", f"/v1/webhook_endpoints/{eid}"),
                         ("delete", f"/v1/webhook_endpoints/{eid}"),
                         ("post", f"/v1/webhook_endpoints/{eid}/rotate_secret")]:
        resp = getattr(api_readonly, method)(path, {"url": "http://127.0.0.1:9/"}) if method != "delete" \
            else api_readonly.delete(path)
        assert resp.status_code == 403, (method, path)
    assert api_readonly.get(f"/v1/webhook_endpoints/{eid}").status_code == 200
    assert WebhookEndpoint.objects.count() == 1


def test_deliveries_list_read_and_redeliver(api, created, sink, make_call, run_jobs):
    call = make_call()
    run_jobs()
    listed = api.get("/v1/webhook_deliveries", {"call_id": str(call.public_id), "status": "delivered"}).json()
    assert len(listed["data"]) == 1
    did = listed["data"][0]["id"]
    detail = api.get(f"/v1/webhook_deliveries/{did}").json()
    assert detail["attempts"][0]["response_status"] == 200 and detail["payload"]["type"] == "call.queued"
    envelope = detail["payload"]
    assert list(envelope) == ["id", "type", "created", "api_version", "timestamp", "data"]
    assert isinstance(envelope["created"], int) and envelope["api_version"] == "2026-12-07"
    assert datetime.fromisoformat(envelope["timestamp"]).timestamp() // 1 == envelope["created"]
    assert detail["manual_retry_count"] == 0 and detail["org_id"] and detail["updated_at"]
    resp = api.post(f"/v1/webhook_deliveries/{did}/redeliver")
    assert resp.status_code == 202 and resp.json()["manual_retry_count"] == 1
    run_jobs()
    detail = api.get(f"/v1/webhook_deliveries/{did}").json()
    assert [a["trigger"] for a in detail["attempts"]] == ["auto", "manual"]
    assert [a["number"] for a in detail["attempts"]] == [1, 2]
    assert sink.requests[0].headers["webhook-id"] == sink.requests[1].headers["webhook-id"]
    Webhook(created["secret"]).verify(sink.requests[1].body, sink.requests[1].headers)
    assert api.get("/v1/webhook_deliveries", {"status": "nope"}).status_code == 400
    assert api.get("/v1/webhook_deliveries", {"endpoint_id": "x"}).status_code == 400


def test_recover_dry_run_then_background(api, created, sink, make_call, run_jobs):
    from tests.lib.sink import Reply

    sink.respond(default=Reply(status=410))
    make_call()
    run_jobs()  # 410 disables the endpoint
    make_call()
    make_call()  # two skipped while disabled
    assert WebhookDelivery.objects.filter(status="skipped").count() == 2
    sink.respond(default=Reply(status=200))
    api.patch(f"/v1/webhook_endpoints/{created['id']}", {"enabled": True})
    path = f"/v1/webhook_endpoints/{created['id']}/recover"
    count = api.post(path, {"since": "2000-01-01T00:00:00Z", "dry_run": True}).json()
    assert count["count"] == 3
    job = api.post(path, {"since": "2000-01-01T00:00:00Z"})
    assert job.status_code == 202 and job.json()["total"] == 3
    run_jobs()
    progress = api.get(f"/v1/webhook_recoveries/{job.json()['id']}").json()
    assert progress["status"] == "done" and progress["done"] == 3
    assert WebhookDelivery.objects.filter(status="delivered").count() == 3
    assert not WebhookDelivery.objects.filter(manual_retry_count__gt=0).exists()  # bulk re-sends are not counted
    assert api.post(path, {"since": "2000-01-01T00:00:00Z", "dry_run": True}).json()["count"] == 0
    assert api.post(path, {}).status_code == 400


def test_send_test_event(api, created, sink, run_jobs):
    resp = api.post(f"/v1/webhook_endpoints/{created['id']}/test")
    assert resp.status_code == 202
    run_jobs()
    got = sink.requests[0]
    assert Webhook(created["secret"]).verify(got.body, got.headers)["type"] == "webhook.test"
    detail = api.get(f"/v1/webhook_deliveries/{resp.json()['id']}").json()
    assert detail["status"] == "delivered" and detail["event_type"] == "webhook.test"


def test_default_event_filter_is_everything(api, sink):
    resp = api.post("/v1/webhook_endpoints", {"url": sink.url})
    assert resp.json()["enabled_events"] == ["*"]
    assert WebhookEndpoint.objects.get(public_id=resp.json()["id"]).enabled_events == ["*"]
