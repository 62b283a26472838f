"""Concurrency caps that hold when workers claim at the same moment, per endpoint and per host, and
a cool-down for hosts that time out."""

import threading

import pytest
from django.db import connection
from django.utils import timezone

from callops.webhooks import delivery, services
from callops.webhooks.delivery import caps, lease
from callops.webhooks.models import DeliveryStatus, WebhookDelivery
from tests.helpers import wait_for
from tests.lib.sink import Reply, Sink


def _claim_at_once(monkeypatch, n=2):
    """n workers (threads with their own database connections) that have all read the same due
    rows before any of them takes a slot: the moment a read-then-write cap would let all pass."""
    barrier = threading.Barrier(n, timeout=10)
    real_acquire = caps.acquire

    def acquire_together(*args, **kwargs):
        barrier.wait()
        return real_acquire(*args, **kwargs)

    monkeypatch.setattr(caps, "acquire", acquire_together)
    results = [None] * n

    def worker(i):
        try:
            results[i] = delivery.claim()
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    monkeypatch.setattr(caps, "acquire", real_acquire)
    return results


@pytest.mark.django_db(transaction=True)
def test_endpoint_cap_holds_when_two_workers_claim_at_once(personas, sink, make_call, monkeypatch):
    ep, _ = services.create_endpoint(personas.org, {"url": sink.url, "max_in_flight": 1})
    for _ in range(4):
        make_call()
    results = _claim_at_once(monkeypatch)
    winners = [rows for _token, rows in results if rows]
    assert len(winners) == 1 and len(winners[0]) == 4  # one worker sends them, one after another
    assert WebhookDelivery.objects.filter(endpoint=ep, claimed_until__isnull=False).count() == 4
    assert len(set(WebhookDelivery.objects.filter(endpoint=ep).values_list("claim_token", flat=True))) == 1


@pytest.mark.django_db(transaction=True)
def test_endpoint_cap_of_two_lets_exactly_two_workers_in(personas, sink, make_call, monkeypatch):
    services.create_endpoint(personas.org, {"url": sink.url, "max_in_flight": 2})
    for _ in range(3):
        make_call()
    results = _claim_at_once(monkeypatch, n=3)
    assert sum(1 for _token, rows in results if rows) <= 2


@pytest.mark.django_db(transaction=True)
def test_per_host_cap_for_per_call_urls(personas, settings, sink, make_call, monkeypatch):
    settings.WEBHOOK_MAX_IN_FLIGHT_PER_HOST = 1
    for _ in range(3):
        make_call(webhook_url=sink.url)
    results = _claim_at_once(monkeypatch)
    winners = [rows for _token, rows in results if rows]
    assert len(winners) == 1 and len(winners[0]) == 3


def test_per_host_cap_spares_other_hosts(personas, settings, sink, make_call):
    settings.WEBHOOK_MAX_IN_FLIGHT_PER_HOST = 1
    other = Sink(host="127.0.0.2")
    try:
        make_call(webhook_url=sink.url)
        make_call(webhook_url=sink.url)
        token, rows = delivery.claim(limit=1)
        assert len(rows) == 1 and rows[0].host == f"127.0.0.1:{sink.port}"
        assert delivery.claim() == ("", [])  # the host's one slot is taken
        make_call(webhook_url=other.url)
        token2, rows2 = delivery.claim()
        assert [r.url for r in rows2] == [other.url]  # another host is not held up
        caps.release(token, [rows[0].dest])
        delivery.release(token, [rows[0].pk])
        assert len(delivery.claim()[1]) == 2  # the slot is free again: both rows for that host
    finally:
        other.close()


def test_slot_is_freed_when_the_batch_is_done(personas, endpoint, sink, make_call):
    endpoint.__class__.objects.filter(pk=endpoint.pk).update(max_in_flight=1)
    make_call()
    assert delivery.deliver_due() == 1
    make_call()
    assert delivery.deliver_due() == 1  # nothing left holding the endpoint's only slot
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 2


def test_a_timing_out_host_cools_down_for_every_worker(personas, settings, sink, make_call):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    settings.WEBHOOK_STALLED_HOST_COOLDOWN_SECONDS = 2
    slow = Sink()
    try:
        slow.respond(default=Reply(delay=1.5))
        slow_ep, _ = services.create_endpoint(personas.org, {"url": slow.url})
        services.create_endpoint(personas.org, {"url": sink.url})
        for _ in range(3):
            make_call()
        assert delivery.deliver_due() == 4  # one timeout to the slow host, three to the fast one
        assert len(slow.requests) == 1
        caps.reset_local()  # another worker process: it knows only what Redis says
        assert delivery.deliver_due() == 0  # two more are due for the slow host, but it cools down
        assert len(slow.requests) == 1
        # A person asking for one re-send is not held back by the cool-down.
        untried = WebhookDelivery.objects.filter(endpoint=slow_ep, attempt_count=0).first()
        services.redeliver(untried)
        assert delivery.deliver_due() == 1 and len(slow.requests) == 2
        # The cool-down is a Redis key with a TTL and the held rows' due time: real time, 2 s.
        from callops.lib import redisconn

        def cooled():
            return (not redisconn.client().exists(caps._cool_key(lease.host_key(slow.url)))
                    and WebhookDelivery.objects.filter(endpoint=slow_ep, status="pending",
                                                       next_attempt_at__lte=timezone.now()).count() == 2)

        wait_for(cooled, "the slow host's cool-down to end", interval=0.05)
        slow.respond(default=Reply())
        # Both untried rows go now (the manual try left the automatic schedule alone).
        assert delivery.deliver_due() == 2 and len(slow.requests) == 4
    finally:
        slow.close()


