"""Failed webhooks page: health, failing deliveries and attempts, redeliver, bulk recovery, endpoint state."""

import pytest
from django.urls import reverse

from callops.accounts.models import AuditEntry
from callops.webhooks.models import RecoveryJob, WebhookDelivery

pytestmark = pytest.mark.django_db
URL = reverse("dashboard:webhooks")


def test_health_and_failing_deliveries_listed(personas, unreachable_endpoint, failing_delivery):
    d = failing_delivery("http", 503)
    r = personas.viewer.client().get(URL)
    page = r.content.decode()
    (row,) = [h for h in r.context["health"] if h["endpoint"]]
    assert row["total"] == 1 and row["rate"] == 0 and row["failing"] >= 1 and row["last_error"]["error"] == "HTTP 503"
    assert str(d.public_id) in page and "HTTP 503" in page
    assert "Redeliver" not in page and "Retry now" not in page  # viewers read only


def test_attempts_fragment_masks_custom_header_values(personas, unreachable_endpoint, failing_delivery):
    d = failing_delivery("http", 503)
    r = personas.viewer.client().get(reverse("dashboard:delivery_attempts", args=[d.public_id]))
    page = r.content.decode()
    assert r.status_code == 200 and "HTTP 503" in page and "42 ms" in page and "{&quot;x&quot;:1}" in page
    assert "hdr-secret-value-123" not in page and "X-Receiver-Token: hdr-…" in page
    assert personas.outsider.client().get(reverse("dashboard:delivery_attempts", args=[d.public_id])).status_code == 404


def test_redeliver_one(personas, failing_delivery):
    d = failing_delivery("http", 503)
    url = reverse("dashboard:webhook_redeliver", args=[d.public_id])
    assert personas.viewer.client().post(url).status_code == 403
    assert personas.outsider.client().post(url).status_code == 404
    d.refresh_from_db()
    assert d.manual_requested_at is None
    assert personas.member.client().post(url).status_code == 302
    d.refresh_from_db()
    assert d.manual_requested_at is not None
    assert AuditEntry.objects.get(action="webhook_delivery.redeliver").ip_address == "127.0.0.1"


def test_bulk_recovery_counts_first_then_runs_with_progress(personas, unreachable_endpoint, failing_delivery, run_jobs):
    d1, _d2 = failing_delivery("http", 500), failing_delivery("timeout", None)
    client = personas.member.client()
    r = client.get(URL, {"preview": "1", "endpoint": str(unreachable_endpoint.public_id), "window": "24h"})
    assert r.context["preview"] == {"total": 2, "failed": 2, "skipped": 0, "retrying": 0}
    assert "Re-send 2 now" in r.content.decode()
    assert not RecoveryJob.objects.exists()  # counting changes nothing
    r = client.post(reverse("dashboard:webhooks_recover"), {"endpoint": str(unreachable_endpoint.public_id), "window": "24h"})
    job = RecoveryJob.objects.get()
    assert job.total == 2 and str(job.public_id) in r["Location"]
    page = client.get(r["Location"]).content.decode()
    assert "recovery-progress" in page and "every 1s" in page
    from callops.webhooks.jobs import sweep_due_deliveries

    run_jobs()
    # A batch that hit a refusing host leaves that host's other re-sends to the next sweep.
    sweep_due_deliveries()
    run_jobs()
    progress = client.get(reverse("dashboard:recovery_progress", args=[job.public_id]))
    assert progress.status_code == 286  # finished: htmx stops polling
    assert "2 of 2" in progress.content.decode()
    assert WebhookDelivery.objects.get(pk=d1.pk).attempt_count == 2  # re-sent (the sink at :9 still refuses)
    assert AuditEntry.objects.filter(action="webhook_delivery.bulk_recover").get().ip_address == "127.0.0.1"


def test_recovery_roles_and_tenancy(personas, unreachable_endpoint, failing_delivery):
    failing_delivery()
    data = {"endpoint": str(unreachable_endpoint.public_id), "window": "24h"}
    assert personas.viewer.client().post(reverse("dashboard:webhooks_recover"), data).status_code == 403
    assert personas.outsider.client().post(reverse("dashboard:webhooks_recover"), data).status_code == 404
    assert not RecoveryJob.objects.exists()
    job = RecoveryJob.objects.create(organization=personas.org, since=unreachable_endpoint.created_at)
    assert personas.outsider.client().get(reverse("dashboard:recovery_progress", args=[job.public_id])).status_code == 404


def test_endpoint_state_actions_need_admin(personas, unreachable_endpoint):
    url = reverse("dashboard:endpoint_state", args=[unreachable_endpoint.public_id])
    assert personas.member.client().post(url, {"action": "pause"}).status_code == 403
    assert personas.outsider.client().post(url, {"action": "pause"}).status_code == 404
    unreachable_endpoint.refresh_from_db()
    assert not unreachable_endpoint.paused
    admin = personas.admin.client()
    admin.post(url, {"action": "pause"})
    unreachable_endpoint.refresh_from_db()
    assert unreachable_endpoint.paused
    admin.post(url, {"action": "disable"})
    unreachable_endpoint.refresh_from_db()
    assert unreachable_endpoint.state == "disabled"
    page = admin.get(URL).content.decode()
    assert "Re-enable" in page and "Disabled" in page
    admin.post(url, {"action": "enable"})
    unreachable_endpoint.refresh_from_db()
    assert unreachable_endpoint.enabled and AuditEntry.objects.filter(action="webhook_endpoint.enabled",
                                                          ip_address="127.0.0.1").exists()


@pytest.mark.parametrize(("state", "failing", "rate", "word"), [
    ("disabled", True, 0.1, "disabled"), ("paused", False, 1.0, "paused"), ("active", True, 1.0, "failing"),
    ("active", False, 0.12, "degraded"), ("active", False, 0.9499, "degraded"), ("active", False, 0.95, "healthy"),
    ("active", False, None, "idle")])
def test_health_word_never_says_healthy_beside_a_low_rate(state, failing, rate, word):
    from types import SimpleNamespace

    from callops.dashboard.webhook_views import health_word

    endpoint = SimpleNamespace(state=state, failing_since=object() if failing else None)
    assert health_word(endpoint, rate) == word


def test_an_endpoint_delivering_again_after_many_failures_is_degraded_not_healthy(personas, unreachable_endpoint,
                                                                                   failing_delivery):
    from callops.webhooks.models import WebhookEndpoint

    for _ in range(7):
        failing_delivery("http", 503)
    d = failing_delivery("http", 503)
    d.attempts.create(number=2, url=d.url, request_body="{}", request_headers={}, response_status=200,
                      duration_ms=5, succeeded=True)
    WebhookEndpoint.objects.filter(pk=unreachable_endpoint.pk).update(failing_since=None)
    page = personas.viewer.client().get(URL).content.decode()
    assert 'data-testid="health-state">Degraded</span>' in page and "1 of 9 attempts succeeded" in page
    assert 'class="text-danger">11.1%' in page and ">Healthy<" not in page
