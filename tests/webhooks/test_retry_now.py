"""Deliveries still waiting for a back-off are part of recovery: a bulk "retry now" that counts them
first (API and dashboard), and an automatic nudge that brings them forward, at a bounded pace, when
their endpoint recovers."""

from datetime import timedelta

import pytest
from django.urls import reverse

from callops.webhooks import delivery, endpoint_health
from callops.webhooks.models import DeliveryStatus, RecoveryJob, WebhookDelivery
from tests.lib.sink import Reply

SINCE = "2000-01-01T00:00:00Z"


@pytest.fixture
def outage(personas, endpoint, sink, make_call, clock):
    """An endpoint that answered 503 to three calls' first attempts: their deliveries wait for a retry."""
    sink.respond(default=Reply(status=503, body=b"down for maintenance"))
    calls = [make_call() for _ in range(3)]
    assert delivery.deliver_due() == 3
    waiting = WebhookDelivery.objects.filter(endpoint=endpoint)
    assert [(d.status, d.attempt_count) for d in waiting] == [(DeliveryStatus.PENDING, 1)] * 3
    assert all(d.next_attempt_at > clock.now() for d in waiting)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None
    return calls


def test_dry_run_counts_retrying_deliveries_apart_and_recovery_sends_them_now(api, endpoint, outage, sink,
                                                                              clock, run_jobs):
    failed = WebhookDelivery.objects.filter(endpoint=endpoint).earliest("id")
    WebhookDelivery.objects.filter(pk=failed.pk).update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    resp = api.post(f"/v1/webhook_endpoints/{endpoint.public_id}/recover", {"since": SINCE, "dry_run": True})
    assert resp.status_code == 200, resp.content
    assert resp.json() == {"object": "webhook_recovery_count", "count": 3,
                           "by_status": {"failed": 1, "skipped": 0, "retrying": 2}}
    only = api.post("/v1/webhook_recoveries", {"since": SINCE, "status": "retrying", "dry_run": True}).json()
    assert only["count"] == 2 and only["by_status"] == {"failed": 0, "skipped": 0, "retrying": 2}
    bad = api.post("/v1/webhook_recoveries", {"since": SINCE, "status": "pending", "dry_run": True})
    assert bad.status_code == 400
    assert bad.json()["error"] == "status must be 'failed', 'skipped' or 'retrying' (or omitted for all three)"

    # The receiver is back but the next retry is minutes away: retry now, without waiting for it.
    sink.respond(default=Reply(status=200))
    clock.advance(1)  # a recovery's window ends at the moment it starts
    assert api.post("/v1/webhook_recoveries", {"since": SINCE, "status": "retrying"}).status_code == 202
    run_jobs()
    job = RecoveryJob.objects.get()
    assert (job.status, job.total, job.marked, job.done, job.delivered) == ("done", 2, 2, 2, 2)
    statuses = dict(WebhookDelivery.objects.filter(endpoint=endpoint).values_list("pk", "status"))
    assert statuses.pop(failed.pk) == DeliveryStatus.FAILED  # not asked for
    assert set(statuses.values()) == {DeliveryStatus.DELIVERED}


def test_a_retry_now_that_fails_keeps_the_automatic_schedule(api, endpoint, outage, sink, clock, run_jobs):
    before = {d.pk: (d.next_attempt_at, d.auto_attempts) for d in WebhookDelivery.objects.filter(endpoint=endpoint)}
    clock.advance(1)
    api.post(f"/v1/webhook_endpoints/{endpoint.public_id}/recover", {"since": SINCE})
    run_jobs()
    job = RecoveryJob.objects.get()
    assert (job.status, job.done, job.delivered) == ("done", 3, 0)
    after = {d.pk: (d.next_attempt_at, d.auto_attempts) for d in WebhookDelivery.objects.filter(endpoint=endpoint)}
    assert after == before
    assert set(WebhookDelivery.objects.filter(endpoint=endpoint).values_list("status", "attempt_count")) == {
        (DeliveryStatus.PENDING, 2)}


def test_dashboard_retry_now_counts_first_then_sends(personas, endpoint, outage, sink, clock, run_jobs):
    client = personas.member.client()
    page = client.get(reverse("dashboard:webhooks"), {"window": "24h"}).content.decode()
    assert f"preview=1&amp;endpoint={endpoint.public_id}#recovery" in page  # the endpoint's "Retry now…"
    r = client.get(reverse("dashboard:webhooks"), {"window": "24h", "preview": "1", "endpoint": str(endpoint.public_id)})
    assert r.context["preview"] == {"total": 3, "failed": 0, "skipped": 0, "retrying": 3}
    html = r.content.decode()
    assert "0 failed, 0 skipped, 3 waiting for a retry" in html and "Re-send 3 now" in html
    assert not RecoveryJob.objects.exists()
    sink.respond(default=Reply(status=200))
    clock.advance(1)
    client.post(reverse("dashboard:webhooks_recover"), {"endpoint": str(endpoint.public_id), "window": "24h"})
    run_jobs()
    assert set(WebhookDelivery.objects.filter(endpoint=endpoint).values_list("status", flat=True)) == {
        DeliveryStatus.DELIVERED}


