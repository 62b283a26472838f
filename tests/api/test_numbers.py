"""/v1/numbers through the official CallingBox SDK and CLI against the running app.

The SDK (`callingbox.Callingbox`) and the CLI (`callingbox.cli.main`) talk to pytest-django's live
server over real HTTP; CallingBox numbers go on through the adapter to the CallingBox emulator
over loopback.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import timedelta

import httpx
import pytest
from callingbox import Callingbox
from callingbox._exceptions import APIError, BadRequestError, NotFoundError
from callingbox.types.number import PhoneNumber as SdkPhoneNumber
from django.utils import timezone

from callops.accounts import services as accounts
from callops.calls.models import Agent, Call
from callops.providers.emulators import emulator_class
from callops.providers.models import PhoneNumber, ProviderAccount

# Every test here talks to the live server (short_db_connections: see tests/conftest.py).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("short_db_connections")]

INBOUND_MESSAGE = "inbound calls are not supported: callops places outbound calls only"
PHONE_FIELDS = {f.name for f in dataclasses.fields(SdkPhoneNumber)}


@pytest.fixture
def secret(personas):
    return accounts.create_api_key(personas.org, "sdk")[1]


@pytest.fixture
def sdk(live_server, secret):
    client = Callingbox(api_key=secret, base_url=live_server.url)
    yield client
    client.close()


@pytest.fixture
def sandbox(personas):
    return ProviderAccount.objects.create(organization=personas.org, kind="sandbox", name="Sandbox")


@pytest.fixture
def callingbox_emulator():
    emu = emulator_class("callingbox")(speed=50.0).start()
    yield emu
    emu.stop()


@pytest.fixture
def callingbox_account(personas, callingbox_emulator):
    account = ProviderAccount(organization=personas.org, kind="callingbox", name="CallingBox",
                              base_url=callingbox_emulator.url, rate_limit_per_minute=100000)
    account.set_credentials({"api_key": callingbox_emulator.api_key})
    account.save()
    return account


def _number(account, e164, minutes_ago):
    when = timezone.now() - timedelta(minutes=minutes_ago)
    return PhoneNumber.objects.create(organization=account.organization, provider_account=account, e164=e164,
                                      number_type="local", purchased_at=when, created_at=when)


def test_list_pages_every_caller_id_in_the_sdk_shape(sdk, live_server, secret, personas, sandbox):
    """Bought numbers and agents' from_numbers are one list, newest first, paged both ways."""
    rows = [_number(sandbox, f"+1202555019{i}", minutes_ago=10 - i) for i in range(4)]
    Agent.objects.create(organization=personas.org, provider_account=sandbox, name="A", from_number="+14155550123")
    Agent.objects.create(organization=personas.org, provider_account=sandbox, name="B", from_number="")
    # Same caller id on two agents of one account: one number.
    Agent.objects.create(organization=personas.org, provider_account=sandbox, name="C", from_number="+14155550123")

    page = sdk.numbers.list(limit=2)
    assert page.has_more is True
    newest = page.data[0]
    assert newest.e164 == "+14155550123" and newest.number_type == "unknown"
    assert [n.e164 for n in page.data][1:] == [rows[3].e164]
    everything = list(sdk.numbers.iter_numbers(limit=2))
    assert [n.e164 for n in everything] == ["+14155550123"] + [r.e164 for r in reversed(rows)]
    assert len({n.id for n in everything}) == 5

    # ending_before: the newer rows closest to the cursor, still newest first.
    before = sdk.numbers.list(limit=2, ending_before=str(rows[0].public_id))
    assert [n.e164 for n in before] == [rows[2].e164, rows[1].e164] and before.has_more is True
    assert [n.e164 for n in sdk.numbers.iter_numbers(limit=2, ending_before=str(rows[1].public_id))] == \
        ["+14155550123", rows[3].e164, rows[2].e164]

    raw = httpx.get(f"{live_server.url}/v1/numbers", params={"limit": 1},
                    headers={"Authorization": f"Bearer {secret}"}).json()
    assert raw["object"] == "list" and set(raw) == {"object", "data", "has_more", "next_cursor"}
    # The shared list pagination: the opaque cursor pages the same rows as starting_after.
    second = httpx.get(f"{live_server.url}/v1/numbers", params={"limit": 1, "cursor": raw["next_cursor"]},
                       headers={"Authorization": f"Bearer {secret}"}).json()
    assert [n["id"] for n in second["data"]] == [everything[1].id] and second["has_more"] is True
    both = httpx.get(f"{live_server.url}/v1/numbers", params={"cursor": raw["next_cursor"],
                                                              "starting_after": everything[0].id},
                     headers={"Authorization": f"Bearer {secret}"})
    assert both.status_code == 400 and both.json()["error"] == "pass only one of cursor, starting_after"
    item = raw["data"][0]
    assert PHONE_FIELDS <= set(item)
    assert item["inbound_enabled"] is False and item["inbound_voicemail_action"] == "hangup"
    assert all(item[k] is None for k in PHONE_FIELDS if k.startswith("inbound_") and k not in
               ("inbound_enabled", "inbound_voicemail_action"))
    assert item["provider_account_id"] == str(sandbox.public_id) and item["source"] == "agent"

    with pytest.raises(BadRequestError, match="starting_after"):
        sdk.numbers.list(starting_after="not-a-number")


