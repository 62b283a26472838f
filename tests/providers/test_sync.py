"""Status sync scheduling: PolyAI first, leases against duplicate enqueues, the shared per-account
request budget (every kind of request, documented defaults, 429 pauses for every worker),
backoff, placement setting the first poll, and the stale sweep's clock."""

from __future__ import annotations

import time
from datetime import timedelta

import django_rq
import pytest
from django.utils import timezone

from callops.batches.models import Batch
from callops.calls import services as call_services
from callops.calls.jobs import place_call_job
from callops.calls.models import Call, CallEvent, EventSource
from callops.calls.status_sync import stale_calls, sweep_due_syncs, sweep_stale_calls, sync_call
from callops.providers import ratelimit
from callops.providers.base import ProviderError
from callops.providers.emulators.core import Outcome
from callops.providers.models import ProviderAccount
from callops.providers.registry import adapter_for
from tests.helpers import wait_for

from .conftest import new_call, place


@pytest.fixture
def budget_waits(monkeypatch):
    """What the adapters' budget waits do: each sleep they ask for, and how long the account was
    still paused when each request went out (real time: the pause is a Redis key's TTL)."""
    from callops.providers import base, transport

    record = {"slept": [], "paused_at_send": []}
    real_sleep, real_send = time.sleep, transport.send

    class _Time:  # base.py's view of the time module: sleeps recorded, then really slept
        def __getattr__(self, name):
            return getattr(time, name)

        @staticmethod
        def sleep(seconds):
            record["slept"].append(seconds)
            real_sleep(seconds)

    def send(kind, method, url, **kw):
        record["paused_at_send"].append(max(ratelimit.paused_for(a.pk) for a in ProviderAccount.objects.all()))
        return real_send(kind, method, url, **kw)

    monkeypatch.setattr(base, "time", _Time())
    monkeypatch.setattr(transport, "send", send)
    return record

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


def test_placement_schedules_first_poll_on_provider_cadence(emulators, make_agent, settings, clock):
    settings.PROVIDER_SYNC_SPEED = 1
    call = place(make_agent("polyai", emulators("polyai")), NUMBER)
    delay = (call.next_sync_at or Call.objects.get(pk=call.pk).next_sync_at) - timezone.now()
    assert delay == timedelta(seconds=3)  # PolyAI's poll interval


# --- the request budget ----------------------------------------------------------------------------
def test_ratelimit_is_a_sliding_minute():
    assert ratelimit.acquire(99, 1, now=1000.0) == 0
    assert ratelimit.acquire(99, 1, now=1001.0) == pytest.approx(59.0)
    assert ratelimit.acquire(99, 1, now=1060.5) == 0
    # Three at the end of one minute and none again until they are a minute old: a fixed
    # per-minute counter would allow three more at the top of the next minute (1080).
    for t in (1078.0, 1078.5, 1079.0):
        assert ratelimit.acquire(98, 3, now=t) == 0
    assert ratelimit.acquire(98, 3, now=1081.0) == pytest.approx(57.0)
    assert ratelimit.acquire(98, 3, now=1138.1) == 0
    # Buckets of one account are separate budgets.
    assert ratelimit.acquire(98, 3, bucket="placement", now=1081.0) == 0


def test_polls_share_the_budget_with_placements(emulators, make_agent):
    emu = emulators("callingbox")
    agent = make_agent("callingbox", emu, rate_limit=4)
    calls = [place(agent, f"+1415555000{i}") for i in range(3)]  # 3 of the 4 requests
    before = sum(emu.requests.values())
    results = [sync_call(c.pk) for c in calls]
    assert results.count("rate_limited") == 2
    assert sum(emu.requests.values()) - before == 1
    limited = Call.objects.get(pk=calls[results.index("rate_limited")].pk)
    assert limited.next_sync_at > timezone.now() + timedelta(seconds=30)  # when the oldest token frees up
    # another account has its own budget
    other = make_agent("callingbox", emu, rate_limit=2)
    assert sync_call(place(other, "+14155550009").pk) != "rate_limited"


