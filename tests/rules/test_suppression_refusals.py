"""Every call path refuses a suppressed number before any provider is asked."""

import pytest
from django.urls import reverse
from django.utils import timezone

from callops.accounts.models import AuditEntry
from callops.batches import services as batch_services
from callops.batches.recipient_lists import read_pasted
from callops.calls import redial, services
from callops.calls.jobs import enqueue_placements
from callops.calls.models import Call, CallStatus
from callops.rules import suppressions

SUPPRESSED = "+12025550100"


@pytest.fixture
def suppressed(personas):
    row, _ = suppressions.add(personas.org, "(202) 555-0100", reason="asked by letter", default_region="US")
    return row


def test_api_refuses_a_suppressed_number_with_409(api, sandbox_agent, suppressed, dials):
    response = api.post("/v1/calls", {"agent_id": str(sandbox_agent.public_id), "to": "+1 202-555-0100"})
    assert response.status_code == 409
    assert response.json() == {"error": "+12025550100 is on the suppression list (asked by letter)"}
    assert dials == [] and not Call.objects.exists()
    entry = AuditEntry.objects.get(action="call.refused")
    assert entry.target == SUPPRESSED and entry.detail["code"] == "suppressed"


def test_api_still_places_other_numbers(api, sandbox_agent, suppressed, dials, clock):
    response = api.post("/v1/calls", {"agent_id": str(sandbox_agent.public_id), "to": "+12025550111"})
    assert response.status_code == 201, response.content
    assert dials == ["+12025550111"]


def test_another_orgs_suppression_does_not_apply(api_outsider, personas, suppressed, dials, clock):
    from callops.calls.models import Agent
    from callops.providers.models import ProviderAccount

    account = ProviderAccount.objects.create(organization=personas.other_org, kind="sandbox", name="Sandbox")
    agent = Agent.objects.create(organization=personas.other_org, provider_account=account, name="Globex agent")
    response = api_outsider.post("/v1/calls", {"agent_id": str(agent.public_id), "to": SUPPRESSED})
    assert response.status_code == 201, response.content
    assert dials == [SUPPRESSED]


def test_dashboard_new_call_form_shows_the_refusal(personas, sandbox_agent, suppressed, dials):
    client = personas.member.client()
    page = client.get(reverse("dashboard:call_new"))
    token = page.context["form_token"]
    response = client.post(reverse("dashboard:call_new"), {
        "agent_id": str(sandbox_agent.public_id), "to": "+12025550100", "form_token": token})
    assert response.status_code == 400
    assert response.context["errors"]["to"] == "+12025550100 is on the suppression list (asked by letter)"
    assert "+12025550100 is on the suppression list (asked by letter)" in response.content.decode()
    assert dials == [] and not Call.objects.exists()


def test_batch_preview_rejects_suppressed_rows_with_the_reason(personas, suppressed):
    table = read_pasted("phone,name\n+1 (202) 555-0100,Ann\n+12025550111,Bob\n")
    result = batch_services.preview(table.rows, org=personas.org)
    assert result["valid"] == 1 and result["rejected"] == 1
    assert result["rejected_rows"] == [{"row": 1, "phone": "+1 (202) 555-0100",
                                        "reason": "+12025550100 is on the suppression list (asked by letter)"}]


def _assert_canceled_as_suppressed(call):
    call.refresh_from_db()
    assert call.status == CallStatus.CANCELED
    assert call.error_code == "suppressed"
    assert call.error_message == "+12025550100 is on the suppression list (asked by letter)"
    assert call.events.filter(note="not dialed: +12025550100 is on the suppression list (asked by letter)").exists()
    assert AuditEntry.objects.filter(action="call.refused", target=str(call.public_id)).exists()


def test_a_scheduled_call_whose_number_became_suppressed_is_canceled(
        personas, sandbox_agent, dials, run_jobs, django_capture_on_commit_callbacks):
    call = services.create_call(org=personas.org, agent=sandbox_agent, to_number=SUPPRESSED,
                                scheduled_at=timezone.now())
    suppressions.add(personas.org, SUPPRESSED, reason="asked by letter")
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_placements([call.pk])
    run_jobs()
    _assert_canceled_as_suppressed(call)
    assert dials == []


def test_a_retry_of_a_now_suppressed_number_is_canceled(personas, make_call, dials, run_jobs):
    original = make_call(CallStatus.NO_ANSWER, to=SUPPRESSED)
    suppressions.add(personas.org, SUPPRESSED, reason="asked by letter")
    retry = redial.retry_call(original)
    run_jobs()
    _assert_canceled_as_suppressed(retry)
    assert dials == []


def test_a_batch_call_whose_number_became_suppressed_is_canceled(personas, sandbox_agent, dials):
    call = services.create_call(org=personas.org, agent=sandbox_agent, to_number=SUPPRESSED)
    suppressions.add(personas.org, SUPPRESSED, reason="asked by letter")
    services.place_call(call)
    _assert_canceled_as_suppressed(call)
    assert dials == []
