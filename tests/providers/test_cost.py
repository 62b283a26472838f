"""A call's normalised cost: the provider's own report where it gives one, else the account's
price table (marked estimated), and a provider figure arriving after the end replaces the estimate."""

import json

import pytest
from django.test import Client

from callops.calls import services
from callops.calls.models import Call, CallStatus
from callops.providers import prices
from callops.providers.emulators.core import Outcome
from callops.providers.models import PriceRounding, ProviderAccount

from .conftest import place
from .test_per_call_options import _until_terminal

pytestmark = pytest.mark.django_db
NUMBER = "+14155550123"


def _price(account, per_call=None, per_minute=None, rounding=PriceRounding.MINUTE, currency="USD"):
    account.price_per_call_milli_cents, account.price_per_minute_milli_cents = per_call, per_minute
    account.price_rounding, account.price_currency = rounding, currency
    account.save()


def test_the_price_table_rounds_by_its_rule():
    account = ProviderAccount(kind="sandbox", price_per_call_milli_cents=500, price_per_minute_milli_cents=2000)
    account.price_rounding = PriceRounding.MINUTE
    assert [prices.estimate(account, s) for s in (0, 1, 60, 61, 125)] == [500, 2500, 2500, 4500, 6500]
    account.price_rounding = PriceRounding.SECOND
    # 500 a call, plus 2000 a minute prorated (33.33 a second, half up): 1 s -> 33, 45 s -> 1500, 125 s -> 4167.
    assert [prices.estimate(account, s) for s in (0, 1, 45, 61, 125)] == [500, 533, 2000, 2533, 4667]
    assert prices.estimate(ProviderAccount(kind="sandbox"), 60) is None  # no table, no estimate


def test_callingbox_reports_its_own_cost(emulators, make_agent, clock):
    agent = make_agent("callingbox", emulators("callingbox"))
    _price(agent.provider_account, per_call=99999)  # a table never overrides the provider's figure
    call = _until_terminal(place(agent, NUMBER).pk, clock)
    assert call.status == CallStatus.COMPLETED and call.duration_seconds
    assert (call.billing_amount_milli_cents, call.billing_currency, call.billing_estimated) == (
        call.duration_seconds * 150, "USD", False)


def test_dograh_cost_info_becomes_milli_cents(emulators, make_agent, clock):
    agent = make_agent("dograh", emulators("dograh", cost_per_second_usd=0.002))
    call = _until_terminal(place(agent, NUMBER).pk, clock)
    assert call.status == CallStatus.COMPLETED and call.duration_seconds == 30
    # 30 s x $0.002 = $0.06 = 6 cents = 6000 milli-cents
    assert (call.billing_amount_milli_cents, call.billing_currency, call.billing_estimated) == (6000, "USD", False)


def test_without_a_report_the_price_table_estimates(emulators, make_agent, clock):
    agent = make_agent("dograh", emulators("dograh"))  # self-hosted Dograh: no cost in cost_info
    _price(agent.provider_account, per_call=500, per_minute=2000, currency="EUR")
    call = _until_terminal(place(agent, NUMBER).pk, clock)
    assert call.duration_seconds == 30
    assert (call.billing_amount_milli_cents, call.billing_currency, call.billing_estimated) == (2500, "EUR", True)


def test_no_report_and_no_table_leaves_the_cost_unknown(sandbox_agent, api):
    call = services.place_call(services.create_call(org=sandbox_agent.organization, agent=sandbox_agent,
                                                    to_number="+12025550102"))
    services.apply_status(call, CallStatus.BUSY, source="poll")
    body = api.get(f"/v1/calls/{call.public_id}").json()
    assert (body["billing_amount_milli_cents"], body["billing_currency"], body["billing_estimated"]) == (
        None, None, None)


def test_a_late_provider_cost_replaces_the_estimate(emulators, make_agent, api):
    emu = emulators("bolna")
    emu.script(NUMBER, Outcome([(0, "queued"), (1, "in-progress"), (2, "completed")], "completed",
                               {"conversation_duration": 30}))
    agent = make_agent("bolna", emu)
    _price(agent.provider_account, per_call=0, per_minute=1000)
    call = place(agent, NUMBER)
    url = f"/callbacks/bolna/{agent.provider_account.callback_token}/"
    execution = emu.render(emu.calls[call.provider_call_id], 2)
    # Bolna's first `completed` can come before its cost is worked out: no total_cost yet.
    first = {**execution, "total_cost": None}
    assert Client().post(url, json.dumps(first), content_type="application/json").status_code == 200
    call.refresh_from_db()
    assert call.status == CallStatus.COMPLETED and call.duration_seconds == 30
    assert (call.billing_amount_milli_cents, call.billing_estimated) == (1000, True)
    body = api.get(f"/v1/calls/{call.public_id}").json()
    assert (body["billing_amount_milli_cents"], body["billing_currency"], body["billing_estimated"]) == (
        1000, "USD", True)
    # Then the final figure: the report is a duplicate for the lifecycle, but its cost counts.
    assert Client().post(url, json.dumps(execution), content_type="application/json").status_code == 200
    call.refresh_from_db()
    assert (call.billing_amount_milli_cents, call.billing_currency, call.billing_estimated) == (12500, "USD", False)
    assert call.events.filter(status="completed", ignored=True).count() == 1
    # A later copy of the first delivery does not bring the estimate back.
    assert Client().post(url, json.dumps(first), content_type="application/json").status_code == 200
    assert Call.objects.get(pk=call.pk).billing_amount_milli_cents == 12500


