"""Delivery over real HTTP to a loopback sink: success and each failure kind."""

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError

from callops.webhooks import delivery
from callops.webhooks.delivery import schedule
from callops.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from tests.helpers import wait_for
from tests.lib.sink import Reply


def _deliveries(call, endpoint=None):
    qs = WebhookDelivery.objects.filter(call=call)
    return qs.filter(endpoint=endpoint) if endpoint else qs


def test_success_signed_and_logged(personas, endpoint, sink, make_call, run_jobs):
    call = make_call()
    run_jobs()
    assert sink.wait_for(1)
    got = sink.requests[0]
    payload = Webhook(endpoint.plain_secret).verify(got.body, got.headers)
    assert payload["type"] == "call.queued"
    assert payload["data"]["call"]["id"] == str(call.public_id)
    d = _deliveries(call, endpoint).get()
    assert d.status == DeliveryStatus.DELIVERED and d.attempt_count == 1 and d.next_attempt_at is None
    assert payload["id"] == got.headers["webhook-id"] == d.event.webhook_id
    att = d.attempts.get()
    assert att.succeeded and att.response_status == 200 and att.response_body == "ok" and att.number == 1
    assert att.request_headers["webhook-signature"].startswith("v1,")


def test_per_call_url_signed_with_org_secret_and_call_status_follows(personas, sink, make_call, run_jobs):
    from callops.calls.models import Call
    from callops.webhooks.services import reveal_org_secret

    call = make_call(webhook_url=sink.url)
    assert Call.objects.get(pk=call.pk).webhook_status == "pending"
    run_jobs()
    got = sink.requests[0]
    Webhook(reveal_org_secret(personas.org)).verify(got.body, got.headers)
    call.refresh_from_db()
    assert call.webhook_status == "delivered" and call.webhook_error == ""


def _one_attempt(sink, reply, endpoint, make_call, run_jobs):
    sink.respond(reply)
    call = make_call()
    run_jobs()
    return _deliveries(call, endpoint).get()


@pytest.mark.parametrize("status", [500, 502, 404])
def test_http_errors_are_retried_on_schedule(personas, endpoint, sink, make_call, run_jobs, status, clock):
    before = timezone.now()
    d = _one_attempt(sink, Reply(status=status, body=b"nope"), endpoint, make_call, run_jobs)
    assert d.status == DeliveryStatus.PENDING and d.auto_attempts == 1
    assert d.last_error.startswith(f"HTTP {status}") and d.last_response_status == status
    # second automatic attempt: 5 s +/- 20 %
    delay = (d.next_attempt_at - before).total_seconds()
    assert 4.0 <= delay <= 6.0  # on the test clock: nothing else moves it


def test_redirect_is_failure_and_not_followed(personas, endpoint, sink, make_call, run_jobs):
    from tests.lib.sink import Sink

    elsewhere = Sink()  # a live server the Location points at
    try:
        d = _one_attempt(sink, Reply(status=302, headers={"Location": elsewhere.url}), endpoint, make_call,
                         run_jobs)
        assert len(sink.requests) == 1 and elsewhere.requests == []
        assert d.status == DeliveryStatus.PENDING and f"redirect to {elsewhere.url}" in d.last_error
        assert d.attempts.get().error_kind == "redirect"
    finally:
        elsewhere.close()


def test_410_disables_endpoint_and_notifies(personas, endpoint, sink, make_call, run_jobs, mailoutbox):
    from callops.webhooks.models import Notification

    d = _one_attempt(sink, Reply(status=410), endpoint, make_call, run_jobs)
    endpoint.refresh_from_db()
    assert d.status == DeliveryStatus.FAILED and d.next_attempt_at is None
    assert not endpoint.enabled and "410" in endpoint.disabled_reason
    assert Notification.objects.filter(endpoint=endpoint, kind="disabled").count() == 1
    assert any("disabled" in m.subject for m in mailoutbox)
    assert set(mailoutbox[0].to) == {"owner@acme.test", "admin@acme.test"}
    # later events to a disabled endpoint are kept as skipped deliveries
    call2 = make_call()
    d2 = _deliveries(call2, endpoint).get()
    assert d2.status == DeliveryStatus.SKIPPED and d2.last_error == "endpoint disabled"


