"""The one way to put work on the queue.

Jobs carry ids only (design rule 1); the row in the database says whether work is still due.
django-rq defers the enqueue until the surrounding transaction commits, so a job never runs
against a row its producer has not committed yet.
"""

import logging
from collections.abc import Callable
from typing import Any

from rq.job import Job

from . import redisconn

log = logging.getLogger(__name__)


# A job enqueued under a job id is not enqueued again under that id while it waits. Sweeps run
# every second and would otherwise push the same id onto the queue on every pass (RQ appends a
# repeated id rather than skipping it). The lease is released when the job starts, so the next due
# run is never delayed; if the job is lost with Redis, the lease expires and a sweep enqueues it.
ENQUEUE_LEASE_SECONDS = 30


def _lease_key(job_id: str) -> str:
    return f"callops:enqueued:{job_id}"


def run_leased(job_id: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The job body for enqueues under a job id: release the lease, then do the work."""
    try:
        redisconn.client().delete(_lease_key(job_id))
    except Exception:  # the lease then simply expires
        log.warning("could not release the enqueue lease of %s", job_id, exc_info=True)
    return func(*args, **kwargs)


def enqueue(func: Callable[..., Any], *args: Any, queue: str = "default", job_id: str | None = None,
            **kwargs: Any) -> Job | None:
    """Enqueue `func(*args, **kwargs)` on `queue`; with `job_id`, at most once per lease.

    A failure to reach Redis is logged, not raised: the database row is the source of truth and
    the sweeper re-enqueues whatever is still due, so losing an enqueue only delays the work.
    """
    try:
        q = redisconn.queue(queue)
        if job_id is None:
            return q.enqueue(func, *args, **kwargs)
        if not q.connection.set(_lease_key(job_id), 1, nx=True, ex=ENQUEUE_LEASE_SECONDS):
            return None  # still waiting in the queue: one copy is enough
        return q.enqueue(run_leased, job_id, func, *args, **kwargs, job_id=job_id)
    except Exception:  # redis down, connection reset, ...
        log.warning("enqueue of %s to %s failed; the sweeper will pick it up", getattr(func, "__name__", func), queue,
                    exc_info=True)
        return None


def run_leased_many(lease: str, ids: list[Any], func: Callable[[list[Any]], Any]) -> Any:
    """The job body for enqueue_chunks: release each id's lease, then do the work on all of them."""
    try:
        redisconn.client().delete(*[_lease_key(f"{lease}-{i}") for i in ids])
    except Exception:  # the leases then simply expire
        log.warning("could not release the enqueue leases of %s", lease, exc_info=True)
    return func(ids)


def enqueue_chunks(func: Callable[[list[Any]], Any], ids: list[Any], *, lease: str, queue: str = "default",
                   chunk: int = 25) -> int:
    """Enqueue `func(ids_chunk)` over `ids`, each id at most once per lease; returns ids enqueued.

    Every job costs RQ's bookkeeping (a few Redis round trips); one job per chunk amortises that.
    The lease is per id, not per job, so a sweep that finds the same due rows in a different
    grouping does not queue them again while they wait.
    """
    if not ids:
        return 0
    try:
        conn = redisconn.client()
        pipe = conn.pipeline(transaction=False)
        for i in ids:
            pipe.set(_lease_key(f"{lease}-{i}"), 1, nx=True, ex=ENQUEUE_LEASE_SECONDS)
        fresh = [i for i, won in zip(ids, pipe.execute(), strict=True) if won]
        q = redisconn.queue(queue)
        for start in range(0, len(fresh), chunk):
            q.enqueue(run_leased_many, lease, fresh[start:start + chunk], func)
        return len(fresh)
    except Exception:
        log.warning("enqueue of %s to %s failed; the sweeper will pick it up", getattr(func, "__name__", func), queue,
                    exc_info=True)
        return 0
