"""Webhook-health notifications: the bell count in the top bar and the list page."""

import pytest
from django.urls import reverse

from callops.webhooks import endpoint_health as health
from callops.webhooks.models import Notification

pytestmark = pytest.mark.django_db


def test_bell_counts_unread_and_list_shows_them(personas, unreachable_endpoint):
    health.notify(unreachable_endpoint, Notification.Kind.FAILING, f"Deliveries to {unreachable_endpoint.url} are failing")
    health.disable(unreachable_endpoint, "the endpoint answered 410 Gone")
    client = personas.viewer.client()
    page = client.get(reverse("dashboard:api_keys")).content.decode()
    assert 'class="bell-count">2<' in page
    listing = client.get(reverse("dashboard:notifications")).content.decode()
    assert "are failing" in listing and "410 Gone" in listing and "Disabled" in listing
    assert "Mark all as read" not in listing  # viewers read only
    assert client.post(reverse("dashboard:notifications_read")).status_code == 403
    assert personas.outsider.client().post(reverse("dashboard:notifications_read")).status_code == 302
    assert Notification.objects.filter(read=False).count() == 2  # the outsider marked only Globex's (none)
    assert 'bell-count' not in personas.outsider.client().get(reverse("dashboard:api_keys")).content.decode()
    personas.member.client().post(reverse("dashboard:notifications_read"))
    assert Notification.objects.filter(read=False).count() == 0
    assert "bell-count" not in client.get(reverse("dashboard:api_keys")).content.decode()


def test_bell_costs_nothing_outside_the_dashboard(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert client.get(reverse("login")).status_code == 200
