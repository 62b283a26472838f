"""The worker class: jobs run in-process, with a fresh database connection when the old one is
gone or too old (what a forked work horse got for free)."""

import pytest
from django.db import connection

from callops.lib import redisconn
from callops.lib.worker import Worker

SEEN: list = []


def note_connection():
    from callops.calls.models import Call

    Call.objects.exists()  # use the connection
    SEEN.append(connection.connection)  # the object itself: kept alive, its id cannot be reused


@pytest.mark.django_db(transaction=True)
def test_each_job_gets_a_usable_connection_even_after_the_old_one_expired():
    SEEN.clear()
    queue = redisconn.queue("default")
    queue.empty()
    queue.enqueue(note_connection)
    Worker([queue], connection=redisconn.client()).work(burst=True, with_scheduler=False)
    # As after CONN_MAX_AGE, or after a failover dropped it: the next job must not inherit it.
    connection.close_at = 0
    queue.enqueue(note_connection)
    Worker([queue], connection=redisconn.client()).work(burst=True, with_scheduler=False)
    assert len(SEEN) == 2 and None not in SEEN
    assert SEEN[0] is not SEEN[1]
    assert queue.failed_job_registry.count == 0


def test_rqworker_uses_the_in_process_worker(settings):
    from django_rq.workers import get_worker_class

    assert get_worker_class() is Worker


def test_the_worker_takes_commands_and_its_command_thread_stops_promptly():
    """RQ's commands still reach the worker; its pubsub thread reads in short waits, so a stopping
    worker does not sit out RQ's 60 s read before it can exit."""
    from rq.command import send_command

    from callops.lib.worker import PUBSUB_READ_SECONDS
    from tests.helpers import wait_for

    worker = Worker([redisconn.queue("default")], connection=redisconn.client())
    received = []
    worker.handle_payload = received.append
    worker.subscribe()
    try:
        assert worker.pubsub_thread.sleep_time == PUBSUB_READ_SECONDS == 1.0
        wait_for(lambda: worker.pubsub.subscribed, "the subscription")
        send_command(redisconn.client(), worker.name, "stop-job", job_id="some-job")
        wait_for(lambda: received, "the command to arrive")
        assert '"command": "stop-job"' in received[0]["data"].decode()
    finally:
        worker.unsubscribe()
