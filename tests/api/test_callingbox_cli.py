"""The official CallingBox CLI (`callingbox[cli]` 0.1.0) against a live callops server: `whoami`,
`calls list` (with `--all`), `calls get` and `call --to … --prompt …`, checking the values it
prints, not only its exit code. (`login` and `numbers …` are in test_numbers.py.)

The CLI runs in process (`callingbox.cli.main.main`) and talks to pytest-django's live server over
real HTTP. Its stdout is not a terminal here, so every command prints JSON.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import timedelta

import httpx
import pytest
from callingbox.resources.calls import Calls
from callingbox.types.call import Call as SdkCall
from django.utils import timezone

from callops.accounts import services as accounts
from callops.calls import agents as agent_services
from callops.calls import services as call_services
from callops.calls.models import Call, EventSource
from callops.lib import isotime

# Every test here talks to the live server (short_db_connections: see tests/conftest.py).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("short_db_connections")]

SDK_CALL_FIELDS = {f.name for f in dataclasses.fields(SdkCall)}
PROMPT = "Confirm Ann's 3pm appointment."


@pytest.fixture
def secret(personas):
    return accounts.create_api_key(personas.org, "cli")[1]


@pytest.fixture
def default_agent(sandbox_agent):
    return agent_services.make_default(sandbox_agent)


@pytest.fixture
def cli(monkeypatch, capsys, tmp_path, live_server, secret):
    """Run one CLI command with the key and base URL from the environment; (exit code, stdout, stderr)."""
    from callingbox.cli.main import main

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))  # never the real ~/.config
    monkeypatch.setenv("CALLINGBOX_API_KEY", secret)
    monkeypatch.setenv("CALLINGBOX_BASE_URL", live_server.url)

    def run(*args):
        monkeypatch.setattr(sys, "argv", ["callingbox", *args])
        try:
            code = main()
        except SystemExit as exc:
            code = exc.code
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def _calls(agent, n):
    """n calls, created one minute apart, newest first in the order returned."""
    made = [call_services.create_call(org=agent.organization, agent=agent, to_number=f"+1415555{i:04d}",
                                      source=EventSource.API) for i in range(n)]
    now = timezone.now()
    for i, call in enumerate(made):
        Call.objects.filter(pk=call.pk).update(created_at=now - timedelta(minutes=i + 1))
    return [Call.objects.get(pk=c.pk) for c in made]


def _listed(call: Call) -> dict:
    """The fields the CLI's call rows must carry for a call made by _calls."""
    return {"id": str(call.public_id), "to_number": call.to_number, "status": "queued", "direction": "outbound",
            "prompt": call.instructions, "created_at": isotime.format(call.created_at), "metadata": {},
            "duration_seconds": None, "result": None, "tools": []}


def _pick(row: dict) -> dict:
    return {k: row[k] for k in ("id", "to_number", "status", "direction", "prompt", "created_at", "metadata",
                                "duration_seconds", "result", "tools")}


def test_whoami_names_the_source_key_and_base_url(cli, secret, live_server, monkeypatch):
    code, out, err = cli("whoami")
    assert code == 0 and out == ""
    masked = f"{secret[:6]}…{secret[-4:]}"
    assert err.splitlines() == ["source:   env", f"api key:  {masked}", f"base url: {live_server.url}"]

    code, _, err = cli("--api-key", "sk_flag_0123456789", "whoami")
    assert code == 0
    assert err.splitlines() == ["source:   flag", "api key:  sk_fla…6789", f"base url: {live_server.url}"]

    monkeypatch.delenv("CALLINGBOX_API_KEY")
    code, _, err = cli("whoami")
    assert code == 3 and "no API key found" in err


def test_calls_list_one_page_then_all_pages(cli, sandbox_agent, personas, monkeypatch):
    made = _calls(sandbox_agent, 25)
    # Another organization's call never shows.
    Call.objects.create(organization=personas.other_org, agent=sandbox_agent, to_number="+14155550199",
                        provider="sandbox", provider_account=sandbox_agent.provider_account)
    code, out, err = cli("calls", "list")
    assert code == 0, err
    page = json.loads(out)
    assert page["has_more"] is True and len(page["data"]) == 20  # the server's default page
    assert set(page["data"][0]) == SDK_CALL_FIELDS
    assert [_pick(r) for r in page["data"]] == [_listed(c) for c in made[:20]]

    code, out, err = cli("calls", "list", "--limit", "10", "--after", str(made[19].public_id))
    assert code == 0, err
    page = json.loads(out)
    assert page["has_more"] is False and [r["id"] for r in page["data"]] == [str(c.public_id) for c in made[20:]]

    code, out, err = cli("calls", "list", "--limit", "10", "--before", str(made[5].public_id))
    assert code == 0, err
    page = json.loads(out)
    assert [r["id"] for r in page["data"]] == [str(c.public_id) for c in made[:5]] and page["has_more"] is False

    # --all pages with starting_after until has_more is false: it must stop, with every call once.
    pages = []
    unbounded = Calls.list

    def bounded(self, **kw):
        pages.append(kw)
        assert len(pages) <= 10, "calls list --all did not stop"
        return unbounded(self, **kw)

    monkeypatch.setattr(Calls, "list", bounded)
    code, out, err = cli("calls", "list", "--all", "--limit", "10")
    assert code == 0, err
    everything = json.loads(out)  # --all prints a bare array
    assert [_pick(r) for r in everything] == [_listed(c) for c in made]
    assert pages == [{"limit": 10, "starting_after": None, "ending_before": None},
                     {"limit": 10, "starting_after": str(made[9].public_id), "ending_before": None},
                     {"limit": 10, "starting_after": str(made[19].public_id), "ending_before": None}]

    pages.clear()
    code, out, err = cli("calls", "list", "--all")  # the server's page size
    assert code == 0, err
    assert [r["id"] for r in json.loads(out)] == [str(c.public_id) for c in made] and len(pages) == 2