def test_429_retry_after_clamped_and_overload_penalty(personas, endpoint, sink, make_call, run_jobs, clock):
    before = timezone.now()
    d = _one_attempt(sink, Reply(status=429, headers={"Retry-After": "3600"}), endpoint, make_call, run_jobs)
    delay = (d.next_attempt_at - before).total_seconds()
    # schedule says ~5 s, Retry-After is clamped to 2x (<= 12 s), then the 429 penalty makes it 60 s
    assert delay == 60.0


def _http_date(seconds_ahead: float) -> str:
    import email.utils

    return email.utils.formatdate(time.time() + seconds_ahead, usegmt=True)


@pytest.mark.parametrize("status,retry_after,expected", [
    (429, "100000", (3600, 3600)),  # far beyond: clamped to 2x the scheduled 1800 s
    (429, "1", (1800, 1800)),  # sooner than the schedule: the schedule wins (cannot speed up)
    (503, "2500", (2500, 2500)),  # inside 1x-2x: honoured
    (429, "date:+100000", (3600, 3600)),  # the HTTP-date form, far beyond
    (503, "date:+2500", (2500, 2500)),  # the HTTP-date form, inside the range
    (503, "date:-600", (1800, 1800)),  # a date in the past means "now": the schedule wins
])
def test_retry_after_clamp_over_http(personas, endpoint, sink, make_call, run_jobs, monkeypatch, status, retry_after,
                                     expected, clock):
    """Fourth automatic attempt (scheduled 30 min later) answered with Retry-After: the next due
    time is the header's value clamped to 1x-2x of the schedule (no jitter here, to see it exactly)."""
    monkeypatch.setattr(schedule._rng, "uniform", lambda a, b: 1.0)  # the schedule's own rng, no jitter
    sink.respond(default=Reply(status=500))
    call = make_call()
    run_jobs()
    d = _deliveries(call, endpoint).get()
    WebhookDelivery.objects.filter(pk=d.pk).update(auto_attempts=2, next_attempt_at=timezone.now())
    header = _http_date(float(retry_after[5:])) if retry_after.startswith("date:") else retry_after
    sink.respond(Reply(status=status, headers={"Retry-After": header}))
    before = timezone.now()
    assert delivery.deliver_due() == 1
    d.refresh_from_db()
    assert sink.requests[-1].headers["webhook-id"] == d.event.webhook_id  # it really went over HTTP
    delay = (d.next_attempt_at - before).total_seconds()
    assert expected[0] <= delay <= expected[1], delay  # exact: the test clock does not move
    assert d.attempts.last().response_status == status


def test_retry_after_clamp_on_503_later_in_schedule():
    assert delivery.retry_delay(2, retry_after=3600, rng=_Fixed(1.0)) == 600  # 5 min scheduled, 2x max
    assert delivery.retry_delay(2, retry_after=1, rng=_Fixed(1.0)) == 300  # cannot speed up
    assert delivery.retry_delay(2, retry_after=450, rng=_Fixed(1.0)) == 450


class _Fixed:
    def __init__(self, v):
        self.v = v

    def uniform(self, a, b):
        return self.v


def test_connection_refused_is_retried(personas, make_call, run_jobs):
    from callops.webhooks import services

    ep, _ = services.create_endpoint(personas.org, {"url": "http://127.0.0.1:1/hook"})
    call = make_call()
    run_jobs()
    d = _deliveries(call, ep).get()
    assert d.status == DeliveryStatus.PENDING and d.auto_attempts == 1
    assert d.last_error.startswith("network:") and d.attempts.get().error_kind == "network"


def test_blocked_address_is_refused_with_reason(personas, settings, sink, make_call, run_jobs):
    from callops.webhooks import services

    ep, _ = services.create_endpoint(personas.org, {"url": sink.url})
    settings.OUTBOUND_ALLOW_PRIVATE = []
    from callops.lib import http

    http.reset_clients()
    call = make_call(webhook_url=sink.url)
    run_jobs()
    assert sink.requests == []
    d = _deliveries(call, ep).get()
    assert d.attempts.get().error_kind == "blocked"
    assert "127.0.0.1 (loopback 127.0.0.0/8)" in d.last_error
    call.refresh_from_db()
    assert call.webhook_status == "retrying" and "a private address" in call.webhook_error


