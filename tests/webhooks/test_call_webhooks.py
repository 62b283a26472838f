"""Per-call webhooks over real HTTP: the call's webhook_status follows its latest delivery, the
agent's default URL is used, and a call sends exactly one terminal webhook however its terminal
reports arrive."""

import json
import threading

import pytest
from django.db import connection
from standardwebhooks import Webhook

from callops.calls import services as calls
from callops.calls.models import Call, EventSource
from callops.webhooks import delivery, services
from callops.webhooks.events import CALL_EVENT_TYPES
from callops.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEvent
from tests.lib.sink import Reply

TERMINAL_TYPES = {"call.completed", "call.no_answer", "call.busy", "call.canceled", "call.failed"}


def _status(call):
    return Call.objects.values_list("webhook_status", "webhook_error").get(pk=call.pk)


def test_webhook_status_follows_the_latest_delivery(personas, sink, make_call, run_jobs):
    sink.respond(Reply(status=410, body=b"gone for now"))
    call = make_call(webhook_url=sink.url)
    run_jobs()
    status, error = _status(call)
    assert status == "failed" and error.startswith("HTTP 410")
    # A new event: its delivery is pending the moment it is created, whatever the last one did.
    calls.apply_status(call, "ringing", source=EventSource.POLL)
    assert _status(call) == ("pending", "")
    run_jobs()
    assert _status(call) == ("delivered", "")
    # The terminal event fails once (retry pending), then succeeds: retrying with the error, then delivered.
    sink.respond(default=Reply(status=503))
    calls.apply_status(call, "in_progress", source=EventSource.POLL)
    calls.apply_status(call, "completed", source=EventSource.POLL)
    run_jobs()
    status, error = _status(call)
    assert status == "retrying" and error.startswith("HTTP 503")
    latest = WebhookDelivery.objects.filter(call=call, endpoint__isnull=True).latest("id")
    assert latest.event.type == "call.completed"
    sink.respond(default=Reply(status=200))
    WebhookDelivery.objects.filter(pk=latest.pk).update(next_attempt_at=latest.created_at)
    assert delivery.deliver_due() == 1
    assert _status(call) == ("delivered", "")  # not stuck at the first event's failure
    # Re-sending the old failed event (and failing again) leaves the latest state alone.
    sink.respond(Reply(status=500))
    services.redeliver(WebhookDelivery.objects.filter(call=call, endpoint__isnull=True).earliest("id"))
    run_jobs()
    assert _status(call) == ("delivered", "")


def test_agent_default_webhook_url_is_used_and_signed_with_the_org_secret(personas, sandbox_agent, sink,
                                                                         run_jobs):
    sandbox_agent.webhook_url = sink.url
    sandbox_agent.save(update_fields=["webhook_url"])
    call = calls.create_call(org=personas.org, agent=sandbox_agent, to_number="+14155550100")
    assert call.webhook_url == sink.url and _status(call)[0] == "pending"
    run_jobs()
    got = sink.requests[0]
    payload = Webhook(services.reveal_org_secret(personas.org)).verify(got.body, got.headers)
    assert payload["type"] == "call.queued" and payload["data"]["call"]["id"] == str(call.public_id)
    assert _status(call) == ("delivered", "")
    # A per-call URL given at creation wins over the agent's.
    other = calls.create_call(org=personas.org, agent=sandbox_agent, to_number="+14155550101",
                              webhook_url=f"{sink.url}?per-call=1")
    assert other.webhook_url.endswith("?per-call=1")


@pytest.mark.django_db(transaction=True)
def test_exactly_one_terminal_webhook_under_raced_and_duplicated_reports(personas, sandbox_agent, sink, run_jobs):
    ep, secret = services.create_endpoint(personas.org, {"url": sink.url})
    call = calls.create_call(org=personas.org, agent=sandbox_agent, to_number="+14155550100")
    calls.apply_status(call, "in_progress", source=EventSource.CALLBACK)
    reports = ["completed", "completed", "failed", "no_answer", "busy", "completed", "canceled", "failed"]
    barrier = threading.Barrier(len(reports), timeout=10)
    errors = []

    def report(status):
        try:
            barrier.wait()
            calls.apply_status(call.pk, status, source=EventSource.CALLBACK)
        except Exception as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=report, args=(s,)) for s in reports]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    # Duplicates arriving later (a provider retrying its callback) change nothing either.
    calls.apply_status(call.pk, "completed", source=EventSource.CALLBACK)
    calls.apply_status(call.pk, "failed", source=EventSource.POLL)
    terminal = WebhookEvent.objects.filter(call_id=call.pk, type__in=TERMINAL_TYPES)
    assert terminal.count() == 1
    run_jobs()
    received = [Webhook(secret).verify(r.body, r.headers)["type"] for r in sink.requests]
    assert sorted(t for t in received if t in TERMINAL_TYPES) == [terminal.get().type]
    final = Call.objects.get(pk=call.pk).status
    assert terminal.get().type == f"call.{final}"
    assert set(received) <= set(CALL_EVENT_TYPES)
    assert json.loads(sink.requests[-1].body)["data"]["call"]["status"] == final
    assert WebhookDelivery.objects.filter(endpoint=ep, status=DeliveryStatus.DELIVERED).count() == len(received)



@pytest.mark.django_db
def test_call_events_reach_webhooks_only_through_the_subscription(personas, sandbox_agent):
    """calls announces (callops.calls.signals); the webhooks app's receiver makes the event."""
    from callops.calls import services
    from callops.calls.models import Call
    from callops.calls.signals import call_event
    from callops.webhooks.events import on_call_event
    from callops.webhooks.models import WebhookEvent

    first = services.create_call(org=personas.org, agent=sandbox_agent, to_number="+14155550123")
    assert list(WebhookEvent.objects.filter(call=first).values_list("type", flat=True)) == ["call.queued"]
    assert call_event.disconnect(sender=Call, dispatch_uid="webhooks.call_event")
    try:
        second = services.create_call(org=personas.org, agent=sandbox_agent, to_number="+14155550124")
    finally:
        call_event.connect(on_call_event, sender=Call, dispatch_uid="webhooks.call_event")
    assert not WebhookEvent.objects.filter(call=second).exists()
