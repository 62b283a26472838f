"""`make test`: run pytest, with an embedded redis-server when REDIS_URL is unset.

Arguments are passed to pytest (`make test ARGS="tests/calls -x"`). With DATABASE_URL and
REDIS_URL set (as .ci/run does) the suite uses them; otherwise SQLite files under var/ and a
private redis-server for the duration of the run. The exit status is pytest's, so failures and
"no tests collected" (status 5) both fail the command.
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


def main(argv: list[str]) -> int:
    env = dict(os.environ)
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
                print(f"[test] embedded redis-server on {redis.url}", flush=True)
            proc = subprocess.Popen([sys.executable, "-m", "pytest", *argv], cwd=ROOT, env=env)
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
