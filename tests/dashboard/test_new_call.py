"""The trigger-call form: shared validation with reasons inline, and the same service as the API."""

import re

import pytest
from django.urls import reverse

from callops.calls.models import Call, CallStatus

pytestmark = pytest.mark.django_db


def form_token(client) -> str:
    """The one-time token of a freshly rendered form, as a browser would send it back."""
    page = client.get(reverse("dashboard:call_new")).content.decode()
    return re.search(r'name="form_token" value="([^"]+)"', page).group(1)


def post(client, agent, token=None, follow=False, **fields):
    data = {"agent_id": str(agent.public_id), "to": "+12025550100", "instructions": "", "webhook_url": "",
            "scheduled_at": "", "form_token": token or form_token(client), **fields}
    return client.post(reverse("dashboard:call_new"), data, follow=follow)


def test_form_renders_labelled_fields_for_members(personas, sandbox_agent):
    page = personas.member.client().get(reverse("dashboard:call_new")).content.decode()
    for field_id in ("id_agent", "id_to", "id_instructions", "id_webhook_url", "id_scheduled_at"):
        assert f'<label for="{field_id}"' in page
    assert sandbox_agent.name in page


def test_bad_number_shows_the_reason_inline_and_writes_nothing(personas, sandbox_agent):
    r = post(personas.member.client(), sandbox_agent, to="4155550123", context_key=["name"],
             context_value=["Ada"])
    assert r.status_code == 400
    page = r.content.decode()
    assert 'id="err-to"' in page and "must start with +" in page
    assert 'value="Ada"' in page  # the form keeps what was typed
    assert Call.objects.count() == 0


def test_duplicate_context_key_and_unnamed_returns_are_refused(personas, sandbox_agent):
    r = post(personas.member.client(), sandbox_agent, context_key=["a", "a"], context_value=["1", "2"])
    assert r.status_code == 400 and "appears twice" in r.content.decode()
    r = post(personas.member.client(), sandbox_agent, returns_name=["answer"], returns_type=["enum"],
             returns_values=[""])
    assert r.status_code == 400 and "allowed values" in r.content.decode()
    assert Call.objects.count() == 0


def test_another_orgs_agent_is_refused(personas, sandbox_agent, outsider_agent):
    r = post(personas.member.client(), outsider_agent)
    assert r.status_code == 400 and "no agent" in r.content.decode()
    assert Call.objects.count() == 0


def test_valid_form_places_the_call_and_redirects_to_it(personas, sandbox_agent):
    r = post(personas.member.client(), sandbox_agent, context_key=["name", ""], context_value=["Ada", ""],
             returns_name=["confirmed", "mood"], returns_type=["boolean", "enum"],
             returns_values=["", "happy, sad"], instructions="Be brief.")
    call = Call.objects.get()
    assert r.status_code == 302 and r["Location"] == reverse("dashboard:call_detail", args=[call.public_id])
    assert call.context == {"name": "Ada"}
    assert call.returns["confirmed"] == "boolean" and list(call.returns["mood"]) == ["happy", "sad"]
    assert call.instructions == "Be brief."
    assert call.status != CallStatus.QUEUED or call.dial_claimed_at is not None  # handed to the provider
    assert call.events.filter(source="user").exists()


def test_schedule_is_read_in_the_readers_timezone(personas, sandbox_agent):
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from django.utils import timezone

    client = personas.member.client()
    client.cookies["tz"] = "Asia/Kolkata"
    local = (timezone.now() + timedelta(days=2)).astimezone(ZoneInfo("Asia/Kolkata")).replace(second=0, microsecond=0)
    r = post(client, sandbox_agent, scheduled_at=local.strftime("%Y-%m-%dT%H:%M"))
    assert r.status_code == 302
    call = Call.objects.get()
    assert call.scheduled_at == local
    assert call.status == CallStatus.QUEUED and call.dial_claimed_at is None


def test_past_schedule_is_refused_inline(personas, sandbox_agent):
    r = post(personas.member.client(), sandbox_agent, scheduled_at="2001-01-01T10:00")
    assert r.status_code == 400 and 'id="err-scheduled"' in r.content.decode()
    assert Call.objects.count() == 0


def test_double_submit_places_one_call(personas, sandbox_agent):
    client = personas.member.client()
    token = form_token(client)
    first = post(client, sandbox_agent, token)
    call = Call.objects.get()
    assert first.status_code == 302 and first["Location"] == reverse("dashboard:call_detail", args=[call.public_id])
    # The same form sent again (double click, resubmitted POST, back button): no second call,
    # and the second response lands on the call the first one placed.
    again = post(client, sandbox_agent, token)
    assert again.status_code == 302 and again["Location"] == first["Location"]
    assert Call.objects.count() == 1
    page = client.get(again["Location"]).content.decode()
    assert "already submitted" in page
    # Edited after going back: still the one call, and the reader is told to open a fresh form.
    edited = post(client, sandbox_agent, token, to="+12025550101")
    assert edited["Location"] == first["Location"] and Call.objects.count() == 1
    # A fresh form is a fresh token: a new call.
    assert post(client, sandbox_agent).status_code == 302 and Call.objects.count() == 2


