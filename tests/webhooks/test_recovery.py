"""Org-wide bulk recovery by filter: count first, then re-send in the background with progress that
counts re-sends actually made; resuming never starts a second copy of a job still in the queue."""

from datetime import timedelta

import django_rq
import pytest
from django.utils import timezone
from standardwebhooks import Webhook

from callops.lib import queue
from callops.webhooks import jobs, services
from callops.webhooks.models import DeliveryStatus, RecoveryJob, WebhookDelivery
from tests.conftest import flush_on_commit
from tests.lib.sink import Reply

SINCE = "2000-01-01T00:00:00Z"


@pytest.fixture
def history(personas, endpoint, sink, make_call, run_jobs):
    """Two skipped deliveries (endpoint disabled), one failed per-call delivery, one delivered."""
    services.set_enabled(endpoint, False)
    make_call()
    make_call()
    sink.respond(Reply(status=410))  # the per-call URL gives up at once: failed
    make_call(webhook_url=sink.url)
    run_jobs()
    services.set_enabled(endpoint, True)
    sink.respond(default=Reply(status=200))
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.SKIPPED).count() == 3  # incl. the 3rd call's
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.FAILED, endpoint__isnull=True).count() == 1
    return endpoint


def _count(api, **filters):
    resp = api.post("/v1/webhook_recoveries", {"since": SINCE, "dry_run": True, **filters})
    assert resp.status_code == 200, resp.content
    return resp.json()["count"]


def test_dry_run_counts_by_filter_and_writes_nothing(api_readonly, history):
    assert _count(api_readonly) == 4
    assert _count(api_readonly, endpoint_id=str(history.public_id)) == 3
    assert _count(api_readonly, endpoint_id="inline") == 1
    assert _count(api_readonly, status="failed") == 1
    assert _count(api_readonly, status="skipped") == 3
    assert _count(api_readonly, event_type="call.queued") == 4
    assert _count(api_readonly, event_type="call.completed") == 0
    assert _count(api_readonly, event_type="call.*", status="skipped", endpoint_id=str(history.public_id)) == 3
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    assert api_readonly.post("/v1/webhook_recoveries", {"since": future, "dry_run": True}).json()["count"] == 0
    assert not RecoveryJob.objects.exists()
    # Counting is a read; starting is a write.
    assert api_readonly.post("/v1/webhook_recoveries", {"since": SINCE}).status_code == 403


def test_run_in_background_progress_counts_rows_actually_sent(api, history, sink, run_jobs):
    resp = api.post("/v1/webhook_recoveries", {"since": SINCE, "status": "skipped"})
    assert resp.status_code == 202, resp.content
    job = resp.json()
    assert job["total"] == 3 and job["done"] == 0 and job["status"] == "pending"
    flush_on_commit()
    django_rq.get_connection("default").flushdb()  # run the marking alone first, by hand
    jobs.recovery_job(RecoveryJob.objects.get().pk)
    marked = api.get(f"/v1/webhook_recoveries/{job['id']}").json()
    # Every row is marked, none is sent yet: not done, and `done` says so.
    assert marked["marked"] == 3 and marked["done"] == 0 and marked["status"] == "running"
    jobs.sweep_due_deliveries()
    run_jobs()
    finished = api.get(f"/v1/webhook_recoveries/{job['id']}").json()
    assert finished["status"] == "done" and finished["done"] == finished["delivered"] == 3
    assert len(sink.requests) == 4  # the per-call 410 earlier, then the three re-sends
    for got in sink.requests[1:]:
        Webhook(history.plain_secret).verify(got.body, got.headers)
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.FAILED, endpoint__isnull=True).count() == 1
    listed = api.get("/v1/webhook_recoveries").json()["data"]
    assert [r["id"] for r in listed] == [job["id"]]


def test_a_recovery_waiting_in_the_queue_is_not_started_twice(api, history, sink, run_jobs):
    job = api.post("/v1/webhook_recoveries", {"since": SINCE}).json()
    flush_on_commit()  # enqueued; no worker has picked it up yet
    pk = RecoveryJob.objects.get().pk
    rq_id = jobs.recovery_rq_id(pk)
    webhooks_queue = django_rq.get_queue("webhooks")
    assert webhooks_queue.job_ids.count(rq_id) == 1
    # It waits long enough for its heartbeat to look stale, and the enqueue lease has lapsed.
    RecoveryJob.objects.filter(pk=pk).update(heartbeat_at=timezone.now() - timedelta(minutes=10))
    django_rq.get_connection("default").delete(queue._lease_key(rq_id))
    for _ in range(3):
        jobs.sweep_due_deliveries()
    assert webhooks_queue.job_ids.count(rq_id) == 1  # still the one copy
    run_jobs()
    progress = api.get(f"/v1/webhook_recoveries/{job['id']}").json()
    assert progress["status"] == "done" and progress["done"] == 4 and len(sink.requests) == 1 + 4


