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

RQ's command channel (`rq suspend`, stop-job and shutdown commands over pubsub) stays, with a
shorter read: RQ's thread reads with a 60 s timeout, and a stopping worker's teardown waits for
that read to end before it can close the connection, so a worker told to stop (Ctrl-C in
`make run`, a deploy's SIGTERM, a burst worker) took up to a minute to exit. Commands still arrive
at once; only the idle wait between reads is shorter.
"""

from django.db import close_old_connections
from rq.job import Job
from rq.queue import Queue
from rq.worker import SimpleWorker

# Seconds the pubsub thread waits for a command before it looks whether it should stop.
PUBSUB_READ_SECONDS = 1.0


class Worker(SimpleWorker):
    def subscribe(self) -> None:
        # RQ's own subscribe, with PUBSUB_READ_SECONDS instead of its 60 s read (see above).
        self.log.info("Worker %s: subscribing to channel %s", self.name, self.pubsub_channel_name)
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        # RQ initialises the attribute to None without a declared type, so mypy types it as None.
        self.pubsub_thread = self.pubsub.run_in_thread(  # type: ignore[assignment]
            sleep_time=PUBSUB_READ_SECONDS, daemon=True, exception_handler=self._pubsub_exception_handler)

    def execute_job(self, job: Job, queue: Queue) -> None:
        close_old_connections()
        try:
            super().execute_job(job, queue)
        finally:
            close_old_connections()
