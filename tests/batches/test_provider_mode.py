"""Provider-native batches against the Bolna and Trillet emulators (real HTTP over loopback).

Each recipient becomes a normal Call linked to the batch, submitted in one provider batch
request, with its timeline filled from the provider's batch reads; retries go out as single
calls; a refused batch fails with the provider's reason; stop reaches the provider.
"""

import pytest

from callops.batches import jobs, provider_mode
from callops.batches import services as batch_services
from callops.batches.batch_settings import clean_settings
from callops.batches.models import Batch, BatchRecipient, BatchStatus
from callops.calls.models import Call, CallEvent
from tests.providers.conftest import _provider_settings  # noqa: F401  (autouse: the emulator tests' settings)

from .conftest import drive_batch

pytestmark = pytest.mark.django_db

PHONES = ["+14155550101", "+14155550102", "+14155550103"]


@pytest.fixture
def provider_batch(make_batch):
    """Factory: a provider-mode batch of `phones`, each with a first_name in its context."""

    def _make(agent, phones, **settings):
        return make_batch(agent, [{"phone": p, "first_name": f"N{i}"} for i, p in enumerate(phones)],
                          columns=["phone", "first_name"], mode="provider", **settings)

    return _make


@pytest.mark.parametrize("kind,bad", [("bolna", "busy"), ("trillet", "failed")])
def test_provider_batch_runs_every_recipient_as_a_call(provider_batch, clock, emulators, make_agent, run_jobs,
                                                        kind, bad):
    emu = emulators(kind)
    emu.script(PHONES[1], bad)
    agent = make_agent(kind, emu)
    batch = provider_batch(agent, PHONES, max_attempts=2, retry_intervals=[0], retry_on=[bad])
    batch = drive_batch(batch, run_jobs, clock)
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


def test_refused_provider_batch_fails_with_reason(provider_batch, emulators, make_agent, run_jobs):
    from callops.webhooks.models import WebhookEvent

    emu = emulators("bolna")
    agent = make_agent("bolna", emu, credentials={"api_key": "wrong"})
    batch = provider_batch(agent, PHONES[:2])
    jobs.tick_batch(batch.pk)
    run_jobs()  # the reservation job reserves the list and submits it
    batch.refresh_from_db()
    assert batch.status == BatchStatus.FAILED and batch.pause_reason.startswith("bolna refused the batch")
    assert set(Call.objects.filter(batch=batch).values_list("status", flat=True)) == {"failed"}
    # Like every other transition, the failure is a batch event (and only one).
    events = WebhookEvent.objects.filter(batch=batch, type="batch.failed")
    assert events.count() == 1 and '"status":"failed"' in events.get().body
    assert set(BatchRecipient.objects.filter(batch=batch).values_list("state", "outcome")) == {("done", "failed")}
    jobs.tick_batch(batch.pk)  # never submitted again
    run_jobs()
    assert len(emu.batches) == 0 and Call.objects.filter(batch=batch).count() == 2


def test_stop_reaches_the_provider(provider_batch, emulators, make_agent, run_jobs):
    emu = emulators("trillet", speed=1.0)  # slow: calls are still waiting when stopped
    agent = make_agent("trillet", emu)
    batch = provider_batch(agent, PHONES)
    jobs.tick_batch(batch.pk)
    run_jobs()
    batch.refresh_from_db()
    assert batch.provider_batch_id.startswith("batch_")
    batch_services.stop_batch(batch, by="ada")
    assert emu.batches[batch.provider_batch_id]["status"] == "cancelled"


def test_provider_mode_needs_a_batch_api(sandbox_agent):
    from callops.calls.validation import ValidationFailed

    with pytest.raises(ValidationFailed) as exc:
        clean_settings({"mode": "provider"}, agent=sandbox_agent)
    assert "no batch API" in exc.value.fields["mode"]


@pytest.mark.parametrize("kind", ["bolna", "trillet"])
@pytest.mark.parametrize("setting,field", [
    ({"window": {"start_hour": 9, "end_hour": 17}}, "window"),
    ({"window": {"days": [1, 2]}}, "window_days"),
    ({"max_concurrency": 3}, "max_concurrency"),
    ({"calls_per_minute": 30}, "calls_per_minute"),
    ({"circuit_breaker": {"threshold": 0.5}}, "breaker_threshold"),
    ({"circuit_breaker": {"min_calls": 5}}, "breaker_min_calls"),
    ({"circuit_breaker": {"window_seconds": 60}}, "breaker_window_seconds"),
])
def test_settings_a_provider_batch_cannot_honour_are_refused_by_name(api, emulators, make_agent, kind,
                                                                     setting, field):
    agent = make_agent(kind, emulators(kind))
    body = {"agent_id": str(agent.public_id), "recipients": PHONES, "mode": "provider", **setting}
    r = api.post("/v1/batches", body)
    assert r.status_code == 400, r.json()
    assert list(r.json()["fields"]) == [field]
    assert f"{kind} dials a provider batch on its own terms" in r.json()["fields"][field]
    assert field.split("_")[0] in r.json()["error"]
    assert not Batch.objects.exists() and not Call.objects.exists()
    # The same settings are fine for callops' own fan-out, and retries and a start time are fine
    # for a provider batch (callops retries after the provider's pass; the provider schedules).
    assert api.post("/v1/batches", {**body, "mode": "fanout", "hold": True}).status_code == 201
    ok = api.post("/v1/batches", {"agent_id": str(agent.public_id), "recipients": PHONES, "mode": "provider",
                                  "hold": True, "retry": {"max_attempts": 2}, "start_at": "2099-01-01T09:00:00Z"})
    assert ok.status_code == 201, ok.json()