def test_sandbox_search_buy_list_and_call_from_it(sdk, live_server, secret, personas, sandbox, run_jobs):
    found = sdk.numbers.search_available(limit=5)
    assert [n.phone_number for n in found] == [f"+120255501{i:02d}" for i in range(5)]
    assert {(n.country_code, n.number_type, n.state, n.monthly_cost_cents) for n in found} == {("US", "local", "DC", 0)}
    assert sdk.numbers.search_available(area_code="415") == []

    bought = sdk.numbers.purchase("+12025550100")
    assert bought.e164 == "+12025550100" and bought.status == "active" and bought.inbound_voicemail_action == "hangup"
    assert [n.id for n in sdk.numbers.list()] == [bought.id]
    # Owned numbers are no longer offered, and cannot be bought twice.
    assert sdk.numbers.search_available(limit=1)[0].phone_number == "+12025550101"
    with pytest.raises(APIError) as taken:
        sdk.numbers.purchase("+12025550100")
    assert taken.value.status_code == 409
    with pytest.raises(BadRequestError, match="sells only"):
        sdk.numbers.purchase("+14155550100")

    agent = Agent.objects.create(organization=personas.org, provider_account=sandbox, name="Caller")
    # The SDK's calls.create has no agent_id (CallingBox's prompt-based create); callops needs one,
    # so the request goes through the SDK's transport with the agent named.
    call = sdk._request("POST", "/v1/calls", json={"agent_id": str(agent.public_id), "to": "+12025550100",
                                                  "from_number": bought.e164})
    assert call["from_number"] == "+12025550100"
    run_jobs()
    assert Call.objects.get(public_id=call["id"]).from_number == "+12025550100"
    assert Call.objects.get(public_id=call["id"]).status != "failed"


