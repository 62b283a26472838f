"""Batch services: a 100,000-row import through create_batch, pause and resume, stop, progress and
redial."""

import io
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from callops.batches import jobs
from callops.batches import services as batch_services
from callops.batches.batch_settings import clean_settings
from callops.batches.models import BatchRecipient, BatchRejection, BatchStatus, RecipientState
from callops.batches.progress import progress
from callops.batches.recipient_lists import read_csv
from callops.calls.models import Call

from .conftest import BUSY, INVALID, NO_ANSWER, fresh, numbers

pytestmark = pytest.mark.django_db


@pytest.mark.slow
def test_100k_row_file_is_stored_through_create_batch(personas, sandbox_agent):
    lines = ["phone,first_name,ref"]
    for i in range(100_000):
        if i % 2000 == 1:
            lines.append(f"+1415{2000000 + i - 1:07d},Dup{i},{i}")  # the row before's number again
        elif i % 2000 == 2:
            lines.append(f"12{i},Bad{i},{i}")  # too short to be a number
        else:
            lines.append(f"+1415{2000000 + i:07d},N{i},{i}")
    body = ("\n".join(lines) + "\n").encode()
    statements = []

    def count(execute, sql, params, many, context):
        statements.append(sql[:30])
        return execute(sql, params, many, context)

    table = read_csv(io.BytesIO(body))
    with connection.execute_wrapper(count):
        batch = batch_services.create_batch(org=personas.org, agent=sandbox_agent, settings=clean_settings({}),
                                            rows=table.rows, columns=table.columns, phone_column=table.phone_column,
                                            start=False)
    assert (batch.total_rows, batch.recipient_count, batch.rejected_count, batch.duplicate_count) == (
        100_000, 99_900, 100, 50)
    assert BatchRecipient.objects.filter(batch=batch).count() == 99_900
    assert BatchRejection.objects.filter(batch=batch).count() == 100
    last = BatchRecipient.objects.get(batch=batch, row_number=100_000)
    assert (last.phone, last.context, last.tz) == ("+14152099999", {"first_name": "N99999", "ref": "99999"},
                                                   "America/Los_Angeles")
    dup = BatchRejection.objects.get(batch=batch, row_number=2)
    assert dup.reason.startswith("duplicate of an earlier row") and dup.row["first_name"] == "Dup1"
    # Rows are written in bulk: a few hundred statements for 100,000 rows, not one per row. (How
    # long that takes is bench/batches.py's business, not a test's.)
    assert len(statements) < 300, len(statements)


def test_pause_resume(make_batch, sandbox_agent):
    batch = make_batch(sandbox_agent, numbers(5), calls_per_minute=10000)
    batch_services.pause_batch(batch, by="ada")
    assert fresh(batch).status == BatchStatus.PAUSED and batch.pause_reason == "paused by ada"
    jobs.tick_batch(batch.pk, now=timezone.now() + timedelta(seconds=30))
    assert not Call.objects.filter(batch=batch).exists()
    with pytest.raises(batch_services.BatchActionError):
        batch_services.pause_batch(batch)
    batch_services.resume_batch(batch)
    jobs.tick_batch(batch.pk, now=timezone.now() + timedelta(seconds=30))
    assert Call.objects.filter(batch=batch).count() == 5


def test_stop_cancels_undialed_and_lets_live_calls_finish(make_batch, sandbox_agent, run_jobs, settle):
    batch = make_batch(sandbox_agent, numbers(10), calls_per_minute=10000, max_concurrency=4)
    jobs.tick_batch(batch.pk, now=timezone.now() + timedelta(seconds=30))
    calls = list(Call.objects.filter(batch=batch).order_by("pk"))
    assert len(calls) == 4
    # Two were picked up by a worker; two are still waiting in the queue.
    from callops.calls import services

    for c in calls[:2]:
        services.place_call(c)
    batch_services.stop_batch(batch, by="ada")
    batch = fresh(batch)
    assert batch.status == BatchStatus.STOPPED
    assert BatchRecipient.objects.filter(batch=batch, state=RecipientState.CANCELED).count() == 6
    assert {c.status for c in Call.objects.filter(pk__in=[c.pk for c in calls[2:]])} == {"canceled"}
    run_jobs()  # the queued placement jobs find their calls claimed and canceled
    assert Call.objects.filter(batch=batch, dial_claimed_at__isnull=False).count() == 4
    batch = settle(batch)
    assert batch.status == BatchStatus.STOPPED and batch.finished_at
    assert Call.objects.filter(batch=batch).count() == 4
    assert set(Call.objects.filter(pk__in=[c.pk for c in calls[:2]]).values_list("status", flat=True)) == {
        "completed"}
    with pytest.raises(batch_services.BatchActionError):
        batch_services.resume_batch(batch)


def test_progress_and_redial(make_batch, sandbox_agent, settle):
    batch = settle(make_batch(sandbox_agent, [BUSY, NO_ANSWER, INVALID, "+14155550123"], calls_per_minute=10000))
    p = progress(batch)
    assert p["recipients"] == 4 and p["finished"] == 4 and p["percent"] == 100.0
    assert p["outcomes"]["busy"] == p["outcomes"]["no_answer"] == p["outcomes"]["failed"] == 1
    assert p["outcomes"]["completed"] == 1 and p["average_duration_seconds"] is not None
    again = batch_services.redial(batch, outcomes=["busy", "no_answer"])
    assert set(again.recipients.values_list("phone", flat=True)) == {BUSY, NO_ANSWER}
    assert again.status == BatchStatus.RUNNING and again.recipient_count == 2
    with pytest.raises(batch_services.BatchActionError):
        batch_services.redial(batch, outcomes=["canceled"])