def test_the_account_form_sets_the_price_table(personas, sandbox_agent):
    from django.urls import reverse

    account = sandbox_agent.provider_account
    client = personas.admin.client()
    url = reverse("dashboard:provider_edit", args=[account.public_id])
    form = {"name": account.name, "is_active": "on", "price_currency": "eur", "price_per_call_milli_cents": "500",
            "price_per_minute_milli_cents": "2000", "price_rounding": "second"}
    assert client.post(url, form).status_code == 302
    account.refresh_from_db()
    assert (account.price_currency, account.price_per_call_milli_cents, account.price_per_minute_milli_cents,
            account.price_rounding) == ("EUR", 500, 2000, "second")
    r = client.post(url, {**form, "price_per_minute_milli_cents": "-1"})
    assert r.status_code == 400 and "a whole number of milli-cents" in r.content.decode()
    account.refresh_from_db()
    assert account.price_per_minute_milli_cents == 2000


# The run read of a finished run, key for key as Dograh's `get_workflow_run` answers it
# (api/routes/workflow.py): `cost_info` is `format_public_cost_info(run.cost_info, run.usage_info)`
# and `usage_info` is `format_public_usage_info(run.usage_info)` (run_usage_response.py).
DOGRAH_RUN = {
    "id": 1001, "workflow_id": 42, "name": "WR-TEL-1001", "mode": "twilio", "is_completed": True,
    "transcript_url": None, "recording_url": None, "user_recording_url": None, "bot_recording_url": None,
    "transcript_public_url": None, "recording_public_url": None, "user_recording_public_url": None,
    "bot_recording_public_url": None, "public_access_token": None,
    "cost_info": {"dograh_token_usage": 6.25, "call_duration_seconds": 30},
    "usage_info": {"llm": {}, "tts": {}, "stt": {}, "call_duration_seconds": 30.4},
    "created_at": "2026-12-07T15:00:00Z", "definition_id": 1,
    "initial_context": {"callops_call_id": "x"},
    "gathered_context": {"call_disposition": "user_hangup", "mapped_call_disposition": "user_hangup"},
    "call_type": "outbound", "logs": {"telephony_status_callbacks": []}, "annotations": {},
}


def test_dograh_token_usage_is_cents_from_the_providers_report():
    from callops.providers.dograh import report_from_run

    report = report_from_run(DOGRAH_RUN)
    # 6.25 Dograh tokens ("1 cent = 1 token") = 6.25 cents = 6250 milli-cents.
    assert (report.status, report.fields["billing_amount_milli_cents"], report.fields["duration_seconds"]) == (
        "completed", 6250, 30)


@pytest.mark.parametrize("cost_info", [{"dograh_token_usage": 0, "call_duration_seconds": 30}, None])
def test_dograh_without_a_priced_run_gives_no_cost(cost_info):
    """The open-source server never writes a run's cost_info: the read says 0 tokens (or null)."""
    from callops.providers.dograh import report_from_run

    report = report_from_run({**DOGRAH_RUN, "cost_info": cost_info})
    assert "billing_amount_milli_cents" not in report.fields and report.fields["duration_seconds"] == 30


def test_the_dograh_emulator_reads_runs_in_the_public_shape(emulators, make_agent, clock):
    emu = emulators("dograh", cost_per_second_usd=0.002)
    call = _until_terminal(place(make_agent("dograh", emu), NUMBER).pk, clock)
    run = emu.run(emu.calls[call.provider_call_id])
    assert run["cost_info"] == {"dograh_token_usage": 6.0, "call_duration_seconds": 30}
    assert run["usage_info"] == {"llm": {}, "tts": {}, "stt": {}, "call_duration_seconds": 30}
    assert set(run) == set(DOGRAH_RUN)


def test_bolnas_cost_arrives_with_completed_after_call_disconnected(emulators, make_agent, api):
    """Bolna's own order (seeds/001): `call-disconnected` with null duration and cost, then
    `completed` with them. The first is no end for callops and no estimate is made; the second
    brings the provider's figure."""
    emu = emulators("bolna")
    emu.script(NUMBER, emu.outcomes["completed"])
    agent = make_agent("bolna", emu)
    _price(agent.provider_account, per_call=0, per_minute=1000)
    call = place(agent, NUMBER)
    url = f"/callbacks/bolna/{agent.provider_account.callback_token}/"
    emu_call = emu.calls[call.provider_call_id]
    steps = [raw for _, raw in emu_call.outcome.steps]
    disconnected = emu.render(emu_call, steps.index("call-disconnected"))
    assert (disconnected["total_cost"], disconnected["conversation_duration"]) == (None, None)
    for step in (steps.index("in-progress"), steps.index("call-disconnected")):
        body = json.dumps(emu.render(emu_call, step))
        assert Client().post(url, body, content_type="application/json").status_code == 200
    call.refresh_from_db()
    assert call.status == CallStatus.IN_PROGRESS and call.provider_status == "call-disconnected"
    assert (call.billing_amount_milli_cents, call.billing_estimated) == (None, False)
    completed = json.dumps(emu.render(emu_call, steps.index("completed")))
    assert Client().post(url, completed, content_type="application/json").status_code == 200
    body = api.get(f"/v1/calls/{call.public_id}").json()
    assert (body["status"], body["duration_seconds"], body["billing_amount_milli_cents"], body["billing_currency"],
            body["billing_estimated"]) == ("completed", 30, 12500, "USD", False)
