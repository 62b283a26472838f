"""A batch tick creating the batch's next call while a status change of one of its calls commits:
the two wait for each other in turn, neither is chosen as a deadlock victim.

The status change moves its call out of the batch's `queued` rollup row (holding that row) and
writes the call row twice (the status, then the duration), so at its commit PostgreSQL checks the
call's deferred foreign keys, the batch among them, under FOR KEY SHARE. The tick holds the batch
row and creates a call that counts in the same `queued` rollup row. When the tick's batch lock was
FOR UPDATE it blocked that key check, and each transaction held what the other waited for.
"""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from callops.batches import dispatch
from callops.calls import rollup_reconcile
from callops.calls import services as calls
from callops.calls.models import Call, CallStatus, EventSource
from tests.helpers import wait_for

from .conftest import numbers


def _waiting_on_a_lock(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return bool(row) and row[0] == "Lock"


@pytest.mark.django_db(transaction=True)
def test_a_tick_and_a_commit_of_one_of_its_calls_do_not_deadlock(make_batch, sandbox_agent):
    if connection.vendor != "postgresql":
        pytest.skip("row lock modes are PostgreSQL's")
    # One call a minute: the first tick dials the first recipient, a tick a minute later the second.
    batch = make_batch(sandbox_agent, numbers(2), calls_per_minute=1, max_concurrency=10)
    now = timezone.now()
    dispatch.tick(batch.pk, now=now)
    (first,) = Call.objects.filter(batch=batch)

    errors: dict[str, BaseException] = {}
    pids: dict[str, int] = {}
    moved, go_on = threading.Event(), threading.Event()

    def status_change():
        try:
            with transaction.atomic():
                calls.apply_status(first.pk, CallStatus.COMPLETED, source=EventSource.POLL)
                moved.set()
                go_on.wait(60)  # held open at its commit, after every write
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors["status change"] = exc
        finally:
            connection.close()

    def tick():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                pids["tick"] = cursor.fetchone()[0]
            dispatch.tick(batch.pk, now=now + timedelta(seconds=61))
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors["tick"] = exc
        finally:
            connection.close()

    writer = threading.Thread(target=status_change)
    writer.start()
    ticking = threading.Thread(target=tick)
    try:
        assert moved.wait(60)
        ticking.start()
        # The tick holds the batch and waits for the rollup row the status change holds.
        wait_for(lambda: "tick" in pids and _waiting_on_a_lock(pids["tick"]),
                 "the tick to wait for the status change's rollup row", interval=0.02)
    finally:
        go_on.set()
        writer.join(60)
        if ticking.is_alive() or ticking.ident is not None:
            ticking.join(60)
    assert errors == {}

    assert dict(Call.objects.filter(batch=batch).values_list("to_number", "status")) == {
        numbers(2)[0]: CallStatus.COMPLETED, numbers(2)[1]: CallStatus.QUEUED}
    assert rollup_reconcile.check() == []
