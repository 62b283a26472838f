"""Fixtures for the part-2 dashboard tests: failed calls, failing webhook deliveries, endpoints."""

from datetime import timedelta

import pytest
from django.utils import timezone

from callops.calls import services
from callops.calls.models import Call, CallStatus, EventSource
from tests.dashboard.conftest import make_call, outsider_agent  # noqa: F401  (shared fixtures)


@pytest.fixture
def failed_call(sandbox_agent):
    """A call failed with a given error code `ago` before now, through the lifecycle service."""

    def _make(error_code="balance_low", *, to="+12025550105", status=CallStatus.FAILED, hangup="", reason="",
              ago=timedelta(minutes=5), agent=None):
        agent = agent or sandbox_agent
        call = services.create_call(org=agent.organization, agent=agent, to_number=to, source=EventSource.API)
        fields = {"error_code": error_code, "error_message": f"{error_code} happened" if error_code else "",
                  "hangup_cause": hangup}
        services.apply_status(call, status, source=EventSource.POLL, raw_status=status, reason=reason,
                              fields={k: v for k, v in fields.items() if v})
        when = timezone.now() - ago
        Call.objects.filter(pk=call.pk).update(ended_at=when, created_at=when - timedelta(seconds=30))
        return Call.objects.get(pk=call.pk)

    return _make


@pytest.fixture
def endpoint(personas):
    from callops.webhooks import services as webhooks

    ep, secret = webhooks.create_endpoint(personas.org, {"url": "http://127.0.0.1:9/hook",
                                                         "headers": {"X-Receiver-Token": "hdr-secret-value-123"}})
    ep.test_secret = secret
    return ep


@pytest.fixture
def failing_delivery(personas, endpoint, sandbox_agent):
    """A delivery to `endpoint` whose attempt failed with the given kind/status (rows written directly)."""
    from callops.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery

    def _make(kind="http", status=503, *, delivery_status=DeliveryStatus.FAILED, ago=timedelta(minutes=5)):
        call = services.create_call(org=personas.org, agent=sandbox_agent, to_number="+14155550123",
                                    source=EventSource.API)
        delivery = WebhookDelivery.objects.filter(call=call, endpoint=endpoint).first()
        when = timezone.now() - ago
        error = f"HTTP {status}" if kind == "http" else f"{kind}: it broke"
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=delivery_status, attempt_count=1, last_error=error, last_response_status=status,
            next_attempt_at=None, created_at=when)
        WebhookAttempt.objects.create(delivery=delivery, number=1, url=delivery.url, request_body='{"x":1}',
                                      request_headers={"content-type": "application/json",
                                                       "X-Receiver-Token": "hdr-secret-value-123"},
                                      response_status=status if kind == "http" else None, duration_ms=42,
                                      error_kind=kind, error=error, created_at=when)
        delivery.refresh_from_db()
        return delivery

    return _make
