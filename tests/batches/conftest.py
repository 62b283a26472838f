"""Helpers for batch tests: build a batch from numbers, drive it with real RQ jobs, read lists.

The provider fixtures (emulators, provider agents) are the provider tests' own, shared here for
the provider-batch tests rather than copied.
"""

import io

import pytest

from callops.batches import jobs, recipient_lists
from callops.batches import services as batch_services
from callops.batches.batch_settings import clean_settings
from callops.batches.models import Batch, BatchRecipient, RecipientState
from callops.batches.progress import progress
from callops.batches.recipient_validation import Validator
from callops.calls.jobs import sweep_scheduled_calls
from callops.calls.status_sync import sweep_due_syncs
from tests.providers.conftest import emulators, make_agent  # noqa: F401  (fixtures, shared)

# Sandbox numbers with a scripted outcome.
BUSY, INVALID, LOW_BALANCE, NO_ANSWER = "+12025550102", "+12025550103", "+12025550105", "+12025550101"


@pytest.fixture(autouse=True)
def _fast_sandbox(settings):
    # A completed sandbox call lasts 53 s at speed 1; at 1000 it ends within one poll, so a batch
    # takes a few rounds rather than dozens (tests that follow pacing or windows move the clock).
    settings.SANDBOX_SPEED = 1000.0


def numbers(n, start=2000000):
    return [f"+1415{start + i:07d}" for i in range(n)]


def rows(recipients, **context):
    """Rows of numbers (each with `context`) or of recipient dicts given whole."""
    return recipient_lists.rows_from_json([r if isinstance(r, dict) else {"phone": r, **context}
                                           for r in recipients])


@pytest.fixture
def make_batch(personas):
    """Factory: a batch of `recipients` (numbers or dicts) for `agent`, with settings as keywords."""

    def _make(agent, recipients, *, start=True, now=None, columns=("phone",), **settings):
        clean = clean_settings(settings, agent=agent)
        return batch_services.create_batch(org=personas.org, agent=agent, settings=clean, rows=rows(recipients),
                                           columns=list(columns), phone_column="phone", start=start, now=now)

    return _make


def drive_batch(batch, run_jobs, clock, *, rounds: int = 2000, max_step: float = 5.0) -> Batch:
    """Tick the batch and run the sweeps and the jobs until it is finished, moving the test clock to
    the next due moment (a status read, a retry, a paced dispatch) between rounds. Bounded by
    rounds; fails saying where the batch and its recipients stand."""
    from tests.providers.conftest import step_clock

    for _ in range(rounds):
        jobs.tick_batch(batch.pk)
        sweep_scheduled_calls()
        sweep_due_syncs()
        run_jobs()
        batch.refresh_from_db()
        if batch.is_finished and batch.finished_at:
            return batch
        step_clock(clock, max_step)
    raise AssertionError(f"after {rounds} rounds batch is still {batch.status}: "
                         f"{progress(batch)['states']}")


@pytest.fixture
def settle(run_jobs, clock):
    """Drive the batch to its end on the test clock (see drive_batch)."""

    def _settle(batch, **kw):
        return drive_batch(batch, run_jobs, clock, **kw)

    return _settle


def fresh(batch) -> Batch:
    batch.refresh_from_db()
    return batch


def dialing(batch) -> int:
    return BatchRecipient.objects.filter(batch=batch, state=RecipientState.DIALING).count()


def csv_table(text: str, encoding="utf-8", **kw):
    """An uploaded CSV (text in `encoding`, or bytes as they are) opened for reading."""
    return recipient_lists.read_csv(io.BytesIO(text.encode(encoding) if isinstance(text, str) else text), **kw)


def check_rows(table, region="US"):
    """Every row's verdict, and the validator that gave them (for its counts)."""
    v = Validator(region)
    return [v.check(r) for r in table.rows], v
