"""The call page's webhook deliveries: attempts shown, redeliver for members only, org-scoped."""

import pytest
from django.urls import reverse

from callops.calls import services
from callops.calls.models import EventSource

pytestmark = pytest.mark.django_db


@pytest.fixture
def hooked_call(sandbox_agent):
    from callops.webhooks.models import WebhookAttempt, WebhookDelivery

    call = services.create_call(org=sandbox_agent.organization, agent=sandbox_agent, to_number="+14155550123",
                                source=EventSource.API, webhook_url="http://127.0.0.1:9/hook")
    delivery = WebhookDelivery.objects.get(call=call)
    WebhookAttempt.objects.create(delivery=delivery, number=1, url=delivery.url, request_body="{}",
                                  response_status=503, duration_ms=12, error_kind="http", error="HTTP 503")
    return call, delivery


def redeliver_url(call, delivery):
    return reverse("dashboard:delivery_redeliver", args=[call.public_id, delivery.public_id])


def test_deliveries_and_attempts_are_listed(personas, hooked_call):
    call, delivery = hooked_call
    page = personas.viewer.client().get(reverse("dashboard:call_detail", args=[call.public_id])).content.decode()
    assert "Webhook deliveries" in page and "call.queued" in page and "HTTP 503" in page
    assert redeliver_url(call, delivery) not in page  # viewers get no action buttons


def test_member_redelivers(personas, hooked_call):
    call, delivery = hooked_call
    client = personas.member.client()
    page = client.get(reverse("dashboard:call_detail", args=[call.public_id])).content.decode()
    assert redeliver_url(call, delivery) in page
    r = client.post(redeliver_url(call, delivery), follow=True)
    assert r.status_code == 200 and "Redelivery queued." in r.content.decode()
    delivery.refresh_from_db()
    assert delivery.manual_requested_at is not None


def test_viewer_403_and_outsider_404_on_redeliver(personas, hooked_call):
    call, delivery = hooked_call
    assert personas.viewer.client().post(redeliver_url(call, delivery)).status_code == 403
    assert personas.outsider.client().post(redeliver_url(call, delivery)).status_code == 404
    delivery.refresh_from_db()
    assert delivery.manual_requested_at is None


def test_delivery_of_another_call_is_404(personas, hooked_call, make_call):
    call, delivery = hooked_call
    other = make_call()
    url = reverse("dashboard:delivery_redeliver", args=[other.public_id, delivery.public_id])
    assert personas.member.client().post(url).status_code == 404
