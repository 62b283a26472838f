"""`make test`: run pytest, with an embedded redis-server when REDIS_URL is unset.

Arguments are passed to pytest (`make test ARGS="tests/calls -x"`). With DATABASE_URL and
REDIS_URL set (as .ci/run does) the suite uses them; otherwise SQLite files under var/ and a
private redis-server for the duration of the run. The exit status is pytest's, so failures and
"no tests collected" (status 5) both fail the command.

Tests run in TEST_WORKERS pytest-xdist processes (1 runs them in this one process), unless the
arguments say `-n`/`--numprocesses` themselves. Most of the suite waits on loopback HTTP, Redis,
the database and subprocesses rather than computing, so more processes than cores still help. On
2 cores beside a CPU-bound process the whole suite took 5:25 in one process, 4:47 in two and
3:38 in three (3:57 and 3:05 for one and two on a quiet machine). The default is 3 with the run's
private redis-server, whose 16 databases are all ours, and 2 with a REDIS_URL given (CI): each
worker takes a database of that server (tests/conftest.py), so fewer is kinder to a shared one.
"""

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from embedded import ROOT, EmbeddedRedis  # noqa: E402


def _interrupt(signum, frame):
    raise KeyboardInterrupt


DEFAULT_WORKERS = {"private redis": "3", "given redis": "2"}


def parallel_args(argv: list[str], env: dict) -> list[str]:
    """`-n N` for pytest-xdist, unless the arguments choose or TEST_WORKERS is 1 (or 0)."""
    if any(a.startswith(("-n", "--numprocesses", "--dist")) or a.endswith("no:xdist") for a in argv):
        return []
    default = DEFAULT_WORKERS["private redis" if env.get("CALLOPS_TEST_PRIVATE_REDIS") == "1" else "given redis"]
    workers = (env.get("TEST_WORKERS") or default).strip()
    if workers in ("0", "1"):
        return []
    return ["-n", workers]


def main(argv: list[str]) -> int:
    # A run started from inside a test (the suite tests this script) is a fresh run, not a worker.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PYTEST_XDIST_") and k != "CALLOPS_TEST_PRIVATE_REDIS"}
    redis = None
    # whitenoise warns on every test client when STATIC_ROOT is missing (a fresh clone has not run
    # collectstatic); tests serve static files through the finders, so an empty directory will do.
    (Path(env.get("CALLOPS_VAR_DIR") or ROOT / "var") / "staticfiles").mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, _interrupt)
    with tempfile.TemporaryDirectory(prefix="callops-test-redis-") as workdir:
        try:
            if not env.get("REDIS_URL"):
                redis = EmbeddedRedis(Path(workdir))
                redis.start()
                env["REDIS_URL"] = redis.url
                env["CALLOPS_TEST_PRIVATE_REDIS"] = "1"  # every database of it is ours (xdist workers)
                print(f"[test] embedded redis-server on {redis.url}", flush=True)
            proc = subprocess.Popen([sys.executable, "-m", "pytest", *parallel_args(argv, env), *argv], cwd=ROOT,
                                    env=env)
            # The terminal's Ctrl-C reaches pytest directly (same process group); this process only
            # has to outlive it to stop Redis. Ignored only now: SIG_IGN would be inherited by pytest.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            try:
                code = proc.wait()
            except KeyboardInterrupt:
                proc.terminate()
                code = proc.wait()
        finally:
            if redis is not None:
                redis.stop()
    if code == 5:
        print("[test] pytest collected no tests: failing", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
