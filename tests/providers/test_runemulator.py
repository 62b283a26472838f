"""`manage.py runemulator` serves a provider emulator on the chosen port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from django.core.management import CommandError, call_command

from tests.helpers import wait_for

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
        proc.wait(timeout=60)


def _serve(*args):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "manage.py", "runemulator", *args, "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True, start_new_session=True,
                            env={**os.environ, "DJANGO_SETTINGS_MODULE": "callops.settings"})
    assert f"127.0.0.1:{port}" in proc.stdout.readline()
    return proc, f"http://127.0.0.1:{port}"


def _stop(proc):
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(timeout=60)


@pytest.mark.slow
def test_runemulator_scripts_faults_and_provider_options():
    proc, base = _serve("callingbox", "--api-key", "k", "--p429", "1", "--retry-after", "3")
    try:
        r = httpx.post(f"{base}/v1/calls", json={"agent_id": "a", "to": "+14155550123"},
                       headers={"Authorization": "Bearer k"})
        assert r.status_code == 429 and r.headers["retry-after"] == "3.0"
    finally:
        _stop(proc)
    proc, base = _serve("trillet", "--api-key", "k", "--workspace-id", "ws_demo", "--script", "+14155550123=busy",
                        "--speed", "100")
    try:
        headers = {"x-api-key": "k", "x-workspace-id": "ws_test"}
        assert httpx.post(f"{base}/v1/api/call", json={}, headers=headers).status_code == 401
        headers["x-workspace-id"] = "ws_demo"
        call_id = httpx.post(f"{base}/v1/api/call", json={"to": "+14155550123", "call_agent_id": "a"},
                             headers=headers).json()["call_id"]
        # The emulator is another process, on the real clock: wait for its call to end.
        history = wait_for(lambda: (h := httpx.get(f"{base}/v2/api/call-history/{call_id}", headers=headers).json())
                           ["status"] == "failed" and h, "the emulated call to fail", interval=0.05)
        assert history["error"].startswith("Number busy")
    finally:
        _stop(proc)
    # At speed 2 the call ends 10 real seconds after it was placed: a wide margin for the first
    # read, which must still find it queued on a loaded machine, yet a short wait for the 404.
    proc, base = _serve("polyai", "--api-key", "k", "--status-style", "upper", "--expiry-seconds", "1",
                        "--speed", "2", "--script", "+14155550123=queue_timeout")
    try:
        headers = {"X-PolyAi-Auth-Token": "k"}
        sid = httpx.post(f"{base}/v1/outbound-calling", json={"to_number": "+14155550123"}, headers=headers).json()[
            "call_sid"]
        assert httpx.get(f"{base}/v1/outbound-calling/{sid}/status", headers=headers).json()["status"] == "QUEUED"
        # The call ends (20 provider s) and its status expires (1 provider s later): then a 404.
        wait_for(lambda: httpx.get(f"{base}/v1/outbound-calling/{sid}/status", headers=headers).status_code == 404,
                 "the ended call's status to expire", interval=0.2)
    finally:
        _stop(proc)


def test_runemulator_refuses_options_of_another_provider():
    with pytest.raises(CommandError, match="applies to polyai only"):
        call_command("runemulator", "bolna", "--expiry-seconds", "5")
    with pytest.raises(CommandError, match="unknown outcome"):
        call_command("runemulator", "bolna", "--script", "+14155550123=nope")
    with pytest.raises(CommandError, match="KEY=VALUE"):
        call_command("runemulator", "dograh", "--trigger", "11111111-2222-3333-4444-555555555555")
    with pytest.raises(CommandError, match="applies to polyai only"):
        call_command("runemulator", "bolna", "--variant", "agents")
    with pytest.raises(CommandError, match="applies to trillet only"):
        call_command("runemulator", "polyai", "--callback-style", "job")
    with pytest.raises(CommandError, match="applies to bolna only"):
        call_command("runemulator", "trillet", "--push-id", "execution_id")


def test_runemulator_serves_the_polyai_agents_api():
    proc, base = _serve("polyai", "--api-key", "k", "--variant", "agents", "--environment", "sandbox")
    try:
        body = {"toNumber": "+14155550123", "environment": "sandbox"}
        url = f"{base}/v1/agents/agent-1/telephony/outbound-calls"
        created = httpx.post(url, json=body, headers={"X-API-KEY": "k"})
        assert created.status_code == 200 and created.json()["status"] == "QUEUED"
        sid = created.json()["callSid"]
        status = httpx.get(f"{url}/{sid}/status", params={"environment": "sandbox"}, headers={"X-API-KEY": "k"})
        assert status.json() == {"status": "QUEUED", "reason": ""}
        # The outbound-calling route is not this account's API.
        v1 = httpx.post(f"{base}/v1/outbound-calling", json={"to_number": "+14155550123"},
                        headers={"X-PolyAi-Auth-Token": "k"})
        assert (v1.status_code, v1.json()) == (401, {"message": "Invalid or missing authentication token"})
    finally:
        _stop(proc)


def test_runemulator_lists_outcomes(capsys):
    call_command("runemulator", "bolna", "--list-outcomes")
    out = capsys.readouterr().out
    assert "balance_low_old" in out and "call-disconnected" in out