def test_nudge_spreads_waiting_deliveries_from_now_at_the_given_pace(personas, endpoint, make_call, clock):
    now = clock.now()
    for _ in range(12):
        make_call()
    rows = list(WebhookDelivery.objects.filter(endpoint=endpoint).order_by("id"))
    # Waiting for back-offs of 30 minutes and 2 hours, one already due in half a second.
    for i, d in enumerate(rows):
        d.attempt_count, d.next_attempt_at = 3, now + timedelta(minutes=30 if i % 2 else 120, seconds=i)
    rows[11].next_attempt_at = now + timedelta(milliseconds=500)
    WebhookDelivery.objects.bulk_update(rows, ["attempt_count", "next_attempt_at"])
    untried = make_call()  # never attempted: not a retry, left alone
    delivered = rows[0]
    WebhookDelivery.objects.filter(pk=delivered.pk).update(status=DeliveryStatus.DELIVERED, next_attempt_at=None)

    assert endpoint_health.nudge_waiting(endpoint.pk, now, per_second=4) == 11
    due = dict(WebhookDelivery.objects.filter(endpoint=endpoint).values_list("pk", "next_attempt_at"))
    # Soonest first: the half-second one, then the 30-minute ones, then the 2-hour ones.
    order = [rows[11], *[d for d in rows[1:11] if rows.index(d) % 2], *[d for d in rows[1:11] if not rows.index(d) % 2]]
    expected = [now, now, now, now] + [now + timedelta(seconds=1)] * 4 + [now + timedelta(seconds=2)] * 3
    assert [due[d.pk] for d in order] == expected
    assert due[delivered.pk] is None
    assert WebhookDelivery.objects.get(event__call=untried, endpoint=endpoint).next_attempt_at == now


def test_endpoint_recovery_brings_its_backlog_forward_at_a_bounded_pace(settings, personas, endpoint, outage,
                                                                        sink, clock, make_call):
    settings.WEBHOOK_RECOVERY_NUDGE_PER_SECOND = 2
    # Move the outage on: two more failed rounds, so the next retries are ~5 minutes away.
    for _ in range(2):
        clock.advance_to(max(WebhookDelivery.objects.filter(endpoint=endpoint).values_list("next_attempt_at",
                                                                                             flat=True)))
        assert delivery.deliver_due() == 3
    waiting = {d.pk: d.next_attempt_at for d in WebhookDelivery.objects.filter(endpoint=endpoint)}
    assert all(at - clock.now() > timedelta(minutes=3) for at in waiting.values())

    # The receiver comes back and one new event gets through: the endpoint has recovered.
    sink.respond(default=Reply(status=200))
    recovered_at = clock.advance(10)
    make_call()
    assert delivery.deliver_due() == 1
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.consecutive_failures == 0
    due = sorted(WebhookDelivery.objects.filter(pk__in=waiting).values_list("next_attempt_at", flat=True))
    assert due == [recovered_at, recovered_at, recovered_at + timedelta(seconds=1)]
    # They go out at that pace, not all at once.
    assert delivery.deliver_due() == 2
    clock.advance(1)
    assert delivery.deliver_due() == 1
    assert set(WebhookDelivery.objects.filter(endpoint=endpoint).values_list("status", flat=True)) == {
        DeliveryStatus.DELIVERED}


def test_no_nudge_while_the_endpoint_keeps_failing(personas, endpoint, outage, sink, clock, make_call):
    waiting = dict(WebhookDelivery.objects.filter(endpoint=endpoint).values_list("pk", "next_attempt_at"))
    clock.advance(1)
    make_call()
    assert delivery.deliver_due() == 1  # a new event fails too: nothing recovered
    assert dict(WebhookDelivery.objects.filter(pk__in=waiting).values_list("pk", "next_attempt_at")) == waiting


def test_nudge_never_delays_a_delivery_already_due_sooner_than_its_slot(personas, endpoint, make_call, clock):
    now = clock.now()
    for _ in range(3):
        make_call()
    rows = list(WebhookDelivery.objects.filter(endpoint=endpoint).order_by("id"))
    soon = [now + timedelta(milliseconds=200), now + timedelta(milliseconds=700), now + timedelta(hours=2)]
    for d, at in zip(rows, soon, strict=True):
        d.attempt_count, d.next_attempt_at = 4, at
    WebhookDelivery.objects.bulk_update(rows, ["attempt_count", "next_attempt_at"])
    assert endpoint_health.nudge_waiting(endpoint.pk, now, per_second=1) == 3
    due = [WebhookDelivery.objects.get(pk=d.pk).next_attempt_at for d in rows]
    # Slots now, +1 s, +2 s: the second was due at +0.7 s already and keeps it.
    assert due == [now, now + timedelta(milliseconds=700), now + timedelta(seconds=2)]
