"""The one way to put work on the queue.

Jobs carry ids only (design rule 1); the row in the database says whether work is still due.
django-rq defers the enqueue until the surrounding transaction commits, so a job never runs
against a row its producer has not committed yet.
"""

import logging

import django_rq

log = logging.getLogger(__name__)


def enqueue(func, *args, queue: str = "default", job_id: str | None = None, **kwargs):
    """Enqueue `func(*args, **kwargs)` on `queue`.

    A failure to reach Redis is logged, not raised: the database row is the source of truth and
    the sweeper re-enqueues whatever is still due, so losing an enqueue only delays the work.
    """
    try:
        q = django_rq.get_queue(queue)
        opts = {"job_id": job_id} if job_id else {}
        return q.enqueue(func, *args, **kwargs, **opts)
    except Exception:  # redis down, connection reset, ...
        log.warning("enqueue of %s to %s failed; the sweeper will pick it up", getattr(func, "__name__", func), queue,
                    exc_info=True)
        return None
