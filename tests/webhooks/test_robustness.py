"""Whatever a receiver answers, and whatever goes wrong while sending, a delivery gets an attempt row
and its normal retry; it is never left leased to be re-sent forever with nothing on record."""

import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks import Webhook

from callops.webhooks import delivery, services
from callops.webhooks.delivery import record, request, schedule
from callops.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from tests.lib.sink import Reply

HOSTILE_RETRY_AFTER = ["inf", "Infinity", "-Infinity", "1e400", "-5", "NaN", "nan", "0x10", "1e3", "soon",
                       "9" * 25, "Fri, 31 Dec 9999 23:59:59 GMT", "Mon, 99 Foo 2026 99:99:99 GMT", " ", "\u00e9",
                       "12 34", "1.5.6"]


@pytest.mark.parametrize("value", HOSTILE_RETRY_AFTER)
def test_parse_retry_after_never_raises(value):
    seconds = delivery.parse_retry_after(value)
    assert seconds is None or (0 <= seconds <= schedule.MAX_RETRY_AFTER_SECONDS)


def test_parse_retry_after_accepts_the_two_real_forms(clock):
    assert delivery.parse_retry_after("120") == 120
    assert delivery.parse_retry_after("1.2") == 2  # fractions round up
    import email.utils

    assert delivery.parse_retry_after(email.utils.formatdate(time.time() + 100, usegmt=True)) == 100


@pytest.mark.parametrize("value", ["inf", "Infinity", "1e400", "-5", "garbage", "9" * 25,
                                   "Fri, 31 Dec 9999 23:59:59 GMT"])
def test_hostile_retry_after_over_http_is_recorded_and_retried(personas, endpoint, sink, make_call, run_jobs, value,
                                                                clock):
    sink.respond(Reply(status=503, headers={"Retry-After": value}))
    before = timezone.now()
    call = make_call()
    run_jobs()
    d = WebhookDelivery.objects.get(call=call, endpoint=endpoint)
    assert d.status == DeliveryStatus.PENDING and d.attempt_count == 1 and d.claimed_until is None
    assert d.attempts.get().response_status == 503
    # The schedule's 5 s (+/- 20 %), at most doubled by a usable header; never a crash or a stall.
    assert 4.0 <= (d.next_attempt_at - before).total_seconds() <= 12.0


@pytest.mark.parametrize("where", ["send", "build_request"])
def test_unexpected_exception_records_a_failed_attempt_and_schedules_the_retry(personas, endpoint, sink, make_call,
                                                                               monkeypatch, where, clock):
    call = make_call()

    def boom(*args, **kwargs):
        raise RuntimeError("something unforeseen")

    monkeypatch.setattr(request, where, boom)
    before = timezone.now()
    assert delivery.deliver_due() == 1
    d = WebhookDelivery.objects.get(call=call, endpoint=endpoint)
    att = d.attempts.get()
    assert att.error_kind == "internal" and "RuntimeError: something unforeseen" in att.error
    assert d.status == DeliveryStatus.PENDING and d.auto_attempts == 1 and d.claimed_until is None
    assert 4.0 <= (d.next_attempt_at - before).total_seconds() <= 6.0  # 5 s +/- 20 %, on the test clock
    assert delivery.deliver_due() == 0  # not due again until its retry time: no hot loop
    monkeypatch.undo()
    WebhookDelivery.objects.filter(pk=d.pk).update(next_attempt_at=timezone.now())
    assert delivery.deliver_due() == 1 and len(sink.requests) == 1
    d.refresh_from_db()
    assert d.status == DeliveryStatus.DELIVERED and [a.number for a in d.attempts.all()] == [1, 2]


def test_reply_with_nul_bytes_is_stored(personas, endpoint, sink, make_call, run_jobs):
    sink.respond(Reply(status=500, body=b"bad\x00reply", headers={"X-Odd": "a"}))
    call = make_call()
    run_jobs()
    d = WebhookDelivery.objects.get(call=call, endpoint=endpoint)
    att = d.attempts.get()
    assert att.response_body == "bad\ufffdreply" and d.last_error.startswith("HTTP 500")
    assert d.claimed_until is None and d.status == DeliveryStatus.PENDING


def test_an_unrecordable_reply_does_not_keep_the_batch_off_the_record(personas, endpoint, sink, make_call,
                                                                     monkeypatch):
    real_insert = record._insert_attempts

    def picky_insert(items):
        if any("poison" in i.outcome.body for i in items):
            raise ValueError("cannot store this reply")
        return real_insert(items)

    monkeypatch.setattr(record, "_insert_attempts", picky_insert)
    sink.respond(Reply(body=b"fine"), Reply(body=b"poison"), Reply(body=b"fine"))
    calls = [make_call() for _ in range(3)]
    assert delivery.deliver_due() == 3
    rows = [WebhookDelivery.objects.get(call=c, endpoint=endpoint) for c in calls]
    assert all(r.status == DeliveryStatus.DELIVERED and r.claimed_until is None for r in rows)
    bodies = sorted(r.attempts.get().response_body for r in rows)
    assert bodies == ["", "fine", "fine"]
    bare = [r.attempts.get() for r in rows if r.attempts.get().response_body == ""][0]
    assert "could not be stored" in bare.error and bare.succeeded