def test_callingbox_search_and_buy_through_the_emulator(sdk, personas, callingbox_account, callingbox_emulator,
                                                        run_jobs):
    found = sdk.numbers.search_available(area_code="415", limit=3)
    assert [n.phone_number for n in found] == ["+14155550100", "+14155550101", "+14155550102"]
    assert found[0].locality == "San Francisco" and found[0].monthly_cost_cents == 150
    assert found[0].upfront_cost_cents == 100

    bought = sdk.numbers.purchase("+14155550101")
    at_provider = [n for n in callingbox_emulator.owned_numbers if n["e164"] == "+14155550101"]
    assert len(at_provider) == 1
    row = PhoneNumber.objects.get(public_id=bought.id)
    assert row.provider_account == callingbox_account and row.provider_number_id == at_provider[0]["id"]
    assert bought.monthly_cost_cents == 150 and bought.number_type == "local"
    assert [n.e164 for n in sdk.numbers.iter_numbers()] == ["+14155550101"]
    # The provider no longer offers it.
    assert "+14155550101" not in [n.phone_number for n in sdk.numbers.search_available(area_code="415")]

    agent = Agent.objects.create(organization=personas.org, provider_account=callingbox_account, name="CB",
                                 provider_agent_id="0b7a6f8e-1d2c-4b3a-9e8f-7a6b5c4d3e2f")
    call = sdk._request("POST", "/v1/calls", json={"agent_id": str(agent.public_id), "to": "+14155559999",
                                                  "from_number": bought.e164})
    run_jobs()
    placed = Call.objects.get(public_id=call["id"])
    assert placed.provider_call_id
    assert callingbox_emulator.calls[placed.provider_call_id].request["from_number"] == "+14155550101"

    with pytest.raises(BadRequestError, match="US only"):
        sdk.numbers.search_available(country_code="GB")


def test_several_selling_accounts_need_provider_account_id(sdk, personas, sandbox, callingbox_account):
    with pytest.raises(BadRequestError, match="provider_account_id"):
        sdk.numbers.search_available()
    with pytest.raises(BadRequestError, match="provider_account_id"):
        sdk.numbers.purchase("+12025550100")
    found = sdk._request("GET", "/v1/numbers/available", params={"provider_account_id": str(sandbox.public_id),
                                                                  "limit": 1})
    assert found["data"][0]["phone_number"] == "+12025550100"
    bought = sdk._request("POST", "/v1/numbers/purchase", json={"phone_number": "+12025550100",
                                                              "provider_account_id": str(sandbox.public_id)})
    assert PhoneNumber.objects.get(public_id=bought["id"]).provider_account == sandbox
    bolna = ProviderAccount.objects.create(organization=personas.org, kind="bolna", name="Bolna")
    with pytest.raises(BadRequestError, match="does not sell numbers"):
        sdk._request("GET", "/v1/numbers/available", params={"provider_account_id": str(bolna.public_id)})


def test_no_selling_account_is_a_400(sdk, personas):
    ProviderAccount.objects.create(organization=personas.org, kind="bolna", name="Bolna")
    with pytest.raises(BadRequestError, match="sells numbers"):
        sdk.numbers.search_available()


def test_inbound_config_is_501_and_numbers_are_tenant_scoped(sdk, live_server, personas, sandbox):
    ours = _number(sandbox, "+12025550150", minutes_ago=1)
    with pytest.raises(APIError) as exc:
        sdk.numbers.update_inbound_config(str(ours.public_id), enabled=True, prompt="hi", returns=None,
                                          webhook_url=None, language=None, tools=None, voicemail_action="hangup")
    assert exc.value.status_code == 501 and exc.value.message == INBOUND_MESSAGE

    other_account = ProviderAccount.objects.create(organization=personas.other_org, kind="sandbox", name="Sandbox")
    theirs = _number(other_account, "+12025550151", minutes_ago=1)
    with pytest.raises(NotFoundError):
        sdk.numbers.update_inbound_config(str(theirs.public_id), enabled=False, prompt=None, returns=None,
                                          webhook_url=None, language=None, tools=None, voicemail_action=None)
    assert [n.e164 for n in sdk.numbers.list()] == ["+12025550150"]
    with pytest.raises(BadRequestError):
        sdk.numbers.list(starting_after=str(theirs.public_id))

    outsider = Callingbox(api_key=accounts.create_api_key(personas.other_org, "globex")[1], base_url=live_server.url)
    assert [n.e164 for n in outsider.numbers.list()] == ["+12025550151"]
    outsider.close()


def test_read_only_key_cannot_buy(live_server, personas, sandbox):
    ro = Callingbox(api_key=accounts.create_api_key(personas.org, "ro", scope="ro")[1], base_url=live_server.url)
    assert ro.numbers.list().data == []
    with pytest.raises(APIError) as exc:
        ro.numbers.purchase("+12025550100")
    assert exc.value.status_code == 403 and not PhoneNumber.objects.exists()
    ro.close()