def test_submit_while_the_first_is_still_placing_waits_then_refuses(personas, sandbox_agent, monkeypatch):
    from callops.calls.models import IdempotencyRecord
    from callops.dashboard import form_tokens

    monkeypatch.setattr(form_tokens, "WAIT_SECONDS", 0.2)
    client = personas.member.client()
    token = form_token(client)
    # The first request claimed the token and is still talking to the provider.
    IdempotencyRecord.objects.create(organization=personas.org, key=form_tokens.KEY_PREFIX + token,
                                     request_hash="x", path=form_tokens.PATH)
    r = post(client, sandbox_agent, token)
    assert r.status_code == 302 and Call.objects.count() == 0
    assert "still being placed" in client.get(r["Location"]).content.decode()


def test_a_resubmission_after_a_failed_placement_places_nothing(personas, sandbox_agent, monkeypatch):
    from callops.calls import services

    client = personas.member.client()
    token = form_token(client)
    real = services.submit_call

    def created_then_failed(*args, **kwargs):
        real(*args, **kwargs)  # the call exists (and was handed over) before the error
        raise RuntimeError("db down")

    monkeypatch.setattr(services, "submit_call", created_then_failed)
    with pytest.raises(RuntimeError):
        post(client, sandbox_agent, token)
    monkeypatch.setattr(services, "submit_call", real)
    again = post(client, sandbox_agent, token, follow=True)
    assert "may have been placed" in again.content.decode()
    assert Call.objects.count() == 1  # the resubmission dialed no one a second time


def test_a_submission_that_died_mid_way_is_reported_not_repeated(personas, sandbox_agent):
    from datetime import timedelta

    from django.utils import timezone

    from callops.calls.models import IdempotencyRecord

    client = personas.member.client()
    token = form_token(client)
    IdempotencyRecord.objects.create(organization=personas.org, key="dashboard-form:" + token, request_hash="x",
                                     path="dashboard:call_new", created_at=timezone.now() - timedelta(minutes=5))
    r = post(client, sandbox_agent, token, follow=True)
    assert "may have been placed" in r.content.decode() and Call.objects.count() == 0


def test_form_without_a_token_is_refused(personas, sandbox_agent):
    r = personas.member.client().post(reverse("dashboard:call_new"), {
        "agent_id": str(sandbox_agent.public_id), "to": "+12025550100"})
    assert r.status_code == 400 and "reload the page" in r.content.decode()
    assert Call.objects.count() == 0


def test_form_preselects_the_default_agent_and_takes_language_and_voicemail(personas, sandbox_agent):
    from callops.calls import agents
    from callops.calls.models import Agent

    other = Agent.objects.create(organization=personas.org, provider_account=sandbox_agent.provider_account,
                                 name="A first by name")
    agents.make_default(sandbox_agent)
    client = personas.member.client()
    page = client.get(reverse("dashboard:call_new")).content.decode()
    assert f'<option value="{sandbox_agent.public_id}" selected>' in page
    assert f'<option value="{other.public_id}">' in page
    assert '<label for="id_language"' in page and '<label for="id_voicemail_action"' in page

    r = post(client, sandbox_agent, language="en_GB")
    assert r.status_code == 400 and 'id="err-language"' in r.content.decode()
    assert Call.objects.count() == 0

    r = post(client, sandbox_agent, language="en-GB", voicemail_action="leave_message", follow=True)
    call = Call.objects.get()
    assert (call.language, call.voicemail_action) == ("en-GB", "leave_message")
    page = r.content.decode()
    assert '<dd class="mono" data-testid="call-language">en-GB</dd>' in page
    assert '<dd data-testid="call-voicemail-action">Leave a message</dd>' in page


def test_call_detail_shows_tools_and_billing(personas, make_call):
    call = make_call()
    Call.objects.filter(pk=call.pk).update(
        tools=[{"type": "builtin", "name": "end_call", "description": "Hang <up>", "policy": "read",
                "builtin": "end_call", "parameters": {"type": "object", "properties": {}}}],
        billed_duration_seconds=60, billing_amount_milli_cents=9000, reservation_status="settled")
    page = personas.viewer.client().get(reverse("dashboard:call_detail", args=[call.public_id])).content.decode()
    assert 'title="Hang &lt;up&gt;">end_call (builtin)</span>' in page
    assert '<dd data-testid="billing-amount"><span class="mono">9000</span>' in page
    assert "<dt>Credit reservation</dt><dd>settled</dd>" in page


