"""Shared pieces of the benchmarks: Django setup against PostgreSQL, servers, timing helpers.

Benchmarks run against the local PostgreSQL and Redis (DATABASE_URL / REDIS_URL, defaulting to a
dedicated `callops_bench` database and Redis db 14) and print every figure beside a baseline
measured in the same run, because these machines are noisy.
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/callops_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"


def _local_secret(name: str, factory) -> str:
    """The key settings.py keeps in var/ for local runs (made here if missing), so data the
    benchmarks stored in an earlier run still decrypts."""
    path = Path(os.environ.get("CALLOPS_VAR_DIR") or ROOT / "var") / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(factory())
        path.chmod(0o600)
    return path.read_text().strip()


def bench_env() -> dict:
    """Production settings (DEBUG off: no query log, no template debug info, hashed static files),
    except that loopback HTTP is not redirected to HTTPS."""
    import base64
    import secrets

    env = dict(os.environ)
    env.setdefault("DATABASE_URL", DEFAULT_DB)
    env.setdefault("REDIS_URL", DEFAULT_REDIS)
    env["DJANGO_SETTINGS_MODULE"] = "callops.settings"
    env.setdefault("DEBUG", "0")
    env.setdefault("SECURE_SSL_REDIRECT", "0")
    env.setdefault("SECRET_KEY", _local_secret("secret_key", lambda: secrets.token_urlsafe(50)))
    env.setdefault("ENCRYPTION_KEY", _local_secret(
        "encryption_key", lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()))
    env["API_RATE_LIMIT_PER_MINUTE"] = "100000000"
    env["LOG_LEVEL"] = "WARNING"
    return env


def ensure_database(url: str) -> None:
    """Create the benchmark database if missing (never touches any other database)."""
    import psycopg

    name = url.rsplit("/", 1)[-1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django() -> None:
    env = bench_env()
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "DEBUG",
                                           "SECURE_SSL_REDIRECT", "SECRET_KEY", "ENCRYPTION_KEY",
                                           "API_RATE_LIMIT_PER_MINUTE", "LOG_LEVEL")})
    sys.path.insert(0, str(ROOT))
    if os.environ["DATABASE_URL"].startswith("postgres"):
        ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    if not settings_debug():
        # Pages name their static files through the manifest, as in production.
        call_command("collectstatic", verbosity=0, interactive=False)


def settings_debug() -> bool:
    from django.conf import settings

    return settings.DEBUG


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """The production web server on a loopback port, started for one benchmark."""

    def __init__(self, workers: int = 2, threads: int = 4, extra_env: dict | None = None):
        self.port = free_port()
        env = {**bench_env(), **(extra_env or {})}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "callops.wsgi", "-b", f"127.0.0.1:{self.port}", "-w", str(workers),
             "--threads", str(threads), "--log-level", "warning"],
            cwd=ROOT, env=env, start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 30
        import httpx

        while time.time() < deadline:
            try:
                httpx.get(self.url + "/healthz", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("gunicorn did not start")

    def peak_rss_mb(self) -> float:
        """Peak resident memory of the master and its workers (VmHWM), in MB."""
        total = 0
        pids = [self.proc.pid] + [int(p) for p in subprocess.run(
            ["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout.split()]
        for pid in pids:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1])
            except OSError:
                continue
        return total / 1024

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(p / 100 * (len(values) - 1))))
    return values[k]


def median(values):
    return statistics.median(values) if values else float("nan")


def row(name: str, value: float, baseline: float, unit: str, ratio: float, goal: str) -> str:
    return f"{name:<44} {value:>10.2f} {unit:<8} baseline {baseline:>10.2f} {unit:<8} ratio {ratio:>6.2f}  goal {goal}"
