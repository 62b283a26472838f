"""Call rollups: kept by every write in its own transaction, equal to the calls, under concurrency,
and checked and rebuilt by `manage.py rollups`."""

import io
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction
from django.utils import timezone

from callops.calls import rollup_reconcile, services
from callops.calls.models import Call, CallRollup, CallStatus, EventSource
from tests.helpers import wait_for

pytestmark = pytest.mark.django_db


def rows(org, **filters):
    return list(CallRollup.objects.filter(organization=org, n__gt=0, **filters).order_by("status").values(
        "status", "error_code", "n", "answered", "timed", "talk_seconds", "billed", "cost_milli_cents"))


def run_rollups(*args):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("rollups", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


def test_status_changes_move_one_count_from_tuple_to_tuple(personas, sandbox_agent):
    call = services.create_call(org=personas.org, agent=sandbox_agent, to_number="+14155550100")
    assert [(r["status"], r["n"]) for r in rows(personas.org)] == [("queued", 1)]
    services.apply_status(call, CallStatus.RINGING, source=EventSource.POLL)
    services.apply_status(call, CallStatus.IN_PROGRESS, source=EventSource.POLL)
    assert [(r["status"], r["n"]) for r in rows(personas.org)] == [("in_progress", 1)]
    services.apply_status(call, CallStatus.COMPLETED, source=EventSource.POLL,
                          fields={"duration_seconds": 42, "billing_amount_milli_cents": 1500})
    assert rows(personas.org) == [{"status": "completed", "error_code": "", "n": 1, "answered": 1, "timed": 1,
                                   "talk_seconds": 42, "billed": 1, "cost_milli_cents": 1500}]
    # An ignored late report still fills a blank detail: the sums follow it.
    other = services.create_call(org=personas.org, agent=sandbox_agent, to_number="+14155550101")
    services.apply_status(other, CallStatus.FAILED, source=EventSource.POLL)
    services.apply_status(other, CallStatus.FAILED, source=EventSource.CALLBACK, fields={"error_code": "balance_low"})
    assert [(r["status"], r["error_code"], r["n"]) for r in rows(personas.org)] == [
        ("completed", "", 1), ("failed", "balance_low", 1)]
    assert rollup_reconcile.check() == []
    # The hour is the UTC hour of creation.
    assert set(CallRollup.objects.filter(n__gt=0).values_list("hour", flat=True)) == {
        call.created_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)}


def test_webhook_and_result_state_and_backdating_are_counted_where_the_call_now_is(personas, make_call,
                                                                                  failed_call):
    done = make_call(CallStatus.COMPLETED, webhook_status="pending")
    Call.objects.filter(pk=done.pk).update(webhook_status="failed", result_status="failed",
                                           result_error="empty transcript: nothing to extract")
    assert list(CallRollup.objects.filter(n__gt=0, status="completed").values_list(
        "webhook_status", "result_status", "extraction_cause", "n")) == [("failed", "failed", "empty_transcript", 1)]
    early = failed_call("balance_low", ago=timedelta(hours=30))
    late = failed_call("balance_low", ago=timedelta(minutes=5))
    assert rollup_reconcile.check() == []
    # The latest of a tuple leaving it: its last-seen time comes back to the remaining call.
    same_hour = failed_call("balance_low", ago=timedelta(minutes=7))
    Call.objects.filter(pk=late.pk).update(webhook_status="delivered")
    assert rollup_reconcile.check() == []
    left = CallRollup.objects.get(n=1, status="failed", webhook_status="", hour=CallRollup.objects.get(
        n__gt=0, webhook_status="delivered").hour)
    assert left.last_ended_at == same_hour.ended_at == left.first_ended_at
    assert early.created_at < left.hour
    # Deleting calls takes them off too.
    Call.objects.filter(pk=early.pk).delete()
    assert rollup_reconcile.check() == []


def test_check_prints_drift_and_fails_and_rebuild_repairs_only_its_scope(personas, make_call, outsider_agent):
    make_call(CallStatus.COMPLETED)
    make_call(CallStatus.FAILED)
    services.create_call(org=personas.other_org, agent=outsider_agent, to_number="+14155550102")
    assert run_rollups("--check") == (0, "rollups match the calls\n", "")

    # Corrupt: a count off by 5, a tuple gone, and a tuple with no calls at all.
    completed = CallRollup.objects.get(organization=personas.org, status="completed", n=1)
    CallRollup.objects.filter(pk=completed.pk).update(n=6)
    CallRollup.objects.filter(organization=personas.org, status="failed", n=1).delete()
    CallRollup.objects.filter(organization=personas.other_org, n=1).update(talk_seconds=99)
    code, out, err = run_rollups("--check")
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == 3
    assert any("status='completed'" in line and "n 6 -> 1" in line for line in lines)
    assert any("status='failed'" in line and "n 0 -> 1" in line for line in lines)
    assert any(f"organization_id={personas.other_org.pk}" in line and "talk_seconds 99 -> 0" in line
               for line in lines)
    assert err == "drift in 3 rollup rows (manage.py rollups --rebuild repairs it)\n"

    assert run_rollups("--rebuild", "--org", "Acme")[0] == 0
    code, out, _ = run_rollups("--check")
    assert code == 1 and len(out.splitlines()) == 1 and f"organization_id={personas.other_org.pk}" in out
    assert run_rollups("--check", "--org", "Acme")[0] == 0
    # Three hourly tuples and their three days.
    assert run_rollups("--rebuild") == (0, "rebuilt 6 rollup rows\n", "")
    assert run_rollups("--check") == (0, "rollups match the calls\n", "")


