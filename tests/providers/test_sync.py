"""Status sync scheduling: PolyAI first, leases against duplicate enqueues, the shared
per-account rate limit, backoff, and placement setting the first poll."""

from __future__ import annotations

from datetime import timedelta

import django_rq
import pytest
from django.utils import timezone

from callops.calls.models import Call
from callops.providers import ratelimit
from callops.providers.sync import sweep_due_syncs, sync_call

from .conftest import place

pytestmark = pytest.mark.django_db
NUMBER = "+14155550123"


@pytest.mark.django_db(transaction=True)
def test_sweep_orders_polyai_first_and_leases(emulators, make_agent):
    bolna, poly = emulators("bolna"), emulators("polyai")
    b = place(make_agent("bolna", bolna), "+14155550001")
    p = place(make_agent("polyai", poly), "+14155550002")
    past = timezone.now() - timedelta(seconds=5)
    Call.objects.filter(pk=b.pk).update(next_sync_at=past - timedelta(seconds=10))  # due longer
    Call.objects.filter(pk=p.pk).update(next_sync_at=past)
    assert sweep_due_syncs() == 2
    queue = django_rq.get_queue("calls")
    ids = queue.job_ids
    assert ids.index(f"sync-calls-{p.pk}-1") < ids.index(f"sync-calls-{b.pk}-1")
    # leased: a second sweep does not enqueue them again
    assert sweep_due_syncs() == 0
    assert Call.objects.get(pk=b.pk).next_sync_at > timezone.now()


def test_placement_schedules_first_poll_on_provider_cadence(emulators, make_agent, settings):
    settings.PROVIDER_SYNC_SPEED = 1
    call = place(make_agent("polyai", emulators("polyai")), NUMBER)
    delay = (call.next_sync_at or Call.objects.get(pk=call.pk).next_sync_at) - timezone.now()
    assert timedelta(seconds=2) <= delay + timedelta(seconds=0.5) and delay <= timedelta(seconds=5)


def test_rate_limit_is_shared_per_account(emulators, make_agent):
    emu = emulators("callingbox")
    agent = make_agent("callingbox", emu, rate_limit=2)
    calls = [place(agent, f"+1415555000{i}") for i in range(3)]
    before = sum(emu.requests.values())
    results = [sync_call(c.pk) for c in calls]
    assert results.count("rate_limited") == 1
    assert sum(emu.requests.values()) - before == 2
    limited = Call.objects.get(pk=calls[results.index("rate_limited")].pk)
    assert limited.next_sync_at > timezone.now()
    # another account has its own budget
    other = make_agent("callingbox", emu, rate_limit=2)
    assert sync_call(place(other, "+14155550009").pk) != "rate_limited"


def test_ratelimit_window():
    assert ratelimit.acquire(99, 1, now=1000.0) == 0
    assert ratelimit.acquire(99, 1, now=1001.0) == pytest.approx(19.0)
    assert ratelimit.acquire(99, 1, now=1021.0) == 0  # next minute


def test_errors_back_off_exponentially(emulators, make_agent, settings):
    settings.PROVIDER_SYNC_SPEED = 1
    emu = emulators("bolna")
    call = place(make_agent("bolna", emu), NUMBER)
    delays = []
    for _ in range(3):
        emu.faults.force("500", "read")
        now = timezone.now()
        sync_call(call.pk)
        delays.append((Call.objects.get(pk=call.pk).next_sync_at - now).total_seconds())
    assert delays[0] == pytest.approx(10, abs=1) and delays[1] == pytest.approx(20, abs=1)
    assert delays[2] == pytest.approx(40, abs=1)
    assert Call.objects.get(pk=call.pk).sync_failures == 3


def test_terminal_calls_are_not_polled(emulators, make_agent):
    emu = emulators("bolna")
    emu.script(NUMBER, "error")
    call = place(make_agent("bolna", emu), NUMBER)
    import time

    time.sleep(0.05)
    assert sync_call(call.pk) == "failed"
    call = Call.objects.get(pk=call.pk)
    assert call.next_sync_at is None and call.error_code == "provider_error"
    before = sum(emu.requests.values())
    assert sync_call(call.pk) == "done"
    assert sum(emu.requests.values()) == before