def test_calls_list_all_with_no_calls_is_an_empty_array(cli):
    code, out, err = cli("calls", "list", "--all")
    assert code == 0, err
    assert json.loads(out) == []


def test_calls_get(cli, sandbox_agent, personas):
    call = _calls(sandbox_agent, 1)[0]
    Call.objects.filter(pk=call.pk).update(status="completed", duration_seconds=42, billed_duration_seconds=60,
                                           billing_amount_milli_cents=9000, reservation_status="settled",
                                           language="en-US", hangup_cause="caller_hangup")
    code, out, err = cli("calls", "get", str(call.public_id))
    assert code == 0, err
    got = json.loads(out)
    assert set(got) == SDK_CALL_FIELDS
    assert {k: got[k] for k in ("id", "to_number", "status", "prompt", "duration_seconds", "billed_duration_seconds",
                                "billing_amount_milli_cents", "reservation_status", "language", "metadata",
                                "hangup_cause", "error_code", "from_number")} == {
        "id": str(call.public_id), "to_number": "+14155550000", "status": "completed",
        "prompt": "Confirm the appointment.", "duration_seconds": 42, "billed_duration_seconds": 60,
        "billing_amount_milli_cents": 9000, "reservation_status": "settled", "language": "en-US",
        "metadata": {"language": "en-US"}, "hangup_cause": "caller_hangup", "error_code": None, "from_number": None}

    missing = "00000000-0000-4000-8000-000000000000"
    code, out, err = cli("calls", "get", missing)
    assert code == 4 and out == "" and err.strip() == f"error: [404] call {missing} not found"

    # Another organization's call is not found either.
    theirs = Call.objects.create(organization=personas.other_org, agent=sandbox_agent, to_number="+14155550199",
                                 provider="sandbox", provider_account=sandbox_agent.provider_account)
    code, _, err = cli("calls", "get", str(theirs.public_id))
    assert code == 4 and f"call {theirs.public_id} not found" in err


def test_call_no_wait_creates_with_the_default_agent(cli, default_agent, live_server, secret):
    code, out, err = cli("call", "--to", "+12025550100", "--prompt", PROMPT, "--context", '{"name": "Ann"}',
                         "--returns", '{"confirmed": "boolean"}', "--language", "en-US",
                         "--voicemail-action", "leave_message", "--no-wait")
    assert code == 0, err
    printed = json.loads(out)
    row = Call.objects.get(public_id=printed["id"])
    assert row.agent == default_agent and row.instructions == PROMPT
    assert (row.language, row.voicemail_action, row.context) == ("en-US", "leave_message", {"name": "Ann"})
    assert set(printed) == SDK_CALL_FIELDS
    assert {k: printed[k] for k in ("to_number", "status", "direction", "prompt", "context", "returns", "language",
                                    "tools", "result", "metadata")} == {
        "to_number": "+12025550100", "status": "queued", "direction": "outbound", "prompt": PROMPT,
        "context": {"name": "Ann"}, "returns": {"confirmed": "boolean"}, "language": "en-US", "tools": [],
        "result": None, "metadata": {"language": "en-US"}}
    # The call object carries both names of the one field, and the agent the call went to.
    api = httpx.get(f"{live_server.url}/v1/calls/{row.public_id}", headers={"Authorization": f"Bearer {secret}"})
    body = api.json()
    assert body["prompt"] == body["instructions"] == PROMPT
    assert body["agent_id"] == str(default_agent.public_id) and body["voicemail_action"] == "leave_message"


def test_call_waits_for_the_end_and_prints_the_transcript(cli, default_agent, monkeypatch, clock, run_jobs):
    """Without --no-wait the CLI polls GET /v1/calls/{id} every 2 s until a terminal status; its sleep
    moves the test clock and runs the sweeps and jobs, as the worker would meanwhile."""
    from callingbox.cli.commands import call as call_cmd

    from callops.calls.jobs import sweep_scheduled_calls
    from callops.calls.status_sync import sweep_due_syncs, sweep_stale_calls

    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        assert len(sleeps) <= 50, "the CLI never saw the call end"
        clock.advance(seconds)
        sweep_scheduled_calls()
        sweep_due_syncs()
        sweep_stale_calls()
        run_jobs()

    monkeypatch.setattr(call_cmd.time, "sleep", sleep)
    code, out, err = cli("call", "--to", "+12025550100", "--prompt", PROMPT, "--transcript")
    assert code == 0, err
    printed = json.loads(out)
    row = Call.objects.get(public_id=printed["call"]["id"])
    assert row.agent == default_agent and row.status == "completed"
    assert printed["call"]["status"] == "completed" and printed["call"]["prompt"] == PROMPT
    assert printed["call"]["duration_seconds"] == row.duration_seconds > 0
    assert printed["result"] is None
    assert [(s["sequence_no"], s["role"], s["text"]) for s in printed["transcript"]] == [
        (i, t["role"], t["text"]) for i, t in enumerate(row.transcript, start=1)]
    assert printed["transcript"] and sleeps and set(sleeps) == {2.0}


def test_call_to_a_refused_number_exits_non_zero_with_the_reason(cli, default_agent):
    code, out, err = cli("call", "--to", "+12025550109", "--prompt", PROMPT)
    assert code == 1 and out == ""
    assert err.strip() == ("error: [502] the provider could not place the call: the sandbox refuses calls to "
                           "+12025550109 (the test number for a refused placement)")
    assert Call.objects.get().status == "failed"