def test_recovery_validation_and_tenancy(api, api_outsider, history):
    for body, field in [({"since": SINCE, "status": "delivered"}, "status"),
                        ({"since": SINCE, "event_type": "call.exploded"}, "event_type"),
                        ({"since": SINCE, "bogus": 1}, "bogus"),
                        ({}, "since"),
                        ({"since": SINCE, "until": "1999-01-01T00:00:00Z"}, "until")]:
        resp = api.post("/v1/webhook_recoveries", body)
        assert resp.status_code == 400 and field in resp.json()["fields"] and "error" in resp.json(), body
    other = api_outsider.post("/v1/webhook_recoveries", {"since": SINCE, "endpoint_id": str(history.public_id),
                                                         "dry_run": True})
    assert other.status_code == 404 and "error" in other.json()
    assert api_outsider.post("/v1/webhook_recoveries", {"since": SINCE, "dry_run": True}).json()["count"] == 0
    job = api.post("/v1/webhook_recoveries", {"since": SINCE}).json()
    assert api_outsider.get(f"/v1/webhook_recoveries/{job['id']}").status_code == 404
    assert api_outsider.get("/v1/webhook_recoveries").json()["data"] == []
    doc = api.get("/v1/openapi.json").json()["paths"]["/v1/webhook_recoveries"]
    assert {"200", "202", "403", "404"} <= set(doc["post"]["responses"])


def test_rows_that_go_away_do_not_keep_a_recovery_open(api, history, run_jobs):
    job = api.post("/v1/webhook_recoveries", {"since": SINCE, "status": "skipped"}).json()
    flush_on_commit()
    django_rq.get_connection("default").flushdb()
    jobs.recovery_job(RecoveryJob.objects.get().pk)
    WebhookDelivery.objects.filter(recovery_job__isnull=False).delete()  # e.g. their endpoint was deleted
    jobs.sweep_due_deliveries()
    assert api.get(f"/v1/webhook_recoveries/{job['id']}").json()["status"] == "done"


def test_dashboard_recovers_per_call_urls_only(personas, history, sink, run_jobs):
    from django.urls import reverse

    client = personas.member.client()
    page = client.get(reverse("dashboard:webhooks"), {"preview": "1", "endpoint": "inline", "window": "24h",
                                                      "status": "failed"})
    assert page.context["preview"]["total"] == 1 and "Re-send 1 now" in page.content.decode()
    resp = client.post(reverse("dashboard:webhooks_recover"), {"endpoint": "inline", "window": "24h",
                                                                "status": "failed"})
    job = RecoveryJob.objects.get()
    assert resp.status_code == 302 and job.inline_only and job.total == 1 and job.delivery_status == "failed"
    run_jobs()
    job.refresh_from_db()
    assert job.status == "done" and job.done == job.delivered == 1
    assert len(sink.requests) == 2 and "?" not in sink.requests[1].path  # the per-call URL, re-sent
    progress = client.get(reverse("dashboard:recovery_progress", args=[job.public_id]))
    assert progress.status_code == 286 and "1 of 1 re-sent" in progress.content.decode()


def _delivery_writes(ctx, ids) -> list[str]:
    """The statements of `ctx` that lock or update deliveries, shortened to what they do."""
    out = []
    for q in ctx.captured_queries:
        sql = q["sql"]
        if sql.startswith('UPDATE "webhooks_webhookdelivery"'):
            out.append("update")
        elif 'FROM "webhooks_webhookdelivery"' in sql and "FOR NO KEY UPDATE" in sql:
            # values_list("pk") orders by its first column: ORDER BY 1, the id.
            assert sql.split(" FOR NO KEY UPDATE")[0].endswith('AS "pk" FROM "webhooks_webhookdelivery" WHERE '
                                                                f'"webhooks_webhookdelivery"."id" IN ({", ".join(ids)}) '
                                                                'ORDER BY 1 ASC'), sql
            out.append("lock in id order")
    return out


def test_marking_locks_its_chunk_in_id_order_before_updating_it(api, history):
    """Recovery marking and the workers recording attempts change overlapping sets of deliveries;
    both lock them in ascending id order first, so neither can deadlock the other."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    assert api.post("/v1/webhook_recoveries", {"since": SINCE}).status_code == 202
    flush_on_commit()
    with CaptureQueriesContext(connection) as ctx:
        jobs.recovery_job(RecoveryJob.objects.get().pk)
    ids = [str(pk) for pk in WebhookDelivery.objects.order_by("pk").values_list("pk", flat=True)]
    assert _delivery_writes(ctx, ids) == ["lock in id order", "update"]
    assert WebhookDelivery.objects.filter(manual_requested_at__isnull=False).count() == 4