def test_pause_is_refused_while_the_provider_dials(provider_batch, api, emulators, make_agent, run_jobs):
    emu = emulators("trillet", speed=1.0)  # slow: the provider is still dialing
    agent = make_agent("trillet", emu)
    batch = provider_batch(agent, PHONES)
    jobs.tick_batch(batch.pk)
    run_jobs()
    batch.refresh_from_db()
    assert batch.provider_batch_id.startswith("batch_")
    with pytest.raises(batch_services.BatchActionError, match="trillet has no API to pause a batch it is dialing"):
        batch_services.pause_batch(batch)
    r = api.post(f"/v1/batches/{batch.public_id}/pause")
    assert r.status_code == 409 and "stop the batch instead" in r.json()["error"]
    batch.refresh_from_db()
    assert batch.status == BatchStatus.RUNNING and emu.batches[batch.provider_batch_id]["status"] != "cancelled"
    # Once the provider's pass is over only callops' own retries remain, and those it can hold.
    Call.objects.filter(batch=batch).update(status="no_answer")
    assert batch_services.pause_batch(batch).status == BatchStatus.PAUSED


def test_pause_before_submission_holds_the_list(provider_batch, emulators, make_agent, run_jobs):
    emu = emulators("bolna")
    agent = make_agent("bolna", emu)
    batch = provider_batch(agent, PHONES)
    batch_services.pause_batch(batch, by="ada")
    jobs.tick_batch(batch.pk)
    run_jobs()
    assert len(emu.batches) == 0 and not Call.objects.filter(batch=batch).exists()
    batch_services.resume_batch(batch)
    jobs.tick_batch(batch.pk)
    run_jobs()
    batch.refresh_from_db()
    assert len(emu.batches) == 1 and batch.provider_batch_id not in ("", "pending")


def test_reservation_is_chunked_off_the_sweeper(provider_batch, emulators, make_agent, run_jobs, monkeypatch):
    monkeypatch.setattr(provider_mode, "RESERVE_CHUNK", 2)
    sizes = []
    original = provider_mode.reserve_chunk

    def spy(batch, now, limit=None):
        created, finished = original(batch, now, limit)
        sizes.append(len(created))
        return created, finished

    monkeypatch.setattr(provider_mode, "reserve_chunk", spy)
    emu = emulators("bolna")
    agent = make_agent("bolna", emu)
    phones = [f"+1415555{1000 + i:04d}" for i in range(5)]
    batch = provider_batch(agent, phones)
    jobs.tick_batch(batch.pk)
    # The tick (the sweeper, under the batch lock) created no call: a job does it.
    assert not Call.objects.filter(batch=batch).exists() and sizes == []
    jobs.reserve_provider_batch_job(batch.pk, budget_seconds=0)  # one chunk, then it yields
    assert sizes == [2] and Batch.objects.get(pk=batch.pk).provider_batch_id == ""
    jobs.tick_batch(batch.pk)  # the next tick hands the rest to a job again
    run_jobs()
    assert sizes == [2, 2, 1]
    batch.refresh_from_db()
    assert len(emu.batches) == 1 and batch.provider_batch_id not in ("", "pending")
    (uploaded,) = emu.batches.values()
    assert Call.objects.filter(batch=batch, attempt=1).count() == 5
    assert str(uploaded).count("+1415555") >= 5


def test_stop_during_reservation_cancels_what_was_reserved(provider_batch, clock, emulators, make_agent, run_jobs,
                                                           monkeypatch):
    monkeypatch.setattr(provider_mode, "RESERVE_CHUNK", 2)
    emu = emulators("bolna")
    agent = make_agent("bolna", emu)
    batch = provider_batch(agent, PHONES)
    jobs.reserve_provider_batch_job(batch.pk, budget_seconds=0)
    assert Call.objects.filter(batch=batch).count() == 2
    batch_services.stop_batch(batch, by="ada")
    assert set(Call.objects.filter(batch=batch).values_list("status", flat=True)) == {"canceled"}
    batch = drive_batch(batch, run_jobs, clock)
    assert batch.status == BatchStatus.STOPPED and len(emu.batches) == 0
    assert set(BatchRecipient.objects.filter(batch=batch).values_list("outcome", flat=True)) == {"canceled"}
