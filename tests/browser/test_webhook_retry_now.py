"""After a receiver's outage, the deliveries still waiting for a back-off can be re-sent now from the
Webhooks page: counted first, then sent."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from callops.calls.models import CallStatus
from callops.webhooks import delivery
from callops.webhooks import services as webhooks
from callops.webhooks.models import DeliveryStatus, WebhookDelivery
from tests.lib.sink import Reply

from .conftest import BackgroundWorker, login, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_retry_now_sends_deliveries_waiting_for_a_back_off(page, personas, make_call_db, sink):
    sink.respond(default=Reply(status=503, body=b"down for maintenance"))
    endpoint, _ = webhooks.create_endpoint(personas.org, {"url": sink.url})
    # One completed call: four events (queued, ringing, answered, completed), each failed once.
    make_call_db(CallStatus.COMPLETED, to="+12025550100")
    while delivery.deliver_due():
        pass
    owed = WebhookDelivery.objects.filter(endpoint=endpoint)
    assert set(owed.values_list("status", "attempt_count")) == {(DeliveryStatus.PENDING, 1)}
    count = owed.count()
    # Further along the outage: the next retries are 30 minutes away.
    owed.update(next_attempt_at=timezone.now() + timedelta(minutes=30), auto_attempts=3)
    sink.respond(default=Reply(status=200))  # the receiver is back
    with BackgroundWorker() as worker:  # started now, so the outage above is exactly one attempt each
        _retry_now(page, personas, endpoint, sink, count)
    assert worker.errors == []


def _retry_now(page, personas, endpoint, sink, count):
    login(page, personas.member.user.username)
    page.goto(page.base_url + "/webhooks/?window=24h")
    health = page.get_by_test_id("endpoint-health")
    expect(health).to_contain_text(sink.url)
    health.get_by_test_id("retry-now").click()
    expect(page.get_by_test_id("recover-count")).to_have_text(str(count))
    expect(page.get_by_test_id("recover-breakdown")).to_have_text(f"0 failed, 0 skipped, {count} waiting for a retry")
    shot(page, "webhooks-retry-now-count")
    assert WebhookDelivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.DELIVERED).count() == 0
    page.get_by_role("button", name=f"Re-send {count} now").click()
    expect(page.get_by_test_id("recovery-result")).to_contain_text(f"{count} delivered", timeout=60_000)
    shot(page, "webhooks-retry-now-done")
    assert WebhookDelivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.DELIVERED).count() == count
