"""The one way to put work on the queue.

Jobs carry ids only (design rule 1); the row in the database says whether work is still due.
django-rq defers the enqueue until the surrounding transaction commits, so a job never runs
against a row its producer has not committed yet.
"""

import logging

import django_rq

log = logging.getLogger(__name__)


# A job enqueued under a job id is not enqueued again under that id while it waits. Sweeps run
# every second and would otherwise push the same id onto the queue on every pass (RQ appends a
# repeated id rather than skipping it). The lease is released when the job starts, so the next due
# run is never delayed; if the job is lost with Redis, the lease expires and a sweep enqueues it.
ENQUEUE_LEASE_SECONDS = 30


def _lease_key(job_id: str) -> str:
    return f"callops:enqueued:{job_id}"


def run_leased(job_id: str, func, *args, **kwargs):
    """The job body for enqueues under a job id: release the lease, then do the work."""
    try:
        django_rq.get_connection("default").delete(_lease_key(job_id))
    except Exception:  # the lease then simply expires
        log.warning("could not release the enqueue lease of %s", job_id, exc_info=True)
    return func(*args, **kwargs)


def enqueue(func, *args, queue: str = "default", job_id: str | None = None, **kwargs):
    """Enqueue `func(*args, **kwargs)` on `queue`; with `job_id`, at most once per lease.

    A failure to reach Redis is logged, not raised: the database row is the source of truth and
    the sweeper re-enqueues whatever is still due, so losing an enqueue only delays the work.
    """
    try:
        q = django_rq.get_queue(queue)
        if job_id is None:
            return q.enqueue(func, *args, **kwargs)
        if not q.connection.set(_lease_key(job_id), 1, nx=True, ex=ENQUEUE_LEASE_SECONDS):
            return None  # still waiting in the queue: one copy is enough
        return q.enqueue(run_leased, job_id, func, *args, **kwargs, job_id=job_id)
    except Exception:  # redis down, connection reset, ...
        log.warning("enqueue of %s to %s failed; the sweeper will pick it up", getattr(func, "__name__", func), queue,
                    exc_info=True)
        return None
