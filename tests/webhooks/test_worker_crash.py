"""A real RQ worker process killed mid-delivery, then restarted: every event arrives at least once,
and any duplicate carries the same webhook-id (the receiver's dedupe key)."""

import json
import os
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from django.db import connection

from callops.webhooks import jobs
from callops.webhooks.models import DeliveryStatus, WebhookDelivery
from tests.helpers import wait_for
from tests.lib.sink import Reply

ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _worker(burst: bool, log):
    from django.conf import settings

    env = dict(os.environ, DATABASE_URL=_database_url(), REDIS_URL=settings.REDIS_URL,
               OUTBOUND_ALLOW_PRIVATE="127.0.0.0/8", WEBHOOK_LEASE_SECONDS="3", WEBHOOK_TIMEOUT_SECONDS="1",
               ENCRYPTION_KEY=",".join(settings.ENCRYPTION_KEYS), SECRET_KEY=settings.SECRET_KEY, LOG_LEVEL="WARNING")
    # The production worker class (settings.RQ["WORKER_CLASS"]), as `manage.py rqworker` runs it.
    args = [sys.executable, "manage.py", "rqworker", "webhooks"]
    if burst:
        args.append("--burst")
    # Output to a file: an unread pipe would fill up and stall the worker.
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_killed_worker_loses_nothing(personas, settings, sink, make_call, tmp_path):
    from callops.webhooks import services

    settings.WEBHOOK_LEASE_SECONDS = 3
    services.create_endpoint(personas.org, {"url": sink.url})
    # Each reply takes 0.15 s, so the kill lands while a request is in flight and unrecorded.
    sink.respond(default=Reply(status=200, delay=0.15))
    n = 12
    for _ in range(n):
        make_call()  # commits; the enqueue after commit reaches Redis

    log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115 - closed with the test's tmp_path
    worker = _worker(burst=False, log=log)
    try:
        assert sink.wait_for(4, timeout=120), (tmp_path / "worker.log").read_text()[-3000:]
        worker.send_signal(signal.SIGKILL)  # no cleanup, no chance to record the attempt in flight
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
    killed_at = len(sink.requests)
    assert killed_at < n, "the worker finished before it was killed; slow the sink down"

    def delivered_after_a_restart():
        if not WebhookDelivery.objects.exclude(status=DeliveryStatus.DELIVERED).exists():
            return True
        jobs.sweep_due_deliveries()  # what the sweeper does every second
        _worker(burst=True, log=log).wait(60)
        return False

    # The killed worker's leases run out in real time (Redis and the rows' claimed_until).
    wait_for(delivered_after_a_restart, "every delivery to be delivered by restarted workers", timeout=600,
             interval=0.5)

    ids = defaultdict(list)
    for r in sink.requests:
        ids[r.headers["webhook-id"]].append(r.body)
    events = {json.loads(r.body)["id"] for r in sink.requests}
    assert len(ids) == n == len(events)
    assert sum(len(v) for v in ids.values()) >= n + 1, "the request in flight at the kill should be sent again"
    for webhook_id, bodies in ids.items():
        assert all(json.loads(b)["id"] == webhook_id for b in bodies)
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.DELIVERED}


@pytest.mark.django_db(transaction=True)
def test_every_attempt_is_recorded_before_the_job_ends(personas, sink, make_call):
    from callops.webhooks import services
    from callops.webhooks.models import WebhookAttempt

    services.create_endpoint(personas.org, {"url": sink.url})
    for _ in range(5):
        make_call()
    assert jobs.deliver_job(None) == 5
    assert WebhookAttempt.objects.filter(succeeded=True).count() == 5
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.DELIVERED}
    assert not WebhookDelivery.objects.filter(claimed_until__isnull=False).exists()