def test_timeout_by_slow_drip_is_bounded(personas, settings, endpoint, sink, make_call, run_jobs):
    settings.WEBHOOK_TIMEOUT_SECONDS = 1.0
    sink.respond(Reply(status=200, body=b"x" * 100, drip_interval=0.1))  # ~10 s of drip in total
    before = timezone.now()
    call = make_call()
    run_jobs()
    d = _deliveries(call, endpoint).get()
    att = d.attempts.get()
    assert att.error_kind == "timeout" and att.duration_ms >= 950
    # The whole answer is bounded, not each read: the sender hung up long before the 10 s drip ended.
    wait_for(lambda: sink.cut_short, "the sink to see the sender hang up mid-body")
    assert d.status == DeliveryStatus.PENDING
    assert (d.next_attempt_at - before).total_seconds() >= 59  # overload penalty after a timeout


@pytest.mark.slow
def test_timeout_at_the_real_ten_seconds(personas, endpoint, sink, make_call, run_jobs):
    sink.respond(Reply(status=200, body=b"x" * 60, drip_interval=0.25))  # 15 s of drip
    call = make_call()
    run_jobs()
    att = _deliveries(call, endpoint).get().attempts.get()
    assert att.error_kind == "timeout" and att.duration_ms >= 9900  # the documented 10 s, not less
    wait_for(lambda: sink.cut_short, "the sink to see the sender hang up before its 15 s drip ended")


def test_schedule_runs_out_and_fails(personas, endpoint, sink, make_call, run_jobs, mailoutbox):
    from callops.webhooks.models import Notification

    sink.respond(default=Reply(status=500))
    call = make_call()
    run_jobs()
    d = _deliveries(call, endpoint).get()
    for _ in range(delivery.MAX_AUTO_ATTEMPTS - 1):
        assert d.status == DeliveryStatus.PENDING
        WebhookDelivery.objects.filter(pk=d.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
        assert delivery.deliver_due() == 1
        d.refresh_from_db()
    assert d.status == DeliveryStatus.FAILED and d.next_attempt_at is None
    assert d.auto_attempts == delivery.MAX_AUTO_ATTEMPTS == d.attempt_count == len(sink.requests) == 8
    assert list(d.attempts.values_list("number", flat=True)) == list(range(1, 9))
    assert len({r.headers["webhook-id"] for r in sink.requests}) == 1
    kinds = set(Notification.objects.filter(endpoint=endpoint).values_list("kind", flat=True))
    assert kinds == {"failing", "exhausted"}
    assert delivery.deliver_due() == 0  # nothing more, ever
    # a success afterwards (manual re-send) is a recovery
    sink.respond(default=Reply(status=204, body=b""))
    from callops.webhooks import services

    services.redeliver(d, personas.owner.user)
    run_jobs()
    d.refresh_from_db()
    assert d.status == DeliveryStatus.DELIVERED and d.attempts.last().trigger == "manual"
    assert Notification.objects.filter(endpoint=endpoint, kind="recovered").count() == 1
    assert any("recovered" in m.subject.lower() for m in mailoutbox)


def test_long_failing_endpoint_is_disabled(personas, endpoint, sink, make_call, run_jobs):
    from callops.webhooks import jobs

    sink.respond(default=Reply(status=500))
    make_call()
    run_jobs()
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None and endpoint.enabled
    endpoint.__class__.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now() - timedelta(days=5, seconds=1))
    jobs.sweep_due_deliveries()
    endpoint.refresh_from_db()
    assert not endpoint.enabled and "no successful delivery" in endpoint.disabled_reason
    assert WebhookDelivery.objects.filter(endpoint=endpoint, status="skipped").count() == 1


def test_response_body_stored_truncated(personas, settings, endpoint, sink, make_call, run_jobs):
    settings.WEBHOOK_STORED_BODY_BYTES = 100
    d = _one_attempt(sink, Reply(status=200, body=b"y" * 200_000), endpoint, make_call, run_jobs)
    assert d.status == DeliveryStatus.DELIVERED
    assert d.attempts.get().response_body == "y" * 100