# --- Custom headers that would break delivery or signing ------------------------------------------
FORBIDDEN = ["Content-Encoding", "Content-Length", "Transfer-Encoding", "Expect", "Upgrade", "TE", "Trailer",
             "Keep-Alive", "Connection", "Host", "Proxy-Authorization", "proxy-connection", "Webhook-Id",
             "webhook-signature", "Webhook-Timestamp", "webhook-anything", "Content-Type", "User-Agent"]


@pytest.mark.parametrize("name", FORBIDDEN)
def test_forbidden_custom_headers_are_refused(api, sink, name):
    resp = api.post("/v1/webhook_endpoints", {"url": sink.url, "headers": {name: "x"}})
    assert resp.status_code == 400 and "headers" in resp.json()["fields"]
    assert not WebhookEndpoint.objects.exists()


def test_a_forbidden_header_stored_before_the_rule_is_not_sent(personas, sink, make_call, run_jobs):
    ep, secret = services.create_endpoint(personas.org, {"url": sink.url, "headers": {"X-Team": "ops"}})
    WebhookEndpoint.objects.filter(pk=ep.pk).update(headers={
        "X-Team": "ops", "Content-Encoding": "gzip", "Webhook-Signature": "v1,forged", "Host": "evil.test",
        "Proxy-Authorization": "Basic x"})
    make_call()
    run_jobs()
    got = sink.requests[0]
    assert got.headers["x-team"] == "ops" and "content-encoding" not in got.headers
    assert "proxy-authorization" not in got.headers and got.headers["host"].startswith("127.0.0.1")
    Webhook(secret).verify(got.body, got.headers)  # the signature is ours, intact
    assert WebhookDelivery.objects.get(endpoint=ep).status == DeliveryStatus.DELIVERED


def test_abort_message_on_a_manual_resend_stops_the_remaining_retries(personas, endpoint, sink, make_call,
                                                                      run_jobs):
    sink.respond(Reply(status=500))
    call = make_call()
    run_jobs()
    d = WebhookDelivery.objects.get(call=call, endpoint=endpoint)
    assert d.status == DeliveryStatus.PENDING and d.next_attempt_at is not None
    sink.respond(Reply(status=409, headers={"Webhook-Delivery": "abort-message"}))
    services.redeliver(d)
    run_jobs()
    d.refresh_from_db()
    assert d.status == DeliveryStatus.FAILED and d.next_attempt_at is None
    assert [a.error_kind for a in d.attempts.all()] == ["http", "aborted"]
    WebhookDelivery.objects.filter(pk=d.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert delivery.deliver_due() == 0


def _blocked_on_a_lock() -> bool:
    """True when another PostgreSQL session of this test database waits on a lock."""
    from django.db import connections

    with connections["default"].cursor() as cursor:  # the deleting session; the worker has its own
        # Statistics views are a snapshot taken once per transaction: take a fresh one.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")
        return cursor.fetchone()[0] > 0


@pytest.mark.django_db(transaction=True)
def test_deleting_an_endpoint_while_a_worker_records_an_attempt(personas, endpoint, sink, make_call, monkeypatch):
    """A worker sends one of the endpoint's deliveries and records the attempt at the moment the
    deletion has removed the attempts it knew of but not yet the deliveries: the deletion still
    commits and leaves nothing of the endpoint (the worker's late attempt is what gets refused).

    On PostgreSQL the worker leases and sends, then waits on the endpoint row the deletion locked.
    SQLite admits one writer at a time (IMMEDIATE transactions), so there the worker cannot even
    lease the delivery until the deletion has committed, and then finds nothing to send."""
    from django.db import connection
    from django.db.models.query import QuerySet

    from callops.webhooks.models import WebhookAttempt
    from tests.helpers import wait_for

    postgres = connection.vendor == "postgresql"
    make_call()
    row = WebhookDelivery.objects.get(endpoint=endpoint)
    worker_done = threading.Event()

    def worker():
        try:
            delivery.deliver_due()
        finally:
            connection.close()
            worker_done.set()

    real_raw_delete = QuerySet._raw_delete

    def raw_delete_then_a_worker_runs(self, using):
        count = real_raw_delete(self, using)
        if self.model is WebhookAttempt and not worker_done.is_set():
            threading.Thread(target=worker).start()
            if postgres:
                wait_for(lambda: len(sink.requests) == 1 and (worker_done.is_set() or _blocked_on_a_lock()),
                         "the worker to send, then wait on the deletion's lock")
        return count

    monkeypatch.setattr(QuerySet, "_raw_delete", raw_delete_then_a_worker_runs)
    services.delete_endpoint(endpoint)
    wait_for(worker_done.is_set, "the worker to finish")
    assert len(sink.requests) == (1 if postgres else 0)  # on PostgreSQL the worker did send it
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert not WebhookDelivery.objects.filter(pk=row.pk).exists()
    assert not WebhookAttempt.objects.filter(delivery_id=row.pk).exists()