def test_delivery_goes_on_when_redis_is_unreachable(personas, endpoint, sink, make_call, monkeypatch):
    """Slots live in Redis for speed only: without it the cap falls back to counting database leases."""

    def unreachable():
        raise ConnectionError("redis is down")

    monkeypatch.setattr(caps.redisconn, "client", unreachable)
    endpoint.__class__.objects.filter(pk=endpoint.pk).update(max_in_flight=1)
    make_call()
    make_call()
    token, rows = delivery.claim(limit=1)
    assert len(rows) == 1
    assert delivery.claim() == ("", [])  # another worker holds the endpoint's only lease
    delivery.release(token, [rows[0].pk])
    assert delivery.deliver_due() == 2 and len(sink.requests) == 2
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 2


def test_410_with_abort_header_still_disables(personas, endpoint, sink, make_call, run_jobs):
    sink.respond(Reply(status=410, headers={"webhook-delivery": "abort-message"}))
    make_call()
    run_jobs()
    endpoint.refresh_from_db()
    assert not endpoint.enabled and "410" in endpoint.disabled_reason


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.django_db(transaction=True)
def test_a_dead_receivers_backlog_does_not_starve_other_endpoints(personas, sink, make_call, settings):
    from datetime import timedelta

    from django.utils import timezone

    settings.WEBHOOK_BATCH_SIZE = 20
    dead, _ = services.create_endpoint(personas.org, {"url": f"http://127.0.0.1:{_closed_port()}/hook"})
    for _ in range(60):
        make_call()
    # The dead endpoint's backlog is older than anything else: first in the due order.
    WebhookDelivery.objects.filter(endpoint=dead).update(next_attempt_at=timezone.now() - timedelta(minutes=5))
    live, _ = services.create_endpoint(personas.org, {"url": sink.url})
    # From here on, events go to both; the live endpoint's rows are the newest due ones.
    for _ in range(3):
        make_call()
    for _ in range(6):  # a few delivery jobs' worth of batches
        delivery.deliver_due()
    assert WebhookDelivery.objects.filter(endpoint=live, status=DeliveryStatus.DELIVERED).count() == 3
    tried = WebhookDelivery.objects.filter(endpoint=dead, attempt_count__gt=0).count()
    assert 1 <= tried < 63  # the dead host is tried, not hammered once per row per batch
    waiting = WebhookDelivery.objects.filter(endpoint=dead, status=DeliveryStatus.PENDING)
    assert waiting.count() == 63 and not waiting.filter(next_attempt_at__isnull=True).exists()  # nothing lost


@pytest.mark.django_db(transaction=True)
def test_a_cooling_hosts_rows_wait_out_the_cool_down_instead_of_blocking_the_queue(personas, sink, make_call):
    from datetime import timedelta

    from django.utils import timezone

    stalled = Sink()
    try:
        slow, _ = services.create_endpoint(personas.org, {"url": stalled.url})
        for _ in range(5):
            make_call()
        WebhookDelivery.objects.filter(endpoint=slow).update(next_attempt_at=timezone.now() - timedelta(minutes=5))
        caps.cool_down(lease.host_key(stalled.url))
        live, _ = services.create_endpoint(personas.org, {"url": sink.url})
        make_call()
        delivery.deliver_due()
        assert WebhookDelivery.objects.filter(endpoint=live, status=DeliveryStatus.DELIVERED).count() == 1
        held = WebhookDelivery.objects.filter(endpoint=slow, attempt_count=0)
        assert held.count() == 6 and all(r > timezone.now() + timedelta(seconds=30)
                                          for r in held.values_list("next_attempt_at", flat=True))
        assert not stalled.requests
    finally:
        stalled.close()


@pytest.mark.django_db(transaction=True)
def test_a_manual_resend_to_a_cooling_host_does_not_take_its_automatic_rows_along(personas, sink, make_call):
    slow, _ = services.create_endpoint(personas.org, {"url": sink.url})
    for _ in range(3):
        make_call()
    first = WebhookDelivery.objects.filter(endpoint=slow).order_by("pk").first()
    caps.cool_down(lease.host_key(sink.url))  # another worker just saw this host time out
    services.redeliver(first)  # a person asks for this one now
    delivery.deliver_due()
    assert len(sink.requests) == 1  # the re-send, and only it
    first.refresh_from_db()
    assert first.status == DeliveryStatus.DELIVERED
    from datetime import timedelta

    from django.utils import timezone

    waiting = WebhookDelivery.objects.filter(endpoint=slow, attempt_count=0)
    assert waiting.count() == 2  # held back until the host's cool-down ends, not dropped
    assert all(t > timezone.now() + timedelta(seconds=30) for t in waiting.values_list("next_attempt_at", flat=True))
