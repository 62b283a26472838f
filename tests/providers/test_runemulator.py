"""`manage.py runemulator` serves a provider emulator on the chosen port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_runemulator_serves_the_dialect():
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "manage.py", "runemulator", "polyai", "--port", str(port),
                             "--api-key", "k1"], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "DJANGO_SETTINGS_MODULE": "callops.settings"}, start_new_session=True)
    try:
        assert f"127.0.0.1:{port}" in proc.stdout.readline()
        base = f"http://127.0.0.1:{port}/v1/outbound-calling"
        assert httpx.post(base, json={"to_number": "+14155550123"}).status_code == 401
        sid = httpx.post(base, json={"to_number": "+14155550123"}, headers={"X-PolyAi-Auth-Token": "k1"}).json()[
            "call_sid"]
        assert sid.startswith("OUT-")
        status = httpx.get(f"{base}/{sid}/status", headers={"X-PolyAi-Auth-Token": "k1"}).json()
        assert status == {"status": "queued", "reason": ""}
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=10)