def _agent_with_returns(agent):
    agent.instructions = "Confirm the appointment for {name}."
    agent.returns = {"confirmed": "boolean",
                     "method": {"type": "enum", "values": ["card", "bank_transfer"], "description": "how they pay",
                                "synonyms": {"bank_transfer": ["ach"]}}}
    agent.save()
    return agent


def test_form_shows_the_agents_instructions_returns_and_sandbox_numbers(personas, sandbox_agent):
    from callops.calls.models import Agent
    from callops.providers.models import ProviderAccount

    _agent_with_returns(sandbox_agent)
    client = personas.member.client()
    page = client.get(reverse("dashboard:call_new")).content.decode()
    assert ">Confirm the appointment for {name}.</textarea>" in page
    assert page.count('data-testid="returns-row"') == 2
    assert 'name="returns_name" value="method"' in page and 'name="returns_values" value="card, bank_transfer"' in page
    assert 'name="returns_description" value="how they pay"' in page
    assert 'data-testid="sandbox-numbers"' in page and "<code>+12025550103</code>" in page
    # Choosing another agent (htmx) swaps in its fields; a provider other than the sandbox gets no test numbers.
    account = ProviderAccount.objects.create(organization=personas.org, kind="bolna", name="Bolna")
    other = Agent.objects.create(organization=personas.org, provider_account=account, name="Bolna agent",
                                 provider_agent_id="3c1f0a2e-5b6d-4e7f-8a9b-0c1d2e3f4a5b", instructions="Be kind.")
    part = client.get(reverse("dashboard:call_new"), {"agent_id": str(other.public_id)},
                      HTTP_HX_REQUEST="true").content.decode()
    assert part.lstrip().startswith('<div id="agent-fields">')
    assert ">Be kind.</textarea>" in part and "sandbox-numbers" not in part and "returns-row" not in part


def test_the_agents_returns_left_as_they_are_keep_its_whole_schema(personas, sandbox_agent):
    agent = _agent_with_returns(sandbox_agent)
    r = post(personas.member.client(), agent, returns_name=["confirmed", "method"], returns_type=["boolean", "enum"],
             returns_values=["", "card,bank_transfer"], returns_description=["", "how they pay"])
    assert r.status_code == 302
    assert Call.objects.get().returns == agent.returns  # synonyms included


def test_edited_returns_are_the_calls_own_with_descriptions(personas, sandbox_agent):
    agent = _agent_with_returns(sandbox_agent)
    r = post(personas.member.client(), agent, returns_name=["confirmed", "when"], returns_type=["boolean", "datetime"],
             returns_values=["", ""], returns_description=["", "the new time they ask for"])
    assert r.status_code == 302
    assert Call.objects.get().returns == {"confirmed": "boolean",
                                          "when": {"type": "datetime", "description": "the new time they ask for"}}


def test_every_returns_error_is_reported_at_once_on_its_row(personas, sandbox_agent):
    r = post(personas.member.client(), sandbox_agent,
             returns_name=["9lives", "ok", "answer", "ok"], returns_type=["string", "boolean", "enum", "string"],
             returns_values=["", "", "", ""], returns_description=["", "", "", ""])
    assert r.status_code == 400
    page = r.content.decode()
    errors = re.findall(r'data-testid="returns-error">([^<]+)<', page)
    assert len(errors) == 3
    assert errors[0].startswith("9lives: field name") and "must start with a letter" in errors[0]
    assert errors[1:] == ["answer: list the allowed values of &#x27;answer&#x27;, separated by commas",
                          "ok: the field &#x27;ok&#x27; appears twice"]
    assert page.count('aria-invalid="true" aria-describedby="err-returns-') == 3
    assert Call.objects.count() == 0


def test_a_national_number_is_read_in_the_default_country(personas, sandbox_agent):
    client = personas.member.client()
    r = post(client, sandbox_agent, to="(202) 555-0100", default_country="us")
    assert r.status_code == 302 and Call.objects.get().to_number == "+12025550100"
    r = post(client, sandbox_agent, to="020 7183 8750", default_country="XX")
    assert r.status_code == 400 and "&#x27;XX&#x27; is not a two-letter country code" in r.content.decode()
    r = post(client, sandbox_agent, to="555", default_country="GB")
    assert r.status_code == 400 and 'id="err-to"' in r.content.decode()
    assert Call.objects.count() == 1


def test_placing_confirms_on_the_calls_page(personas, sandbox_agent):
    r = post(personas.member.client(), sandbox_agent, follow=True)
    call = Call.objects.get()
    assert r.redirect_chain[-1][0] == reverse("dashboard:call_detail", args=[call.public_id])
    assert "Call to +12025550100 placed with Sandbox agent. Its status updates below." in r.content.decode()
