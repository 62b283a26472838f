"""`manage.py runsweeper`: the periodic sweep process.

Every SWEEP_INTERVAL_SECONDS it calls each function listed in settings.SWEEPS. A sweep finds rows
whose due time has passed (scheduled calls, polls, webhook retries, ...) and enqueues their jobs,
so work lost with Redis or a killed worker is picked up again (design rule 1). One failing sweep
is logged and does not stop the others; a lost database connection is dropped and reopened on
the next tick. SIGTERM / SIGINT finish the current pass and exit.

Any number of sweepers may run: on each tick a sweeper tries the leader lock
(callops.lib.leader_lock) and sweeps only while it holds it; the others stand by and try again on
their next tick. A leader that dies releases the lock with its session (or its file descriptor), so
a standby takes over within one interval. `--once` sweeps without the lock: a pass run by hand
beside a leader only enqueues work the leases already keep from running twice.
"""

import logging
import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections, connections
from django.utils.module_loading import import_string

from callops.lib.leader_lock import leader_lock

log = logging.getLogger("callops.sweeper")


def _close_stale_connections(force: bool = False) -> None:
    """close_old_connections(), or close every connection with force=True, except inside a
    transaction: the process loop never holds one, but a caller (a test, a shell) may, and closing
    its connection would break it."""
    if any(conn.in_atomic_block for conn in connections.all(initialized_only=True)):
        return
    if force:
        connections.close_all()
    else:
        close_old_connections()


class Command(BaseCommand):
    help = "Run the periodic sweeps in settings.SWEEPS every SWEEP_INTERVAL_SECONDS."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run one pass of every sweep and exit.")

    def handle(self, *args, once=False, **options):
        # Imported once: a typo in SWEEPS fails at start-up, not silently on every tick.
        sweeps = [(path, import_string(path)) for path in settings.SWEEPS]
        if once:
            self.run_pass(sweeps)
            return

        self.stopping = False

        def request_stop(signum, frame):
            log.info("sweeper: %s received, stopping after this pass", signal.Signals(signum).name)
            self.stopping = True

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        interval = float(settings.SWEEP_INTERVAL_SECONDS)
        log.info("sweeper: %d sweeps every %.1fs", len(sweeps), interval)
        lock = leader_lock("sweeper")
        leading: bool | None = None  # unknown until the first try, so the first state is logged
        while not self.stopping:
            started = time.monotonic()
            held = lock.acquire()
            if held != leading:
                leading = held
                log.info("sweeper: %s", "leading" if leading else "standing by: another sweeper leads")
            if leading:
                self.run_pass(sweeps)
            # Sleep in short slices so a stop request is honoured promptly.
            while not self.stopping and time.monotonic() - started < interval:
                time.sleep(min(0.1, max(0.0, interval - (time.monotonic() - started))))
        lock.release()
        _close_stale_connections(force=True)

    def run_pass(self, sweeps) -> dict:
        """Call every sweep once; returns {path: result or the exception it raised}."""
        results = {}
        # Drops connections that are broken or past CONN_MAX_AGE, as a request cycle would.
        _close_stale_connections()
        for path, func in sweeps:
            try:
                results[path] = func()
            except DatabaseError as exc:
                # The database went away or the connection broke: discard it so the next tick
                # reconnects instead of failing forever on a dead socket.
                log.warning("sweep %s: database error (%s); reconnecting next tick", path, exc)
                _close_stale_connections(force=True)
                results[path] = exc
            except Exception as exc:
                log.exception("sweep %s failed", path)
                results[path] = exc
            else:
                if results[path]:
                    log.info("sweep %s: %s", path, results[path])
        return results
