"""The RQ worker class callops runs: jobs execute in the worker process, no fork per job.

RQ's default worker forks a work horse for every job. callops' jobs are short, I/O-bound and
idempotent (they take ids and re-check their rows), and the fork cost dominated them: about 45 ms
per job between the fork, a new database connection and cold first queries, against a few ms of
work for a chunk of placements or a poll. Running jobs in-process also keeps one HTTP client per
worker process for real (the webhook and provider clients are built once, at start-up).

What the fork gave for free is done explicitly: Django's connection hygiene runs around every job,
as it does around a web request, so a connection the database dropped (a failover, a killed
backend) is replaced before the next job instead of failing it. Job timeouts still apply (the
timer is a signal in the main thread), and a worker killed mid-job loses nothing: the rows say
what is still due and the sweeper re-enqueues it.
"""

from django.db import close_old_connections
from rq.worker import SimpleWorker


class Worker(SimpleWorker):
    def execute_job(self, job, queue):
        close_old_connections()
        try:
            return super().execute_job(job, queue)
        finally:
            close_old_connections()
