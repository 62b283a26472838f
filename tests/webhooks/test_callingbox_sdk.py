"""The official CallingBox SDK (callingbox 0.1.0) against a live callops: every webhook method with
the field values it parses, and real deliveries verified by both the SDK's `construct_event` and the
Standard Webhooks reference verifier, before and during a secret rotation."""

import pytest
from callingbox import Callingbox
from callingbox._exceptions import BadRequestError, NotFoundError
from callingbox.resources.webhooks import Webhooks
from standardwebhooks import Webhook

from callops.accounts import services as accounts
from callops.webhooks.models import WebhookEndpoint
from tests.lib.sink import Reply

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def cb(live_server, personas, short_db_connections):
    _, secret = accounts.create_api_key(personas.org, "sdk")
    with Callingbox(api_key=secret, base_url=live_server.url) as client:
        yield client


def test_endpoint_methods(cb, personas, sink):
    created = cb.webhooks.create_endpoint(sink.url, description="crm", enabled_events=["call.*"])
    assert created.signing_secret.startswith("whsec_")
    assert WebhookEndpoint.objects.get(public_id=created.id).secret == created.signing_secret
    assert created.org_id == str(personas.org.public_id) and created.url == sink.url
    assert (created.status, created.disabled_reason, created.disabled_at) == ("enabled", None, None)
    assert created.consecutive_failures == 0 and created.description == "crm"
    assert created.enabled_events == ["call.*"] and created.created_at and created.updated_at

    listed = cb.webhooks.list_endpoints()
    assert [e.id for e in listed] == [created.id] and listed[0].signing_secret is None
    got = cb.webhooks.get_endpoint(created.id)
    assert (got.url, got.description, got.org_id, got.signing_secret) == (sink.url, "crm", created.org_id, None)

    other = sink.url.rstrip("/") + "/other"
    updated = cb.webhooks.update_endpoint(created.id, url=other, description="new", enabled_events=["call.completed"])
    assert (updated.url, updated.description, updated.enabled_events) == (other, "new", ["call.completed"])
    assert updated.updated_at >= created.updated_at

    disabled = cb.webhooks.update_endpoint(created.id, status="disabled")
    assert disabled.status == "disabled" and disabled.disabled_reason == "disabled by API key sdk"
    assert disabled.disabled_at
    enabled = cb.webhooks.update_endpoint(created.id, status="enabled")
    assert (enabled.status, enabled.disabled_reason, enabled.disabled_at) == ("enabled", None, None)
    with pytest.raises(BadRequestError, match="status"):
        cb.webhooks.update_endpoint(created.id, status="paused-ish")

    rotated = cb.webhooks.rotate_secret(created.id)
    assert rotated.signing_secret.startswith("whsec_") and rotated.signing_secret != created.signing_secret
    assert WebhookEndpoint.objects.get(public_id=created.id).signing_secrets() == [rotated.signing_secret,
                                                                                     created.signing_secret]

    assert cb.webhooks.delete_endpoint(created.id) is None
    with pytest.raises(NotFoundError):
        cb.webhooks.get_endpoint(created.id)
    assert cb.webhooks.list_endpoints() == []


def test_delivery_methods(cb, personas, sink, make_call, run_jobs):
    ep = cb.webhooks.create_endpoint(sink.url)
    call = make_call()
    run_jobs()
    other = make_call()
    run_jobs()

    deliveries = cb.webhooks.list_deliveries(endpoint_id=ep.id)
    assert len(deliveries) == 2
    [d] = cb.webhooks.list_deliveries(call_id=str(call.public_id), status="delivered")
    assert (d.org_id, d.endpoint_id, d.call_id) == (str(personas.org.public_id), ep.id, str(call.public_id))
    assert (d.event_type, d.url, d.status) == ("call.queued", sink.url, "delivered")
    assert (d.attempt_count, d.manual_retry_count, d.last_response_status, d.last_error) == (1, 0, 200, None)
    assert d.delivered_at and d.created_at and d.updated_at
    assert [x.call_id for x in cb.webhooks.list_deliveries(limit=1)] == [str(other.public_id)]
    assert cb.webhooks.list_deliveries(status="failed") == []

    assert cb.webhooks.get_delivery(d.id) == d
    asked = cb.webhooks.redeliver(d.id)
    assert asked.manual_retry_count == 1 and asked.updated_at >= d.updated_at
    run_jobs()
    again = cb.webhooks.get_delivery(d.id)
    assert (again.attempt_count, again.manual_retry_count, again.status) == (2, 1, "delivered")
    sent = [r for r in sink.requests if r.headers["callingbox-event-id"] == sink.requests[0].headers["webhook-id"]]
    assert len(sent) == 2  # the redelivery carries the same event id

    with pytest.raises(NotFoundError):
        cb.webhooks.get_delivery("00000000-0000-0000-0000-000000000000")


def test_consecutive_failures_count_until_a_success(cb, sink, make_call, run_jobs):
    ep = cb.webhooks.create_endpoint(sink.url)
    sink.respond(default=Reply(status=500))
    make_call()
    run_jobs()
    assert cb.webhooks.get_endpoint(ep.id).consecutive_failures == 1
    [d] = cb.webhooks.list_deliveries(endpoint_id=ep.id)
    assert d.status == "pending" and d.last_response_status == 500 and d.next_attempt_at
    sink.respond(default=Reply(status=200))
    cb.webhooks.redeliver(d.id)
    run_jobs()
    assert cb.webhooks.get_endpoint(ep.id).consecutive_failures == 0


def _verify_both(request, secret):
    """The delivery as each kind of receiver checks it; returns the SDK's parsed event."""
    event = Webhooks.construct_event(request.body, request.headers["callingbox-signature"], secret)
    assert Webhook(secret).verify(request.body, request.headers)["id"] == event.id
    return event


def test_one_delivery_verifies_with_both_schemes_and_during_rotation(cb, sink, make_call, run_jobs):
    ep = cb.webhooks.create_endpoint(sink.url)
    make_call()
    run_jobs()
    [first] = sink.requests
    event = _verify_both(first, ep.signing_secret)
    assert event.type == "call.queued" == first.headers["callingbox-event-type"]
    assert event.id == first.headers["webhook-id"] == first.headers["callingbox-event-id"]
    assert isinstance(event.created, int) and abs(event.created - int(first.headers["webhook-timestamp"])) < 60
    assert event.api_version == "2026-12-07" and event.data["call"]["status"] == "queued"
    assert first.headers["callingbox-signature"].startswith(f"t={first.headers['webhook-timestamp']},v1=")
    with pytest.raises(BadRequestError):
        Webhooks.construct_event(first.body, first.headers["callingbox-signature"], "whsec_" + "A" * 32)

    rotated = cb.webhooks.rotate_secret(ep.id)
    make_call()
    run_jobs()
    second = sink.requests[1]
    assert second.headers["callingbox-signature"].count("v1=") == 2
    assert len(second.headers["webhook-signature"].split(" ")) == 2
    for secret in (rotated.signing_secret, ep.signing_secret):  # the new secret and the one still in force
        assert _verify_both(second, secret).type == "call.queued"