def test_custom_headers_sent_but_cannot_override_signature(personas, sink, make_call, run_jobs):
    from callops.webhooks import services

    ep, secret = services.create_endpoint(personas.org, {"url": sink.url, "headers": {"X-Team": "ops"},
                                                         "enabled_events": ["call.queued"]})
    make_call()
    run_jobs()
    got = sink.requests[0]
    assert got.headers["x-team"] == "ops"
    Webhook(secret).verify(got.body, got.headers)
    with pytest.raises(services.WebhookInputError):
        services.update_endpoint(ep, {"headers": {"webhook-signature": "v1,forged"}})


def test_event_filter(personas, sink, make_call, run_jobs):
    from callops.calls import services as calls
    from callops.calls.models import EventSource
    from callops.webhooks import services

    ep, secret = services.create_endpoint(personas.org, {"url": sink.url, "enabled_events": ["call.completed"]})
    call = make_call()
    assert not _deliveries(call, ep).exists()  # call.queued does not match
    run_jobs()
    assert sink.requests == []
    calls.apply_status(call, "in_progress", source=EventSource.POLL)
    calls.apply_status(call, "completed", source=EventSource.POLL)
    run_jobs()
    assert [d.event.type for d in _deliveries(call, ep)] == ["call.completed"]  # the matching event is kept
    assert len(sink.requests) == 1
    assert Webhook(secret).verify(sink.requests[0].body, sink.requests[0].headers)["type"] == "call.completed"
    assert _deliveries(call, ep).get().status == DeliveryStatus.DELIVERED


def test_envelope_shape(personas, endpoint, sink, make_call, run_jobs):
    make_call()
    run_jobs()
    body = json.loads(sink.requests[0].body)
    assert set(body) == {"id", "type", "created", "api_version", "timestamp", "data"} and set(body["data"]) == {"call"}


def test_attempt_rows_keep_request(personas, endpoint, sink, make_call, run_jobs):
    make_call()
    run_jobs()
    att = WebhookAttempt.objects.get()
    assert att.request_body.encode() == sink.requests[0].body
    assert att.request_headers["webhook-id"] == sink.requests[0].headers["webhook-id"]


