"""Retention of webhook attempt bodies: old bodies blanked to "" in bounded, idempotent passes,
the attempt rows and their deliveries kept, off by default."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from callops.webhooks import retention
from callops.webhooks.models import WebhookAttempt, WebhookDelivery

pytestmark = pytest.mark.django_db

KEPT_FIELDS = ("id", "delivery_id", "number", "trigger", "url", "request_headers", "response_status",
               "response_headers", "duration_ms", "error_kind", "error", "succeeded", "created_at")


def bodies():
    return list(WebhookAttempt.objects.order_by("pk").values_list("request_body", "response_body"))


def kept():
    return (list(WebhookAttempt.objects.order_by("pk").values(*KEPT_FIELDS)),
            list(WebhookDelivery.objects.order_by("pk").values()))


def test_off_by_default(clock, failing_delivery):
    assert settings.RAW_PAYLOAD_RETENTION_DAYS == 0
    assert "callops.webhooks.retention.sweep_old_attempt_bodies" in settings.SWEEPS
    failing_delivery(ago=timedelta(days=3650))
    assert retention.sweep_old_attempt_bodies(now=timezone.now()) == 0
    assert bodies() == [('{"x":1}', "")]


def test_old_bodies_blanked_new_kept_rows_untouched(clock, settings, failing_delivery):
    settings.RAW_PAYLOAD_RETENTION_DAYS = 7
    failing_delivery(ago=timedelta(days=7, seconds=1))
    failing_delivery(ago=timedelta(days=7) - timedelta(seconds=1))
    WebhookAttempt.objects.update(response_body="upstream said no")
    before = kept()

    assert retention.sweep_old_attempt_bodies(now=timezone.now()) == 1
    assert bodies() == [("", ""), ('{"x":1}', "upstream said no")]
    assert kept() == before
    assert retention.sweep_old_attempt_bodies(now=timezone.now()) == 0
    assert bodies() == [("", ""), ('{"x":1}', "upstream said no")]


def test_a_pass_blanks_at_most_limit_rows_oldest_first(clock, settings, failing_delivery):
    settings.RAW_PAYLOAD_RETENTION_DAYS = 1
    for hours in (30, 50, 40):
        failing_delivery(ago=timedelta(hours=hours))

    assert retention.sweep_old_attempt_bodies(limit=2, now=timezone.now()) == 2
    assert bodies() == [('{"x":1}', ""), ("", ""), ("", "")]
    assert retention.sweep_old_attempt_bodies(limit=2, now=timezone.now()) == 1
    assert bodies() == [("", ""), ("", ""), ("", "")]
    assert retention.sweep_old_attempt_bodies(limit=2, now=timezone.now()) == 0


def test_inspector_says_the_bodies_were_removed(clock, settings, personas, failing_delivery):
    settings.RAW_PAYLOAD_RETENTION_DAYS = 7
    old = failing_delivery(ago=timedelta(days=8))
    recent = failing_delivery(ago=timedelta(days=1))
    retention.sweep_old_attempt_bodies(now=timezone.now())
    client = personas.viewer.client()

    page = client.get(reverse("dashboard:delivery_attempts", args=[old.public_id])).content.decode()
    assert page.count("Body removed after 7 days (retention).") == 2
    page = client.get(reverse("dashboard:delivery_attempts", args=[recent.public_id])).content.decode()
    assert "Body removed" not in page and "{&quot;x&quot;:1}" in page
