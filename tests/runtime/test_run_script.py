"""`make run` end to end: scripts/run.py on a fresh var dir with no DATABASE_URL or REDIS_URL.

A real embedded redis-server, gunicorn, an RQ worker and the sweeper; the test talks HTTP to it,
signs in as the demo user with the printed password, then stops it and checks nothing is left.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from tests.helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid: int) -> dict[int, str]:
    """{pid: command line} of every process below `pid`, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = {}, [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found[child] = _cmdline(child)
            todo.append(child)
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def alive(pid: int, cmdline: str) -> bool:
    """Running (not a zombie) and still the same program, so a recycled pid does not count."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z" and _cmdline(pid) == cmdline


class Supervisor:
    def __init__(self, var_dir: Path, port: int):
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "PUBLIC_URL")}
        env.update({"CALLOPS_VAR_DIR": str(var_dir), "PORT": str(port), "WEB_CONCURRENCY": "2",
                    "SWEEP_INTERVAL_SECONDS": "0.5", "PYTHONUNBUFFERED": "1"})
        self.url = f"http://127.0.0.1:{port}"
        self.lines: list[str] = []
        self.proc = subprocess.Popen([sys.executable, "scripts/run.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, start_new_session=True)
        # Drain the pipe continuously: children share it and would block on a full pipe.
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout: float = 60) -> None:
        def seen():
            assert self.proc.poll() is None, f"run.py exited early ({self.proc.returncode}):\n{self.output}"
            return text in self.output

        try:
            wait_for(seen, f"{text!r} in run.py's output", timeout=timeout, interval=0.1)
        except AssertionError as exc:
            raise AssertionError(f"{exc}:\n{self.output}") from None

    def wait_exit(self, timeout: float = 60) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"run.py did not stop within {timeout}s:\n{self.output}")

    def kill(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def assert_all_gone(procs: dict[int, str], timeout: float = 60) -> None:
    wait_for(lambda: not any(alive(p, c) for p, c in procs.items()),
             f"every process to exit (left running: {[c for p, c in procs.items() if alive(p, c)]})",
             timeout=timeout, interval=0.1)


def sign_in(url: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=10)
    page = client.get("/login/")
    assert page.status_code == 200 and 'name="password"' in page.text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    answer = client.post("/login/", data={"csrfmiddlewaretoken": token, "username": "demo", "password": password},
                         headers={"Referer": url + "/login/"})
    assert answer.status_code == 302 and "/login/" not in answer.headers["location"], answer.text[:500]
    return client


@pytest.mark.slow
def test_run_serves_the_app_on_embedded_services_and_stops_cleanly(tmp_path):
    sup = Supervisor(tmp_path / "var", free_port())
    try:
        sup.wait_for("callops is running at")

        health = httpx.get(sup.url + "/healthz", timeout=5)
        assert health.status_code == 200
        assert health.json()["database"]["ok"] is True and health.json()["redis"]["ok"] is True
        assert (tmp_path / "var" / "callops.sqlite3").exists()  # SQLite under the var dir

        password = re.search(r"password: (\S+)", sup.output).group(1)
        assert re.search(r"Demo API key created: ck_\S+", sup.output)
        client = sign_in(sup.url, password)
        assert client.get("/login/").status_code == 302  # the session is signed in
        assert client.get("/").status_code == 200
        client.close()
        with pytest.raises(AssertionError):
            sign_in(sup.url, password + "x")  # a wrong password does not get in

        procs = descendants(sup.proc.pid)
        commands = " ".join(procs.values())
        for expected in ("redis-server", "gunicorn", "rqworker", "runsweeper"):
            assert expected in commands, commands
        assert sum("gunicorn" in c for c in procs.values()) >= 3  # master and two workers

        sup.proc.send_signal(signal.SIGINT)
        assert sup.wait_exit() == 0, sup.output
        assert_all_gone(procs)
    finally:
        sup.kill()


@pytest.mark.slow
def test_a_second_run_reuses_the_data_and_a_dead_child_is_restarted(tmp_path):
    var_dir = tmp_path / "var"
    first = Supervisor(var_dir, free_port())
    try:
        first.wait_for("callops is running at")
        password = re.search(r"password: (\S+)", first.output).group(1)
        first.proc.send_signal(signal.SIGTERM)
        assert first.wait_exit() == 0
    finally:
        first.kill()

    second = Supervisor(var_dir, free_port())
    try:
        second.wait_for("callops is running at")
        assert "Demo login exists" in second.output and password not in second.output
        sign_in(second.url, password).close()  # same database, same password

        procs = descendants(second.proc.pid)
        sweeper = next(p for p, c in procs.items() if "runsweeper" in c)
        os.kill(sweeper, signal.SIGKILL)
        second.wait_for("sweeper exited with status -9; restarting it")
        wait_for(lambda: any("runsweeper" in c for p, c in descendants(second.proc.pid).items() if p != sweeper),
                 "a new sweeper process", interval=0.2)  # and everything else still up:
        assert second.proc.poll() is None
        assert httpx.get(second.url + "/healthz", timeout=5).status_code == 200
        procs = descendants(second.proc.pid)
        second.proc.send_signal(signal.SIGTERM)
        assert second.wait_exit() == 0
        assert_all_gone(procs)
    finally:
        second.kill()
