"""runsweeper: every sweep in settings.SWEEPS runs each pass, and one failure stops none of the others."""

import os
import signal
import subprocess
import sys
import threading
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import OperationalError, connection
from django.utils.module_loading import import_string

from callops.calls.management.commands.runsweeper import Command
from callops.lib import redisconn
from callops.lib.leader_lock import leader_lock
from tests.helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]
CALLS = []


def sweep_counts():
    CALLS.append("counts")
    return 3


def sweep_breaks():
    CALLS.append("breaks")
    raise RuntimeError("boom")


def sweep_loses_database():
    CALLS.append("db")
    raise OperationalError("server closed the connection unexpectedly")


def sweep_queries():
    from callops.accounts.models import Organization

    CALLS.append(("queries", Organization.objects.count()))


@pytest.fixture(autouse=True)
def _reset():
    CALLS.clear()


@pytest.mark.django_db
def test_once_calls_every_configured_sweep(settings):
    settings.SWEEPS = [f"{__name__}.sweep_counts", f"{__name__}.sweep_queries"]

    call_command("runsweeper", "--once", stdout=StringIO())

    assert CALLS == ["counts", ("queries", 0)]


@pytest.mark.django_db
def test_the_default_sweeps_import_and_run(settings):
    # The real SWEEPS list: each entry must import and survive a pass over an empty database.
    results = Command().run_pass([(path, import_string(path)) for path in settings.SWEEPS])
    assert set(results) == set(settings.SWEEPS)
    assert not [p for p, r in results.items() if isinstance(r, Exception)]


@pytest.mark.django_db(transaction=True)
def test_a_failing_sweep_is_logged_and_the_rest_still_run(settings, caplog):
    settings.SWEEPS = [f"{__name__}.sweep_breaks", f"{__name__}.sweep_loses_database",
                       f"{__name__}.sweep_queries", f"{__name__}.sweep_counts"]
    connection.ensure_connection()

    call_command("runsweeper", "--once", stdout=StringIO())

    assert CALLS == ["breaks", "db", ("queries", 0), "counts"]
    assert "sweep tests.runtime.test_sweeper.sweep_breaks failed" in caplog.text
    assert "reconnecting next tick" in caplog.text


def test_a_misspelled_sweep_fails_at_start(settings):
    settings.SWEEPS = [f"{__name__}.no_such_sweep"]
    with pytest.raises(ImportError):
        call_command("runsweeper", "--once", stdout=StringIO())


def test_the_process_loops_through_a_broken_database_and_stops_on_sigterm(tmp_path, settings):
    """A real `runsweeper` on an empty, unmigrated database: every sweep fails every tick, the loop
    carries on, and SIGTERM ends it cleanly."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update({"CALLOPS_VAR_DIR": str(tmp_path), "SWEEP_INTERVAL_SECONDS": "0.2", "PYTHONUNBUFFERED": "1"})
    proc = subprocess.Popen([sys.executable, "manage.py", "runsweeper", "--skip-checks"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()
    try:
        def went_round_again():
            assert proc.poll() is None, "".join(lines)
            return sum("database error" in line for line in lines) > len(settings.SWEEPS)

        # More database errors than one pass can produce: the loop went round again after them.
        wait_for(went_round_again, "a second pass of failing sweeps", interval=0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, "".join(lines)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.django_db(transaction=True)
def test_one_process_holds_the_leader_lock_until_it_lets_go():
    """Two holders of the same lock (two sessions on PostgreSQL, two open files on SQLite): only one
    leads, the other leads once the first lets go, and another name is another lock."""
    first, second, other = leader_lock("sweeper"), leader_lock("sweeper"), leader_lock("something-else")
    try:
        assert (first.acquire(), second.acquire(), other.acquire()) == (True, False, True)
        assert (first.acquire(), second.acquire()) == (True, False)  # asking again changes nothing
        first.release()
        assert (second.acquire(), first.acquire()) == (True, False)
    finally:
        for lock in (first, second, other):
            lock.release()


def _start_sweeper(env):
    proc = subprocess.Popen([sys.executable, "manage.py", "runsweeper", "--skip-checks"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()
    return proc, lines


# Short enough to keep the test quick, long enough that "within 2 intervals" is a claim about the
# standby's loop (it tries the lock on every tick) and not about a busy host's scheduling.
INTERVAL = 1.5


def _database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _due_call(agent, number: str) -> int:
    """A queued call due now that nothing but a sweep hands to the queue."""
    from django.utils import timezone

    from callops.calls import services

    return services.create_call(org=agent.organization, agent=agent, to_number=number,
                                scheduled_at=timezone.now()).pk


def _enqueued(pk: int) -> bool:
    # The placement's enqueue lease (callops.lib.queue): set by the sweep that queued the call, and
    # left in place because no worker runs here to take the job.
    return bool(redisconn.client().exists(f"callops:enqueued:place-call-{pk}"))


@pytest.mark.django_db(transaction=True)
def test_many_sweepers_one_leads_and_a_standby_sweeps_due_work_within_two_intervals_of_a_kill(
        tmp_path, sandbox_agent, settings):
    """Two real `runsweeper` processes on the test database (PostgreSQL in CI: the advisory lock; a
    SQLite file otherwise: the file lock): one sweeps, the other stands by. SIGKILL the leader; a
    call falling due right after is enqueued by the standby within 2 sweep intervals of the kill."""
    env = dict(os.environ, DATABASE_URL=_database_url(), REDIS_URL=settings.REDIS_URL, CALLOPS_VAR_DIR=str(tmp_path),
               SWEEP_INTERVAL_SECONDS=str(INTERVAL), PYTHONUNBUFFERED="1", LOG_LEVEL="INFO")
    leader, leader_lines = _start_sweeper(env)
    standby = None
    try:
        wait_for(lambda: any("sweeper: leading" in line for line in leader_lines), "the first sweeper to lead",
                 interval=0.05)
        standby, standby_lines = _start_sweeper(env)
        wait_for(lambda: any("standing by" in line for line in standby_lines), "the second sweeper to stand by",
                 interval=0.05)
        first = _due_call(sandbox_agent, "+14155550101")
        wait_for(lambda: _enqueued(first), "the leader to enqueue a due call", interval=0.02)
        # It stays standing by while the leader lives: it never swept.
        assert not any("sweeper: leading" in line for line in standby_lines), "".join(standby_lines)

        leader.kill()
        killed = time.monotonic()
        second = _due_call(sandbox_agent, "+14155550102")
        wait_for(lambda: _enqueued(second), "the standby to enqueue the call due after the kill", interval=0.02)
        took = time.monotonic() - killed
        leader.wait()
        assert any("sweeper: leading" in line for line in standby_lines), "".join(standby_lines)
        assert took <= 2 * INTERVAL, f"due work resumed {took:.2f} s after the kill; the bound is {2 * INTERVAL} s"
        standby.send_signal(signal.SIGTERM)
        assert standby.wait(60) == 0, "".join(standby_lines)
    finally:
        for proc in (leader, standby):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