def test_placement_without_budget_answers_fast_or_reschedules(emulators, make_agent, transactional_db,
                                                              budget_waits):
    emu = emulators("callingbox")
    agent = make_agent("callingbox", emu, rate_limit=1)
    assert place(agent, "+14155550001").provider_call_id
    # The API path: the budget is spent for ~60 s, so the call fails at once (a 502 for the
    # caller) instead of holding the request; nothing reaches the provider.
    refused = place(agent, "+14155550002")
    assert budget_waits["slept"] == []  # refused without waiting: the wait is longer than allowed
    assert refused.status == "failed" and refused.error_code == "rate_limited"
    # The background path: the call waits for the budget instead of failing.
    waiting = new_call(agent, "+14155550003")
    place_call_job(waiting.pk)
    waiting.refresh_from_db()
    assert waiting.status == "queued" and waiting.dial_claimed_at is None
    assert waiting.scheduled_at > timezone.now() + timedelta(seconds=30)
    assert CallEvent.objects.filter(call=waiting, note__startswith="provider unavailable (rate_limited)").exists()
    assert dict(emu.creates) == {"+14155550001": 1}


def test_placement_waits_briefly_for_the_budget(emulators, make_agent, settings, budget_waits):
    emu = emulators("callingbox")
    agent = make_agent("callingbox", emu)
    account_id = agent.provider_account.pk
    ratelimit.pause(account_id, 0.4)  # as if another worker had just seen a 429
    call = place(agent, NUMBER)
    # It waited out the pause (each wait at most what was left of it), then sent once, unpaused.
    assert budget_waits["slept"] and all(0 < s <= 0.4 for s in budget_waits["slept"])
    assert set(budget_waits["paused_at_send"]) == {0.0}  # nothing went out while paused
    assert call.provider_call_id and emu.creates[NUMBER] == 1


@pytest.mark.parametrize("op", ["test", "cancel", "batch_submit", "batch_read", "batch_stop"])
def test_every_request_kind_spends_the_budget(op, emulators, make_agent, settings):
    settings.PROVIDER_BATCH_RATE_LIMIT_MAX_WAIT_SECONDS = 0.2
    emu = emulators("bolna")
    emu.script(NUMBER, Outcome([(0, "queued")], None))
    agent = make_agent("bolna", emu, rate_limit=3)
    call = place(agent, NUMBER)  # request 1
    adapter = adapter_for(agent.provider_account)
    batch_id = adapter.place_batch("agent-1", [{"contact_number": "+14155550002"}])  # request 2
    assert "reachable" in adapter.test_connection()  # request 3: the budget is spent
    before = sum(emu.requests.values())
    actions = {"test": adapter.test_connection, "cancel": lambda: adapter.cancel_call(call),
               "batch_submit": lambda: adapter.place_batch("agent-1", [{"contact_number": "+14155550003"}]),
               "batch_read": lambda: adapter.fetch_batch(batch_id), "batch_stop": lambda: adapter.stop_batch(batch_id)}
    with pytest.raises(ProviderError) as exc:
        actions[op]()
    assert exc.value.code == "rate_limited" and not exc.value.permanent and exc.value.retry_after > 30
    assert exc.value.http_status is None  # our own budget: certainly not sent
    assert sum(emu.requests.values()) == before


def test_documented_limits_are_the_defaults(personas):
    def limit(kind, op, rate=None):
        account = ProviderAccount(organization=personas.org, kind=kind, name=kind, rate_limit_per_minute=rate)
        return adapter_for(account).rate_limit(op)

    assert limit("trillet", "create") == ("default", 60)
    assert limit("trillet", "read") == ("default", 60)
    assert limit("bolna", "create") == ("placement", 500)
    assert limit("bolna", "read") == ("default", 1000)
    assert limit("sandbox", "read") == ("default", None)
    assert limit("trillet", "read", rate=90) == ("default", 90)  # a figure agreed with the provider
    created = ProviderAccount.objects.create(organization=personas.org, kind="trillet", name="t")
    assert created.rate_limit_per_minute is None


def test_trillet_placements_stay_under_60_a_minute(emulators, make_agent):
    # The emulator answers 429 past 60 requests a minute, as Trillet documents; callops must never
    # get there with the default budget.
    emu = emulators("trillet", rate_limit_per_minute=60)
    agent = make_agent("trillet", emu, rate_limit=None)
    calls = [place(agent, f"+1415556{i:04d}") for i in range(62)]
    assert sum(1 for c in calls if c.provider_call_id) == 60
    assert {c.error_code for c in calls if not c.provider_call_id} == {"rate_limited"}
    assert emu.requests[("POST", 429)] == 0


