"""Retries and re-sends go to the endpoint's URL and headers as they are now; per-call URLs stay put."""

from django.utils import timezone
from standardwebhooks import Webhook

from callops.webhooks import delivery, services
from callops.webhooks.models import DeliveryStatus, WebhookDelivery
from tests.lib.sink import Reply, Sink


def _due_now(d):
    WebhookDelivery.objects.filter(pk=d.pk).update(next_attempt_at=timezone.now())


def test_retry_after_a_url_change_goes_to_the_new_url_with_the_new_headers(personas, endpoint, sink, make_call,
                                                                          run_jobs):
    new_home = Sink()
    try:
        sink.respond(default=Reply(status=500))
        call = make_call()
        run_jobs()
        d = WebhookDelivery.objects.get(call=call, endpoint=endpoint)
        assert d.status == DeliveryStatus.PENDING and len(sink.requests) == 1
        services.update_endpoint(endpoint, {"url": new_home.url, "headers": {"X-Moved": "yes"}})
        _due_now(d)
        assert delivery.deliver_due() == 1
        assert len(sink.requests) == 1 and len(new_home.requests) == 1
        got = new_home.requests[0]
        assert got.headers["x-moved"] == "yes"
        Webhook(endpoint.plain_secret).verify(got.body, got.headers)
        d.refresh_from_db()
        assert d.status == DeliveryStatus.DELIVERED and d.url == new_home.url
        assert [a.url for a in d.attempts.all()] == [sink.url, new_home.url]  # the URL each try really used
    finally:
        new_home.close()


def test_manual_resend_of_an_old_delivery_uses_the_current_url(personas, endpoint, sink, make_call, run_jobs):
    new_home = Sink()
    try:
        call = make_call()
        run_jobs()
        d = WebhookDelivery.objects.get(call=call, endpoint=endpoint)
        assert d.status == DeliveryStatus.DELIVERED
        services.update_endpoint(endpoint, {"url": new_home.url})
        services.redeliver(d)
        run_jobs()
        assert len(sink.requests) == 1 and len(new_home.requests) == 1
        assert sink.requests[0].headers["webhook-id"] == new_home.requests[0].headers["webhook-id"]
        assert d.attempts.last().url == new_home.url
    finally:
        new_home.close()


def test_failed_rows_recovered_after_a_url_fix_go_to_the_fixed_url(personas, endpoint, sink, make_call,
                                                                  run_jobs):
    from datetime import timedelta

    fixed = Sink()
    try:
        sink.respond(default=Reply(status=410))  # disables the endpoint; later events are skipped
        make_call()
        run_jobs()
        make_call()
        services.update_endpoint(endpoint, {"url": fixed.url, "enabled": True})
        services.start_recovery(personas.org, since=timezone.now() - timedelta(hours=1), endpoint=endpoint)
        run_jobs()
        assert len(fixed.requests) == 2 and len(sink.requests) == 1
        assert set(WebhookDelivery.objects.values_list("url", flat=True)) == {fixed.url}
    finally:
        fixed.close()


def test_per_call_url_delivery_keeps_its_url(personas, sink, make_call, run_jobs):
    other = Sink()
    try:
        ep, _ = services.create_endpoint(personas.org, {"url": other.url})
        sink.respond(default=Reply(status=503))
        call = make_call(webhook_url=sink.url)
        run_jobs()
        d = WebhookDelivery.objects.get(call=call, endpoint__isnull=True)
        services.update_endpoint(ep, {"url": f"http://127.0.0.1:{other.port}/moved"})
        sink.respond(default=Reply(status=200))
        _due_now(d)
        delivery.deliver_due()
        d.refresh_from_db()
        assert d.status == DeliveryStatus.DELIVERED and d.url == sink.url
        assert [a.url for a in d.attempts.all()] == [sink.url, sink.url]
    finally:
        other.close()
