"""The trigger-call form: shared validation with reasons inline, and the same service as the API."""

import pytest
from django.urls import reverse

from callops.calls.models import Call, CallStatus

pytestmark = pytest.mark.django_db


def post(client, agent, **fields):
    data = {"agent_id": str(agent.public_id), "to": "+12025550100", "instructions": "", "webhook_url": "",
            "scheduled_at": "", **fields}
    return client.post(reverse("dashboard:call_new"), data)


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