def test_a_429_pauses_the_account_for_every_worker(emulators, make_agent, clock, monkeypatch):
    emu = emulators("callingbox")
    emu.faults.retry_after = 0.5
    agent = make_agent("callingbox", emu)
    first, second = place(agent, "+14155550001"), place(agent, "+14155550002")
    emu.faults.force("429", "read")
    pauses, real_pause = [], ratelimit.pause
    monkeypatch.setattr(ratelimit, "pause", lambda account_id, seconds: pauses.append((account_id, seconds))
                        or real_pause(account_id, seconds))
    assert sync_call(first.pk) == "error:rate_limited"
    assert pauses == [(agent.provider_account.pk, 0.5)]  # the account paused for the Retry-After
    assert 0 < ratelimit.paused_for(agent.provider_account.pk) <= 0.5
    # Another worker (a new adapter, a new job) sends nothing while the pause lasts.
    before = sum(emu.requests.values())
    assert sync_call(second.pk) == "rate_limited"
    assert sum(emu.requests.values()) == before
    assert Call.objects.get(pk=second.pk).next_sync_at > timezone.now() + timedelta(seconds=0.2)
    wait_for(lambda: ratelimit.paused_for(agent.provider_account.pk) == 0, "the account's 429 pause to end")
    assert sync_call(second.pk) == "queued"  # the test clock has not moved: still queued at the provider


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


def test_terminal_calls_are_not_polled(emulators, make_agent, clock):
    emu = emulators("bolna")
    emu.script(NUMBER, "error")
    call = place(make_agent("bolna", emu), NUMBER)
    clock.advance(0.05)
    assert sync_call(call.pk) == "failed"
    call = Call.objects.get(pk=call.pk)
    assert call.next_sync_at is None and call.error_code == "provider_error"
    before = sum(emu.requests.values())
    assert sync_call(call.pk) == "done"
    assert sum(emu.requests.values()) == before


# --- the stale sweep's clock -----------------------------------------------------------------------
def _provider_batch(agent, provider_batch_id="b-1"):
    return Batch.objects.create(organization=agent.organization, agent=agent, mode=Batch.Mode.PROVIDER,
                                status="running", provider_batch_id=provider_batch_id)


def test_stale_clock_starts_when_the_provider_starts_the_call(emulators, make_agent, settings):
    settings.PROVIDER_SYNC_SPEED = 1
    agent = make_agent("trillet", emulators("trillet"))
    long_ago = timezone.now() - timedelta(hours=3)  # past Trillet's 1 h maximum call length
    batch = _provider_batch(agent)

    def call(number, batch=batch, **fields):
        c = new_call(agent, number, batch=batch)
        Call.objects.filter(pk=c.pk).update(dial_claimed_at=long_ago, provider_job_id=f"b-1/{number}", **fields)
        return c

    waiting = call("+14155550001")  # still in the provider's list: not stuck
    started_recently = call("+14155550002", status="in_progress", started_at=timezone.now() - timedelta(minutes=5))
    started_long_ago = call("+14155550003", status="in_progress", started_at=long_ago)
    dialing_long_ago = call("+14155550004", status="initiated")  # `initiated` reported, never ringing
    CallEvent.objects.create(call=dialing_long_ago, source=EventSource.POLL, status="initiated",
                             created_at=long_ago, ignored=True)
    dialing_now = call("+14155550005", status="initiated")
    CallEvent.objects.create(call=dialing_now, source=EventSource.CALLBACK, status="initiated")
    alone = call("+14155550006", batch=None)  # placed on its own: the clock started at placement
    never_sent = call("+14155550007", batch=_provider_batch(agent, "pending"))  # the upload never happened
    single, batched = stale_calls("trillet")
    assert set(single.values_list("pk", flat=True)) == {alone.pk, never_sent.pk}
    assert set(batched.values_list("pk", flat=True)) == {started_long_ago.pk, dialing_long_ago.pk}
    assert waiting.pk not in set(batched.values_list("pk", flat=True))
    assert started_recently and dialing_now
    # A list the provider never gets to is given up on after PROVIDER_BATCH_MAX_WAIT_SECONDS.
    settings.PROVIDER_BATCH_MAX_WAIT_SECONDS = 2 * 3600
    assert waiting.pk in set(stale_calls("trillet")[1].values_list("pk", flat=True))
    # PROVIDER_MAX_CALL_SECONDS replaces the provider's own limit: at 4 h, none has run too long.
    settings.PROVIDER_BATCH_MAX_WAIT_SECONDS = 86400
    settings.PROVIDER_MAX_CALL_SECONDS = 4 * 3600
    single, batched = stale_calls("trillet")
    assert (list(single), list(batched)) == ([], [])
    settings.PROVIDER_MAX_CALL_SECONDS = 2 * 3600
    assert set(stale_calls("trillet")[1].values_list("pk", flat=True)) == {started_long_ago.pk, dialing_long_ago.pk}


