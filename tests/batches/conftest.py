"""Helpers for batch tests: build a batch from numbers, and drive it with real RQ jobs."""

import time

import pytest

from callops.calls import batch_csv, batch_jobs, batches
from callops.calls.jobs import sweep_scheduled_calls
from callops.calls.models import Batch
from callops.providers.sync import sweep_due_syncs


@pytest.fixture(autouse=True)
def _fast_sandbox(settings):
    # A completed sandbox call lasts 53 s at speed 1; at 1000 it ends within one poll.
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


@pytest.fixture
def settle(run_jobs):
    """Tick the batch and run sweeps and jobs until it is finished (or the timeout passes)."""

    def _settle(batch, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch_jobs.tick_batch(batch.pk)
            sweep_scheduled_calls()
            sweep_due_syncs()
            run_jobs()
            batch.refresh_from_db()
            if batch.is_finished and batch.finished_at:
                return batch
            time.sleep(0.02)
        raise AssertionError(f"batch still {batch.status} after {timeout}s")

    return _settle


def fresh(batch) -> Batch:
    batch.refresh_from_db()
    return batch
