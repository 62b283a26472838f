"""A call's webhook state covers all its deliveries: the per-call URL and every endpoint, the latest
delivery per destination, the worst of them shown (failed > retrying > pending > delivered)."""

from django.apps import apps
from django.utils import timezone

from callops.calls.models import Call
from callops.webhooks import services
from callops.webhooks.call_summary import summarize
from callops.webhooks.models import DeliveryStatus, WebhookDelivery
from tests.lib.sink import Reply


def _state(call):
    return Call.objects.values_list("webhook_status", "webhook_error").get(pk=call.pk)


def test_rule_latest_delivery_per_destination_worst_destination_wins():
    # (id, endpoint_id, status, attempt_count, last_error)
    assert summarize([]) == ("", "")
    assert summarize([(1, None, "delivered", 1, "")]) == ("delivered", "")
    assert summarize([(1, None, "pending", 0, "")]) == ("pending", "")
    # An older failure at a destination is superseded by its newer delivery.
    assert summarize([(1, 7, "failed", 8, "HTTP 500"), (2, 7, "delivered", 1, "")]) == ("delivered", "")
    # Across destinations the worst wins: failed > retrying > pending > delivered.
    rows = [(1, None, "delivered", 1, ""), (2, 7, "pending", 2, "HTTP 503"), (3, 8, "pending", 0, "")]
    assert summarize(rows) == ("retrying", "HTTP 503")
    assert summarize([*rows, (4, 9, "skipped", 0, "endpoint disabled")]) == ("failed", "endpoint disabled")
    assert summarize([*rows, (4, 9, "failed", 8, "HTTP 404")]) == ("failed", "HTTP 404")


def test_endpoint_deliveries_set_the_call_state_and_the_api_filter(personas, api, sink, make_call, run_jobs):
    sink.respond(default=Reply(status=503, body=b"receiver down"))
    endpoint, _ = services.create_endpoint(personas.org, {"url": sink.url})
    call = make_call()  # no per-call URL: only the endpoint receives its events
    other = make_call(webhook_url=sink.url + "?inline=1")
    assert _state(call) == ("pending", "")
    run_jobs()
    status, error = _state(call)
    assert status == "retrying" and error.startswith("HTTP 503")

    def ids(status):
        r = api.get("/v1/calls", {"webhook_status": status})
        assert r.status_code == 200, r.content
        return {c["id"] for c in r.json()["data"]}

    assert ids("retrying") == {str(call.public_id), str(other.public_id)}
    assert ids("failed") == set()
    # Retries run out at the endpoint: the call is failed, and the list filter finds it.
    WebhookDelivery.objects.filter(endpoint=endpoint).update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    from callops.webhooks.call_summary import sync_call_status

    sync_call_status([call.pk, other.pk])
    assert _state(call)[0] == "failed"
    assert ids("failed") == {str(call.public_id), str(other.public_id)}
    detail = api.get(f"/v1/calls/{call.public_id}").json()
    assert detail["webhook_status"] == "failed" and detail["webhook_error"].startswith("HTTP 503")
    # A later event delivered everywhere clears it: each destination's latest delivery counts.
    sink.respond(default=Reply(status=200))
    from callops.calls import services as calls
    from callops.calls.models import EventSource

    calls.apply_status(call, "initiated", source=EventSource.POLL)  # no event: nothing changes
    assert _state(call)[0] == "failed"
    calls.apply_status(call, "ringing", source=EventSource.POLL)
    assert _state(call) == ("pending", "")
    run_jobs()
    assert _state(call) == ("delivered", "")
    assert ids("delivered") == {str(call.public_id)}


def test_disabling_and_deleting_an_endpoint_resummarise_its_calls(personas, sink, make_call, run_jobs):
    sink.respond(default=Reply(status=200))
    good, _ = services.create_endpoint(personas.org, {"url": sink.url})
    held, _ = services.create_endpoint(personas.org, {"url": sink.url + "?held=1", "paused": True})
    call = make_call()
    run_jobs()
    assert _state(call) == ("pending", "")  # the paused endpoint holds its delivery
    services.set_enabled(held, False, actor="tests")
    assert _state(call) == ("failed", "endpoint disabled")
    services.delete_endpoint(held, actor="tests")
    assert _state(call) == ("delivered", "")
    assert WebhookDelivery.objects.filter(call=call).get().endpoint_id == good.pk


def test_backfill_migration_applies_the_rule_to_existing_calls(personas, sink, make_call, run_jobs):
    import importlib

    sink.respond(default=Reply(status=503))
    services.create_endpoint(personas.org, {"url": sink.url})
    call = make_call()
    quiet = make_call()
    run_jobs()
    WebhookDelivery.objects.filter(call=quiet).update(status=DeliveryStatus.DELIVERED, delivered_at=timezone.now(),
                                                      attempt_count=1, last_error="")
    # Rows as an older release left them: per-call deliveries only, so endpoint-only calls blank.
    Call.objects.filter(pk__in=[call.pk, quiet.pk]).update(webhook_status="", webhook_error="")
    migration = importlib.import_module("callops.webhooks.migrations.0002_backfill_call_webhook_status")
    migration.backfill(apps, None)
    status, error = _state(call)
    assert status == "retrying" and error.startswith("HTTP 503")
    assert _state(quiet) == ("delivered", "")