def test_waiting_calls_of_a_long_provider_batch_are_not_failed(emulators, make_agent, run_jobs, settings, clock):
    """End to end against the Trillet emulator: a batch dialed one call at a time."""
    settings.PROVIDER_SYNC_SPEED = 3600  # Trillet's 1 h maximum call length is 1 s here
    emu = emulators("trillet", batch_concurrency=1, batch_wave_seconds=1000)  # the 2nd call waits 20 s
    hangs = Outcome([(0, "queued"), (2, "active")], None)  # live at the provider, never ends
    for number in ("+14155550001", "+14155550002"):
        emu.script(number, hangs)
    agent = make_agent("trillet", emu)
    adapter = adapter_for(agent.provider_account)
    batch_id = adapter.place_batch("agent_1", [{"phone_number": "+14155550001"}, {"phone_number": "+14155550002"}])
    batch = _provider_batch(agent, batch_id)
    # The whole list was reserved 10 s ago: ten maximum call lengths, for the old clock.
    reserved = timezone.now() - timedelta(seconds=10)
    calls, jobs = [], []
    for i, number in enumerate(("+14155550001", "+14155550002")):
        c = new_call(agent, number, batch=batch)
        jobs.append(f"{batch_id}/{emu.calls[emu.batches[batch_id]['jobs'][i]].job_id}")
        Call.objects.filter(pk=c.pk).update(dial_claimed_at=reserved, provider_job_id=jobs[-1])
        call_services.apply_status(c, "initiated", source=EventSource.SYSTEM, note="handed to trillet in batch")
        calls.append(c)
    clock.advance(0.1)
    assert [sync_call(c.pk) for c in calls] == ["in_progress", "initiated"]  # the 2nd job is `waiting`
    running, waiting = (Call.objects.get(pk=c.pk) for c in calls)
    # The per-call read of a batch job keeps the "<batch>/<job>" id it needs.
    assert [running.provider_job_id, waiting.provider_job_id] == jobs
    assert sweep_stale_calls() == 0  # the running call has been live for less than its maximum
    clock.advance(1.1)
    assert sweep_stale_calls() == 1
    run_jobs()
    running, waiting = (Call.objects.get(pk=c.pk) for c in calls)
    assert (running.status, running.error_code) == ("failed", "stale")
    assert waiting.status == "initiated"  # still waiting its turn at the provider


def test_background_batch_reads_wait_for_the_budget_where_requests_for_a_person_do_not(emulators, make_agent,
                                                                                       settings, budget_waits):
    settings.PROVIDER_RATE_LIMIT_MAX_WAIT_SECONDS = 0.1
    settings.PROVIDER_BATCH_RATE_LIMIT_MAX_WAIT_SECONDS = 5
    emu = emulators("bolna")
    agent = make_agent("bolna", emu)
    adapter = adapter_for(agent.provider_account)
    batch_id = adapter.place_batch("agent-1", [{"contact_number": "+14155550002"}])
    ratelimit.pause(agent.provider_account_id, 0.5)  # another worker just saw a 429
    with pytest.raises(ProviderError) as exc:
        adapter.test_connection()
    assert exc.value.code == "rate_limited"
    sent_before = len(budget_waits["paused_at_send"])
    assert adapter.fetch_batch(batch_id) is not None  # waited out the pause instead of failing
    assert budget_waits["slept"] and all(0 < s <= 0.5 for s in budget_waits["slept"])
    assert set(budget_waits["paused_at_send"][sent_before:]) == {0.0}


def test_a_call_released_for_another_placement_is_not_failed_by_an_earlier_stale_sweep(sandbox_agent, clock,
                                                                                       run_jobs):
    """The sweep found the call stuck on an old dial claim and enqueued its reconciliation; before
    the job ran, the interrupted placement was released to be placed again. The job judges the call
    as it is now, so the call waits for its new placement instead of failing `stale`."""
    call = new_call(sandbox_agent, "+12025550100")
    claimed = timezone.now() - timedelta(hours=2)  # far past the sandbox's maximum call length
    Call.objects.filter(pk=call.pk).update(dial_claimed_at=claimed)
    assert sweep_stale_calls() == 1
    # What reconcile_placement does when the provider never received the call.
    Call.objects.filter(pk=call.pk).update(dial_claimed_at=None, scheduled_at=timezone.now() + timedelta(hours=1))
    run_jobs()
    call.refresh_from_db()
    assert (call.status, call.error_code) == ("queued", "")
    assert not call.events.filter(status="failed").exists()
