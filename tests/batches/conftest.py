"""Helpers for batch tests: build a batch from numbers, and drive it with real RQ jobs."""

import pytest

from callops.calls import batch_csv, batch_jobs, batches
from callops.calls.jobs import sweep_scheduled_calls
from callops.calls.models import Batch
from callops.calls.status_sync import sweep_due_syncs


@pytest.fixture(autouse=True)
def _fast_sandbox(settings):
    # A completed sandbox call lasts 53 s at speed 1; at 1000 it ends within one poll, so a batch
    # takes a few rounds rather than dozens (tests that follow pacing or windows move the clock).
    settings.SANDBOX_SPEED = 1000.0


def rows(phones, **context):
    return batch_csv.rows_from_json([{"phone": p, **context} for p in phones])


@pytest.fixture
def make_batch(personas):
    def _make(agent, phones, *, start=True, now=None, **settings):
        clean = batches.clean_settings(settings, agent=agent)
        return batches.create_batch(org=personas.org, agent=agent, settings=clean, rows=rows(phones),
                                    columns=["phone"], phone_column="phone", start=start, now=now)

    return _make


def drive_batch(batch, run_jobs, clock, *, rounds: int = 2000, max_step: float = 5.0) -> Batch:
    """Tick the batch and run the sweeps and the jobs until it is finished, moving the test clock to
    the next due moment (a status read, a retry, a paced dispatch) between rounds. Bounded by
    rounds; fails saying where the batch and its recipients stand."""
    from tests.providers.conftest import step_clock

    for _ in range(rounds):
        batch_jobs.tick_batch(batch.pk)
        sweep_scheduled_calls()
        sweep_due_syncs()
        run_jobs()
        batch.refresh_from_db()
        if batch.is_finished and batch.finished_at:
            return batch
        step_clock(clock, max_step)
    raise AssertionError(f"after {rounds} rounds batch is still {batch.status}: "
                         f"{batches.progress(batch)['states']}")


@pytest.fixture
def settle(run_jobs, clock):
    """Drive the batch to its end on the test clock (see drive_batch)."""

    def _settle(batch, **kw):
        return drive_batch(batch, run_jobs, clock, **kw)

    return _settle


def fresh(batch) -> Batch:
    batch.refresh_from_db()
    return batch