def test_rebuild_over_a_time_range_leaves_other_hours_alone(personas, make_call):
    old = make_call(CallStatus.COMPLETED, age=timedelta(days=2))
    make_call(CallStatus.COMPLETED)
    CallRollup.objects.filter(n__gt=0).update(n=7)
    since = (old.created_at - timedelta(minutes=1)).isoformat()
    until = (old.created_at + timedelta(minutes=1)).isoformat()
    assert run_rollups("--rebuild", "--since", since, "--until", until)[0] == 0
    assert sorted(CallRollup.objects.filter(n__gt=0).values_list("n", flat=True)) == [1, 7]
    code, out, _ = run_rollups("--check")
    assert code == 1 and "n 7 -> 1" in out
    assert run_rollups("--check", "--since", since, "--until", until)[0] == 0
    with pytest.raises(CommandError, match="--since must be before --until"):
        call_command("rollups", "--check", "--since", until, "--until", since)


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_inserts_of_one_tuple_make_one_row(personas, sandbox_agent):
    """Two transactions create the first call of the same tuple: the second waits on the unique
    index, loses, and adds to the row the first made."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks and the unique index wait are PostgreSQL's")
    now = timezone.now()
    errors = []

    def second():
        try:
            services.create_call(org=personas.org, agent=sandbox_agent, to_number="+14155550199")
        except Exception as exc:  # noqa: BLE001 - reported to the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    with transaction.atomic():
        services.create_call(org=personas.org, agent=sandbox_agent, to_number="+14155550198")
        with connection.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            mine = cur.fetchone()[0]
        worker = threading.Thread(target=second)
        worker.start()

        def blocked_behind_me():
            with connection.cursor() as cur:
                # Inside a transaction pg_stat_activity is read once and kept: drop that copy.
                cur.execute("SELECT pg_stat_clear_snapshot()")
                cur.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                            "AND %s = ANY(pg_blocking_pids(pid))", [mine])
                return cur.fetchone()[0]

        wait_for(lambda: errors or blocked_behind_me(), "the second insert to wait on the first")
    worker.join(60)
    assert not errors
    assert list(CallRollup.objects.values_list("status", "n")) == [("queued", 2)]
    assert CallRollup.objects.get().hour == now.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    assert rollup_reconcile.check() == []


def test_hour_of_is_the_utc_hour():
    from zoneinfo import ZoneInfo

    from callops.calls.rollups import hour_of

    local = datetime(2026, 11, 1, 1, 30, tzinfo=ZoneInfo("America/New_York"))  # the first 01:30, EDT
    assert hour_of(local) == datetime(2026, 11, 1, 5, 0, tzinfo=UTC)
    assert hour_of(local.replace(fold=1)) == datetime(2026, 11, 1, 6, 0, tzinfo=UTC)


@pytest.mark.django_db(transaction=True)
def test_concurrent_status_changes_and_races_leave_no_drift(personas, sandbox_agent):
    """Four writers at once: racing terminal reports on the same calls and moves of other calls
    between the same tuples. Exactly one report wins per call and the counters equal the calls."""
    calls = [services.create_call(org=personas.org, agent=sandbox_agent, to_number=f"+1415555020{i}")
             for i in range(6)]
    barrier = threading.Barrier(4)
    errors = []

    def writer(outcome):
        try:
            barrier.wait()
            for call in calls:
                services.apply_status(call.pk, CallStatus.RINGING, source=EventSource.POLL)
                services.apply_status(call.pk, outcome, source=EventSource.POLL, fields={"duration_seconds": 5})
        except Exception as exc:  # noqa: BLE001 - reported to the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(s,))
               for s in (CallStatus.COMPLETED, CallStatus.FAILED, CallStatus.NO_ANSWER, CallStatus.BUSY)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    final = Counter(Call.objects.values_list("status", flat=True))
    assert sum(final.values()) == 6 and not {"queued", "ringing"} & set(final)
    counted: Counter = Counter()
    for status, n in CallRollup.objects.filter(n__gt=0).values_list("status", "n"):
        counted[status] += n
    assert counted == final
    assert rollup_reconcile.check() == []
