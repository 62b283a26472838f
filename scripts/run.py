"""`make run`: the whole of callops on one machine, supervised.

Starts an embedded redis-server when REDIS_URL is unset (SQLite under var/ is the settings
default when DATABASE_URL is unset), runs migrate, collectstatic and seed_demo, then runs the web
process (gunicorn), an RQ worker with its scheduler, and the sweeper together. Ctrl-C or SIGTERM
stops everything and waits for it. A process that exits is restarted, as a platform's process
manager would, after a delay that grows (to 30 s) while it keeps exiting quickly.

Environment: PORT (default 8000), WEB_CONCURRENCY and WEB_THREADS (gunicorn workers and threads
each, default 2 and 4: gunicorn.conf.py), plus everything
settings.py reads.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from embedded import ROOT, EmbeddedRedis, spawn, stop  # noqa: E402

PY = sys.executable
MANAGE = [PY, str(ROOT / "manage.py")]


# The three long-lived processes (the Procfile's web, worker and sweeper).
COMMANDS = {
    "web": lambda env, port: [
        # Workers, threads, keep-alive and preloading come from gunicorn.conf.py (WEB_CONCURRENCY,
        # WEB_THREADS), as for the Procfile.
        PY, "-m", "gunicorn", "callops.wsgi", "--bind", f"127.0.0.1:{port}",
        "--graceful-timeout", "10", "--no-control-socket", "--access-logfile", "-"],
    "worker": lambda env, port: [*MANAGE, "rqworker", "calls", "webhooks", "default", "--with-scheduler"],
    "sweeper": lambda env, port: [*MANAGE, "runsweeper"],
}
# A process that exits is restarted after a delay that doubles with each quick exit (a Redis
# outage can last a while) up to MAX_BACKOFF; one that ran for STABLE_AFTER seconds starts over.
MAX_BACKOFF = 30.0
STABLE_AFTER = 60.0


class Stop(Exception):
    pass


def _on_signal(signum, frame):
    raise Stop(signal.Signals(signum).name)


def _say(message: str) -> None:
    print(f"[run] {message}", flush=True)


# migrate, collectstatic and seed_demo in one interpreter: Django starts once instead of three times.
PREPARE = """
import django
from django.core.management import call_command
django.setup()
call_command("migrate", interactive=False, verbosity=0)
call_command("collectstatic", interactive=False, verbosity=0)
call_command("seed_demo")
"""


def _prepare(env) -> None:
    result = subprocess.run([PY, "-c", PREPARE], cwd=ROOT, env=env)
    if result.returncode != 0:
        raise SystemExit(f"[run] migrate / collectstatic / seed_demo failed with exit status {result.returncode}")


def _wait_healthy(url: str, children: dict, timeout: float = 60) -> dict:
    import httpx

    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        for name, proc in children.items():
            if proc.poll() is not None:
                raise SystemExit(f"[run] {name} exited with status {proc.returncode} during start-up")
        try:
            last = httpx.get(url + "healthz", timeout=2)
            if last.status_code == 200:
                return last.json()
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"[run] {url}healthz did not report healthy within {timeout:.0f}s (last: "
                     f"{last.text if last is not None else 'no answer'})")


def main() -> int:
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "callops.settings")
    env["PYTHONUNBUFFERED"] = "1"
    port = int(env.get("PORT") or 8000)
    url = f"http://127.0.0.1:{port}/"
    env.setdefault("PUBLIC_URL", url.rstrip("/"))
    var_dir = Path(env.get("CALLOPS_VAR_DIR") or ROOT / "var")
    var_dir.mkdir(parents=True, exist_ok=True)

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)

    redis = None
    children: dict[str, subprocess.Popen] = {}
    status = 0
    try:
        if not env.get("REDIS_URL"):
            redis = EmbeddedRedis(var_dir / "redis")
            redis.start()
            env["REDIS_URL"] = redis.url
            _say(f"embedded redis-server on {redis.url} (pid {redis.proc.pid})")
        _say("database: " + ("DATABASE_URL" if env.get("DATABASE_URL") else f"SQLite in {var_dir}"))
        _say("migrate, collectstatic, seed_demo")
        _prepare(env)

        for name, command in COMMANDS.items():
            children[name] = spawn(command(env, port), env=env)
        for name, proc in children.items():
            _say(f"started {name} (pid {proc.pid})")

        health = _wait_healthy(url, children)
        _say(f"health: database {'ok' if health['database']['ok'] else 'DOWN'}, "
             f"redis {'ok' if health['redis']['ok'] else 'DOWN'}")
        print(f"\n  callops is running at {url}\n  Sign in as 'demo' with the password printed by seed_demo "
              f"above\n  (printed once, when the user was created). Press Ctrl-C to stop.\n", flush=True)

        started = {name: time.monotonic() for name in children}
        backoff = {name: 0.0 for name in children}
        restart_at: dict[str, float] = {}
        while True:
            now = time.monotonic()
            for name, proc in list(children.items()):
                if name in restart_at:
                    if now >= restart_at[name]:
                        del restart_at[name]
                        children[name] = spawn(COMMANDS[name](env, port), env=env)
                        started[name] = now
                        _say(f"started {name} (pid {children[name].pid})")
                    continue
                if proc.poll() is None:
                    continue
                # As a platform's process manager does: a worker that lost Redis, a sweeper that
                # lost the database, come back on their own; the database holds what is due.
                quick = now - started[name] < STABLE_AFTER
                backoff[name] = min(MAX_BACKOFF, backoff[name] * 2 or 1.0) if quick else 1.0
                restart_at[name] = now + backoff[name]
                _say(f"{name} exited with status {proc.returncode}; restarting it in {backoff[name]:.0f}s")
            time.sleep(0.5)
    except Stop as why:
        if status == 0:
            _say(f"{why}: stopping")
    except SystemExit as exc:
        print(exc, file=sys.stderr, flush=True)
        status = 1
    finally:
        # A second Ctrl-C during shutdown must not abandon children half-stopped.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        # All three stop in parallel (gunicorn drains requests, the worker finishes its current
        # job); Redis goes last because the others talk to it while they shut down.
        for proc in children.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in children.items():
            code = stop(proc, timeout=20, signal_first=False)
            _say(f"{name} stopped ({code})")
        if redis is not None:
            redis.stop()
            _say("embedded redis-server stopped")
    return status


if __name__ == "__main__":
    sys.exit(main())
