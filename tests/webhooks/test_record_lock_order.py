"""Recording an attempt (delivery.record.record_many) while a status change of the same call is
under way: the two transactions wait for each other in turn, neither is chosen as a deadlock victim.

The status change locks the call row (its conditional UPDATE), then fans its webhook event out:
inserting a delivery for an endpoint takes a FOR KEY SHARE lock on the endpoint row (the foreign
key check). Recording a failed attempt locks that endpoint row to update its health, then locks the
call to summarise its webhook state. When the endpoint lock was FOR UPDATE it blocked the key
share, and the two transactions each held what the other waited for.
"""

import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from callops.calls import services as calls
from callops.calls.models import Call, CallStatus, EventSource
from callops.webhooks.delivery import lease
from callops.webhooks.delivery.record import Sent, record_many
from callops.webhooks.delivery.request import Outcome
from callops.webhooks.models import DeliveryStatus, Trigger, WebhookAttempt, WebhookDelivery
from tests.helpers import wait_for


def _waiting_on_a_lock(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return bool(row) and row[0] == "Lock"


def _record_while(first, rest, items, token, waiting_for: str) -> dict[str, BaseException]:
    """Another writer runs `first()` in a transaction and holds what it locked; record_many(items,
    token) starts and is seen waiting on a lock (`waiting_for` says which); then the writer goes
    on with `rest()` and commits. Returns what either raised (empty: neither was a deadlock victim)."""
    errors: dict[str, BaseException] = {}
    pids: dict[str, int] = {}
    locked, go_on = threading.Event(), threading.Event()

    def writer():
        try:
            with transaction.atomic():
                first()
                locked.set()
                go_on.wait(60)
                rest()
        except BaseException as exc:  # noqa: BLE001 - returned to the test
            errors["writer"] = exc
        finally:
            connection.close()

    def recorder():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                pids["recorder"] = cursor.fetchone()[0]
            record_many(items, token)
        except BaseException as exc:  # noqa: BLE001 - returned to the test
            errors["record"] = exc
        finally:
            connection.close()

    writing = threading.Thread(target=writer)
    writing.start()
    recording = threading.Thread(target=recorder)
    try:
        assert locked.wait(60)
        recording.start()
        wait_for(lambda: "recorder" in pids and _waiting_on_a_lock(pids["recorder"]), waiting_for, interval=0.02)
    finally:
        go_on.set()
        writing.join(60)
        if recording.ident is not None:
            recording.join(60)
    assert not writing.is_alive() and not recording.is_alive()
    return errors


@pytest.mark.django_db(transaction=True)
def test_a_failed_attempt_recorded_while_its_call_moves_on_does_not_deadlock(personas, sandbox_agent, endpoint):
    if connection.vendor != "postgresql":
        pytest.skip("row lock modes are PostgreSQL's")
    call = calls.create_call(org=personas.org, agent=sandbox_agent, to_number="+14155550100")
    token, rows = lease.claim()
    (row,) = [r for r in rows if r.call_id == call.pk and r.endpoint_id == endpoint.pk]
    # A failure: the endpoint's health changes, so its row is locked rather than updated in one statement.
    sent = Sent(row, Trigger.AUTO, row.url, {}, row.body.encode(), Outcome(False, status=500, error="HTTP 500"),
                timezone.now())

    def first():
        # The first write of apply_status, held open at the point before its fan-out.
        Call.objects.filter(pk=call.pk).update(updated_at=timezone.now())

    # The recorder has locked what it locks before the call, and then waits for the call row.
    assert _record_while(first, lambda: calls.apply_status(call.pk, CallStatus.RINGING, source=EventSource.SYSTEM),
                         [sent], token, "the recorder to wait for the call row") == {}

    delivery = WebhookDelivery.objects.get(pk=row.pk)
    assert (delivery.status, delivery.attempt_count, delivery.auto_attempts, delivery.claim_token,
            delivery.last_error, delivery.last_response_status) == (DeliveryStatus.PENDING, 1, 1, "", "HTTP 500", 500)
    assert list(WebhookAttempt.objects.filter(delivery=delivery).values_list("number", "succeeded")) == [(1, False)]
    call.refresh_from_db()
    assert call.status == CallStatus.RINGING
    # Both writers' deliveries count: the new call.ringing event's are pending, the failed one retrying.
    assert WebhookDelivery.objects.filter(call=call, event__type="call.ringing").count() == 1
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 1


@pytest.mark.django_db(transaction=True)
def test_recording_many_calls_takes_their_rollup_rows_in_key_order(personas, sandbox_agent, endpoint):
    """Recording deliveries of several calls moves each call's webhook state, and with it the call
    between rollup rows. Moved one call at a time (in call id order), the rows were taken in an
    order no other writer shares; a writer taking them in key order (as every single rollup update
    does) then deadlocked with the recorder, and the recorder fell back to one attempt at a time."""
    if connection.vendor != "postgresql":
        pytest.skip("row lock modes are PostgreSQL's")
    from callops.calls import rollup_reconcile
    from callops.calls.models import CallRollup
    from callops.webhooks.delivery.request import Outcome as Sent_outcome

    ringing = calls.create_call(org=personas.org, agent=sandbox_agent, to_number="+14155550100")
    done = calls.create_call(org=personas.org, agent=sandbox_agent, to_number="+14155550101")
    calls.apply_status(ringing.pk, CallStatus.RINGING, source=EventSource.SYSTEM)
    calls.apply_status(done.pk, CallStatus.COMPLETED, source=EventSource.SYSTEM)
    assert ringing.pk < done.pk  # call id order puts `ringing` first, key order `completed` first
    token, rows = lease.claim()
    items = [Sent(r, Trigger.AUTO, r.url, {}, r.body.encode(), Sent_outcome(True, status=200), timezone.now())
             for r in rows]

    def rollup(status: str, webhook_status: str):
        return CallRollup.objects.select_for_update().filter(organization=personas.org, status=status,
                                                             webhook_status=webhook_status)

    def lock(status):
        def take():
            assert list(rollup(status, "pending"))
        return take

    assert _record_while(lock(CallStatus.COMPLETED), lock(CallStatus.RINGING), items, token,
                         "the recorder to wait for a rollup row") == {}

    assert dict(Call.objects.filter(pk__in=[ringing.pk, done.pk]).values_list("pk", "webhook_status")) == {
        ringing.pk: "delivered", done.pk: "delivered"}
    assert set(WebhookDelivery.objects.filter(call__in=[ringing, done]).values_list("status", flat=True)) == {
        DeliveryStatus.DELIVERED}
    assert rollup_reconcile.check() == []


@pytest.mark.django_db(transaction=True)
def test_recording_and_another_writer_of_the_same_deliveries_take_them_in_id_order(personas, sandbox_agent,
                                                                                    endpoint):
    """A recovery marking a chunk locks its deliveries in id order. The recorder used to update
    failed deliveries one by one in the order they were sent: with the newer delivery first, it
    held that row while waiting for the older one, which the marking held while waiting for the
    newer: a deadlock. Now the recorder locks them in id order first, so it waits for the whole
    marking instead."""
    if connection.vendor != "postgresql":
        pytest.skip("row lock modes are PostgreSQL's")
    from callops.webhooks.models import lock_in_id_order

    for n in range(2):
        calls.create_call(org=personas.org, agent=sandbox_agent, to_number=f"+1415555010{n}")
    token, rows = lease.claim()
    rows = sorted(rows, key=lambda r: -r.pk)  # sent newest first
    older, newer = rows[-1].pk, rows[0].pk
    items = [Sent(r, Trigger.AUTO, r.url, {}, r.body.encode(), Outcome(False, status=500, error="HTTP 500"),
                  timezone.now()) for r in rows]

    def rest():
        assert lock_in_id_order([older, newer]) == {older, newer}
        WebhookDelivery.objects.filter(pk__in=[older, newer]).update(manual_trigger=Trigger.BULK)

    def first():
        assert lock_in_id_order([older]) == {older}

    assert _record_while(first, rest, items, token,
                         "the recorder to wait for the older delivery") == {}
    assert sorted(WebhookAttempt.objects.values_list("delivery_id", "succeeded")) == [(older, False), (newer, False)]
    assert set(WebhookDelivery.objects.filter(pk__in=[older, newer]).values_list("attempt_count", "last_error")) == {
        (1, "HTTP 500")}


@pytest.mark.django_db
def test_an_attempt_at_a_delivery_deleted_in_flight_is_dropped_and_the_others_recorded(personas, sandbox_agent,
                                                                                        endpoint):
    for n in range(2):
        calls.create_call(org=personas.org, agent=sandbox_agent, to_number=f"+1415555010{n}")
    token, rows = lease.claim()
    gone, kept = rows
    WebhookDelivery.objects.filter(pk=gone.pk).delete()  # e.g. with its endpoint, while being sent
    record_many([Sent(r, Trigger.AUTO, r.url, {}, r.body.encode(), Outcome(True, status=200), timezone.now())
                 for r in rows], token)
    assert list(WebhookAttempt.objects.values_list("delivery_id", "succeeded")) == [(kept.pk, True)]
    assert WebhookDelivery.objects.get(pk=kept.pk).status == DeliveryStatus.DELIVERED
