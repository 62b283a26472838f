"""Provider-native batches against the Bolna and Trillet emulators (real HTTP over loopback).

Each recipient becomes a normal Call linked to the batch, submitted in one provider batch
request, with its timeline filled from the provider's batch reads; retries go out as single
calls; a refused batch fails with the provider's reason; stop reaches the provider.
"""

import time

import pytest

from callops.calls import batch_csv, batch_jobs, batches
from callops.calls.models import BatchRecipient, BatchStatus, Call, CallEvent
from tests.providers.conftest import _provider_settings, emulators, make_agent  # noqa: F401

pytestmark = pytest.mark.django_db

PHONES = ["+14155550101", "+14155550102", "+14155550103"]


def _batch(personas, agent, phones, **settings):
    clean = batches.clean_settings({"mode": "provider", **settings}, agent=agent)
    return batches.create_batch(org=personas.org, agent=agent, settings=clean, columns=["phone", "first_name"],
                                rows=batch_csv.rows_from_json([{"phone": p, "first_name": f"N{i}"}
                                                               for i, p in enumerate(phones)]))


def _drive(batch, run_jobs, timeout=20.0):
    from callops.calls.jobs import sweep_scheduled_calls
    from callops.providers.sync import sweep_due_syncs

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch_jobs.tick_batch(batch.pk)
        sweep_scheduled_calls()
        sweep_due_syncs()
        run_jobs()
        batch.refresh_from_db()
        if batch.is_finished and batch.finished_at:
            return batch
        time.sleep(0.05)
    raise AssertionError(f"batch still {batch.status}: {batches.progress(batch)['states']}")


@pytest.mark.parametrize("kind,bad", [("bolna", "busy"), ("trillet", "failed")])
def test_provider_batch_runs_every_recipient_as_a_call(personas, emulators, make_agent, run_jobs, kind, bad):  # noqa: F811
    emu = emulators(kind)
    emu.script(PHONES[1], bad)
    agent = make_agent(kind, emu)
    batch = _batch(personas, agent, PHONES, max_attempts=2, retry_intervals=[0], retry_on=[bad])
    batch = _drive(batch, run_jobs)
    assert batch.status == BatchStatus.COMPLETED and batch.provider_batch_id
    # One provider batch upload carrying all three, plus one single-call retry of the busy number.
    assert len(emu.batches) == 1
    first = Call.objects.filter(batch=batch, attempt=1)
    assert first.count() == 3 and set(first.values_list("to_number", flat=True)) == set(PHONES)
    assert set(first.exclude(to_number=PHONES[1]).values_list("status", flat=True)) == {"completed"}
    retry = Call.objects.get(batch=batch, attempt=2)
    assert retry.to_number == PHONES[1] and retry.retry_of.to_number == PHONES[1]
    assert retry.status == bad and BatchRecipient.objects.get(batch=batch, phone=PHONES[1]).outcome == bad
    done = first.get(to_number=PHONES[0])
    assert done.provider_call_id and done.context == {"first_name": "N0"}
    assert CallEvent.objects.filter(call=done, note__startswith=f"submitted in {kind} batch").count() == 1
    assert CallEvent.objects.filter(call=done, status="completed", ignored=False).count() == 1
    if kind == "trillet":
        assert done.provider_job_id.startswith(batch.provider_batch_id + "/")


def test_refused_provider_batch_fails_with_reason(personas, emulators, make_agent, run_jobs):  # noqa: F811
    emu = emulators("bolna")
    agent = make_agent("bolna", emu, credentials={"api_key": "wrong"})
    batch = _batch(personas, agent, PHONES[:2])
    batch_jobs.tick_batch(batch.pk)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.FAILED and batch.pause_reason.startswith("bolna refused the batch")
    assert set(Call.objects.filter(batch=batch).values_list("status", flat=True)) == {"failed"}
    batch_jobs.tick_batch(batch.pk)  # never submitted again
    assert len(emu.batches) == 0 and Call.objects.filter(batch=batch).count() == 2


def test_stop_reaches_the_provider(personas, emulators, make_agent, run_jobs):  # noqa: F811
    emu = emulators("trillet", speed=1.0)  # slow: calls are still waiting when stopped
    agent = make_agent("trillet", emu)
    batch = _batch(personas, agent, PHONES)
    batch_jobs.tick_batch(batch.pk)
    batch.refresh_from_db()
    assert batch.provider_batch_id.startswith("batch_")
    batches.stop_batch(batch, by="ada")
    assert emu.batches[batch.provider_batch_id]["status"] == "cancelled"


def test_provider_mode_needs_a_batch_api(sandbox_agent):
    from callops.calls.validation import ValidationFailed

    with pytest.raises(ValidationFailed) as exc:
        batches.clean_settings({"mode": "provider"}, agent=sandbox_agent)
    assert "no batch API" in exc.value.fields["mode"]