def _cli(monkeypatch, capsys, *args):
    from callingbox.cli.main import main

    monkeypatch.setattr(sys, "argv", ["callingbox", *args])
    try:
        code = main()
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_login_list_search_buy(live_server, secret, personas, sandbox, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("CALLINGBOX_API_KEY", raising=False)
    monkeypatch.setenv("CALLINGBOX_BASE_URL", live_server.url)

    code, _, err = _cli(monkeypatch, capsys, "login", "--api-key", "sk_wrong", "--base-url", live_server.url)
    assert code != 0 and "api key rejected" in err
    assert not (tmp_path / "callingbox" / "config.toml").exists()

    code, _, err = _cli(monkeypatch, capsys, "login", "--api-key", secret, "--base-url", live_server.url)
    assert code == 0, err
    config = (tmp_path / "callingbox" / "config.toml").read_text()
    assert secret in config and live_server.url in config
    # From here on the key and the base URL come from the config file only.
    monkeypatch.delenv("CALLINGBOX_BASE_URL")

    code, out, err = _cli(monkeypatch, capsys, "numbers", "search", "--limit", "2")
    assert code == 0, err
    assert [n["phone_number"] for n in json.loads(out)] == ["+12025550100", "+12025550101"]

    code, out, err = _cli(monkeypatch, capsys, "numbers", "buy", "+12025550101", "--yes")
    assert code == 0, err
    bought = json.loads(out)
    assert bought["e164"] == "+12025550101" and bought["inbound_enabled"] is False
    assert PhoneNumber.objects.get(public_id=bought["id"]).provider_account == sandbox

    code, out, err = _cli(monkeypatch, capsys, "numbers", "list")
    assert code == 0, err
    listed = json.loads(out)
    assert listed["has_more"] is False and [n["e164"] for n in listed["data"]] == ["+12025550101"]
    assert listed["data"][0]["id"] == bought["id"]

    code, out, err = _cli(monkeypatch, capsys, "numbers", "buy", "+12025550101", "--yes")
    assert code != 0 and "already" in err


def test_agent_caller_ids_follow_the_agents(sdk, personas, sandbox):
    agent = Agent.objects.create(organization=personas.org, provider_account=sandbox, name="A",
                                 from_number="+14155550123")
    first = sdk.numbers.list().data
    assert [n.e164 for n in first] == ["+14155550123"]
    Agent.objects.filter(pk=agent.pk).update(from_number="+14155550124")
    assert [n.e164 for n in sdk.numbers.list()] == ["+14155550124"]
    # Given back to an agent, the caller ID returns with the id it had.
    Agent.objects.filter(pk=agent.pk).update(from_number="+14155550123")
    assert [n.id for n in sdk.numbers.list() if n.e164 == "+14155550123"] == [first[0].id]
    Agent.objects.filter(pk=agent.pk).update(is_active=False)
    assert sdk.numbers.list().data == []


def test_numbers_held_at_callingbox_are_imported_and_a_lost_purchase_is_found(
        sdk, personas, callingbox_account, callingbox_emulator):
    from callops.providers import numbers as number_services

    assert number_services.import_provider_numbers(callingbox_account) == 1
    held = PhoneNumber.objects.get(provider_account=callingbox_account)
    assert held.e164 == callingbox_emulator.DEFAULT_NUMBER and held.source == "provider"
    assert held.provider_number_id == callingbox_emulator.owned_numbers[0]["id"]
    assert number_services.import_provider_numbers(callingbox_account) == 0

    # Bought at the provider, but callops never heard the answer: buying again finds it.
    callingbox_emulator.owned_numbers.append(callingbox_emulator._number("+14155550177"))
    with pytest.raises(APIError) as exc:
        sdk.numbers.purchase("+14155550177")
    assert exc.value.status_code == 409 and "now listed" in exc.value.message
    assert "+14155550177" in [n.e164 for n in sdk.numbers.iter_numbers()]