def test_rotation_sends_both_signatures_for_24h(personas, endpoint, sink, make_call, run_jobs):
    from callops.webhooks import services

    old = endpoint.plain_secret
    new = services.rotate_secret(endpoint)
    make_call()
    run_jobs()
    got = sink.requests[-1]
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    Webhook(new).verify(got.body, got.headers)
    Webhook(old).verify(got.body, got.headers)
    # after the overlap only the new secret signs
    endpoint.refresh_from_db()
    expired = [{**e, "expires_at": (timezone.now() - timedelta(seconds=1)).isoformat()} for e in endpoint.old_secrets]
    endpoint.__class__.objects.filter(pk=endpoint.pk).update(old_secrets=expired)
    make_call()
    run_jobs()
    got = sink.requests[-1]
    assert len(got.headers["webhook-signature"].split(" ")) == 1
    Webhook(new).verify(got.body, got.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(got.body, got.headers)


def test_manual_redelivery_never_reschedules(personas, endpoint, sink, make_call, run_jobs):
    from callops.webhooks import services

    sink.respond(default=Reply(status=500))
    call = make_call()
    run_jobs()
    d = _deliveries(call, endpoint).get()
    scheduled = d.next_attempt_at
    services.redeliver(d, personas.owner.user)
    run_jobs()
    d.refresh_from_db()
    assert d.attempt_count == 2 and d.auto_attempts == 1 and d.next_attempt_at == scheduled
    assert d.manual_requested_at is None and d.status == DeliveryStatus.PENDING
    assert [a.trigger for a in d.attempts.all()] == ["auto", "manual"]


def test_paused_endpoint_holds_deliveries_until_resumed(personas, endpoint, sink, make_call, run_jobs):
    from callops.webhooks import services

    services.set_paused(endpoint, True)
    call = make_call()
    run_jobs()
    assert sink.requests == [] and _deliveries(call, endpoint).get().status == DeliveryStatus.PENDING
    services.set_paused(endpoint, False)
    run_jobs()
    assert _deliveries(call, endpoint).get().status == DeliveryStatus.DELIVERED


def test_claim_is_exclusive_and_lease_expires(personas, settings, endpoint, sink, make_call):
    call = make_call()
    d = _deliveries(call, endpoint).get()
    token, rows = delivery.claim()
    assert [r.pk for r in rows] == [d.pk]
    assert delivery.claim() == ("", [])  # a second worker gets nothing while the lease holds
    WebhookDelivery.objects.filter(pk=d.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
    token2, rows2 = delivery.claim()  # the first worker died: its lease expired
    assert [r.pk for r in rows2] == [d.pk] and token2 != token


def test_per_endpoint_concurrency_cap(personas, endpoint, sink, make_call):
    endpoint.__class__.objects.filter(pk=endpoint.pk).update(max_in_flight=1)
    make_call()
    make_call()
    token, rows = delivery.claim(limit=1)
    assert len(rows) == 1
    assert delivery.claim() == ("", [])  # one worker is already sending to this endpoint


def test_lost_queue_is_recovered_by_the_sweep(personas, endpoint, sink, make_call, run_jobs):
    import django_rq

    from callops.webhooks import jobs
    from tests.conftest import flush_on_commit

    call = make_call()
    flush_on_commit()
    django_rq.get_connection("default").flushdb()  # Redis lost every job
    run_jobs()
    assert sink.requests == []
    assert jobs.sweep_due_deliveries() >= 1
    run_jobs()
    assert _deliveries(call, endpoint).get().status == DeliveryStatus.DELIVERED and len(sink.requests) == 1


def test_event_rolls_back_with_the_change(personas, endpoint, sandbox_agent):
    from django.db import transaction

    from callops.calls import services as calls
    from callops.webhooks.models import WebhookEvent

    with pytest.raises(RuntimeError), transaction.atomic():
        calls.create_call(org=personas.org, agent=sandbox_agent, to_number="+14155550100")
        assert WebhookEvent.objects.count() == 1
        raise RuntimeError("the status change failed")
    assert not WebhookEvent.objects.exists() and not WebhookDelivery.objects.exists()


def test_other_orgs_endpoints_get_nothing(personas, sink, make_call, run_jobs):
    from callops.webhooks import services

    services.create_endpoint(personas.other_org, {"url": sink.url})
    make_call()
    run_jobs()
    assert sink.requests == [] and not WebhookDelivery.objects.filter(organization=personas.other_org).exists()


def test_recovery_job_resumes_a_half_finished_run_and_sends_each_row_once(personas, endpoint, sink, make_call,
                                                                          run_jobs, monkeypatch):
    from callops.webhooks import jobs, services
    from callops.webhooks.models import RecoveryJob

    services.set_enabled(endpoint, False)
    for _ in range(5):
        make_call()
    since = timezone.now() - timedelta(hours=1)
    assert services.count_recoverable(personas.org, since=since, endpoint=endpoint) == 5
    services.set_enabled(endpoint, True)
    job = services.start_recovery(personas.org, since=since, endpoint=endpoint)
    from tests.conftest import flush_on_commit

    flush_on_commit()
    import django_rq

    django_rq.get_connection("default").flushdb()  # run the recovery by hand, chunk by chunk

    # The worker dies after marking the first chunk of two (its delivery job is lost with it).
    real_enqueue = jobs.enqueue
    marked_chunks = []

    def dying_enqueue(func, *args, **kwargs):
        if func is jobs.deliver_job:
            marked_chunks.append(args[0])
            raise KeyboardInterrupt("worker killed")
        return real_enqueue(func, *args, **kwargs)

    monkeypatch.setattr(jobs, "enqueue", dying_enqueue)
    with pytest.raises(KeyboardInterrupt):
        jobs.recovery_job(job.pk, chunk=2)
    monkeypatch.setattr(jobs, "enqueue", real_enqueue)
    job.refresh_from_db()
    assert job.status == "running" and job.marked == 2 and job.done == 0 and not job.marking_done
    assert len(marked_chunks) == 1

    # A copy that starts while the first run's heartbeat is fresh does nothing.
    jobs.recovery_job(job.pk, chunk=2)
    job.refresh_from_db()
    assert job.marked == 2 and not job.marking_done

    # The heartbeat goes stale: the sweep resumes it from where it stopped.
    RecoveryJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    jobs.sweep_due_deliveries()
    run_jobs()
    jobs.sweep_due_deliveries()  # deliveries left for the next pass by a batch, if any
    run_jobs()
    job.refresh_from_db()
    assert job.status == "done" and job.marked == job.total == 5 and job.done == 5 and job.delivered == 5
    ids = [r.headers["webhook-id"] for r in sink.requests]
    assert len(ids) == 5 and len(set(ids)) == 5  # every row sent, none twice
    assert [a.trigger for a in WebhookAttempt.objects.all()] == ["bulk"] * 5
    assert not WebhookDelivery.objects.filter(recovery_job__isnull=False).exists()
    # Running it again (a duplicate copy) changes nothing.
    jobs.recovery_job(job.pk)
    run_jobs()
    assert len(sink.requests) == 5


def test_batch_event_goes_to_endpoints(personas, endpoint, sink, sandbox_agent, run_jobs):
    from django.db import transaction

    from callops.batches.models import Batch
    from callops.webhooks import events

    batch = Batch.objects.create(organization=personas.org, agent=sandbox_agent, name="spring")
    with transaction.atomic():
        events.emit_batch_event(batch, "batch.started")
    run_jobs()
    got = sink.requests[0]
    body = Webhook(endpoint.plain_secret).verify(got.body, got.headers)
    assert body["type"] == "batch.started" and body["data"]["batch"]["id"] == str(batch.public_id)


def test_a_timing_out_host_does_not_hold_the_batch(personas, settings, sink, make_call):
    from callops.webhooks import services
    from tests.lib.sink import Sink

    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    slow = Sink()
    try:
        slow.respond(default=Reply(delay=2))
        slow_ep, _ = services.create_endpoint(personas.org, {"url": slow.url})
        fast_ep, _ = services.create_endpoint(personas.org, {"url": sink.url})
        for _ in range(3):
            make_call()
        assert delivery.deliver_due() == 4  # one timeout to the slow host, three to the fast one
        slow_rows = WebhookDelivery.objects.filter(endpoint=slow_ep)
        assert sorted(slow_rows.values_list("attempt_count", flat=True)) == [0, 0, 1]
        assert not slow_rows.filter(claimed_until__isnull=False).exists()  # released, still due
        assert WebhookDelivery.objects.filter(endpoint=fast_ep, status="delivered").count() == 3
    finally:
        slow.close()


def test_sweep_resumes_a_recovery_whose_worker_died(personas, endpoint, sink, make_call, run_jobs):
    import django_rq

    from callops.webhooks import jobs, services
    from callops.webhooks.models import RecoveryJob
    from tests.conftest import flush_on_commit

    services.set_enabled(endpoint, False)
    make_call()
    services.set_enabled(endpoint, True)
    job = services.start_recovery(personas.org, since=timezone.now() - timedelta(hours=1), endpoint=endpoint)
    flush_on_commit()
    django_rq.get_connection("default").flushdb()  # its job is lost
    RecoveryJob.objects.filter(pk=job.pk).update(status="running",
                                                 heartbeat_at=timezone.now() - timedelta(minutes=5))
    jobs.sweep_due_deliveries()
    run_jobs()
    job.refresh_from_db()
    assert job.status == "done" and len(sink.requests) == 1


def test_receiver_can_abort_retries(personas, endpoint, sink, make_call, run_jobs, mailoutbox):
    from callops.webhooks.models import Notification

    d = _one_attempt(sink, Reply(status=422, headers={"webhook-delivery": "abort-message"}), endpoint,
                     make_call, run_jobs)
    assert d.status == DeliveryStatus.FAILED and d.next_attempt_at is None and d.auto_attempts == 1
    assert "webhook-delivery: abort-message" in d.last_error and "not retried" in d.last_error
    assert d.attempts.get().error_kind == "aborted"
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.failing_since is None  # the receiver's choice, not ill health
    # No "exhausted" notice (or any other): nothing ran out, the receiver said stop.
    assert not Notification.objects.exists() and mailoutbox == []
    assert delivery.deliver_due() == 0
