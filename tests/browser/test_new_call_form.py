"""The new-call form in a real Chromium: the agent's instructions and returns to start from, the
sandbox's test numbers, every returns error at once with the cursor on the first bad field, a
national number read in a default country, and a confirmation once the call is placed."""

import pytest
from playwright.sync_api import expect

from callops.calls.models import Call

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_new_call_form_starts_from_the_agent_and_reports_everything_at_once(page, personas, sandbox_agent):
    from callops.calls.models import Agent
    from callops.providers.models import ProviderAccount

    sandbox_agent.instructions = "Confirm the appointment."
    sandbox_agent.returns = {"confirmed": "boolean"}
    sandbox_agent.save()
    account = ProviderAccount.objects.create(organization=personas.org, kind="bolna", name="Bolna")
    bolna = Agent.objects.create(organization=personas.org, provider_account=account, name="Bolna agent",
                                 provider_agent_id="3c1f0a2e-5b6d-4e7f-8a9b-0c1d2e3f4a5b", instructions="Be kind.")
    login(page, personas.member.user.username)
    page.goto(page.base_url + "/calls/new/")
    page.get_by_label("Agent", exact=True).select_option(str(sandbox_agent.public_id))
    expect(page.get_by_label("Instructions")).to_have_value("Confirm the appointment.")
    expect(page.get_by_label("Field name")).to_have_value("confirmed")
    hint = page.get_by_test_id("sandbox-numbers")
    hint.locator("summary").click()
    expect(hint).to_contain_text("+12025550103 fails at dial: the number does not exist")

    # Another agent brings its own instructions and no sandbox numbers.
    page.get_by_label("Agent", exact=True).select_option(str(bolna.public_id))
    expect(page.get_by_label("Instructions")).to_have_value("Be kind.")
    expect(page.get_by_test_id("sandbox-numbers")).to_have_count(0)
    expect(page.get_by_label("Field name")).to_have_count(0)
    page.get_by_label("Agent", exact=True).select_option(str(sandbox_agent.public_id))
    expect(page.get_by_label("Field name")).to_have_value("confirmed")

    # Two bad fields: both are reported, and the cursor lands in the first.
    page.get_by_label("Phone number").fill("+12025550100")
    for name, kind in (("9lives", "string"), ("answer", "enum")):
        page.get_by_role("button", name="Add field").click()
        page.get_by_label("Field name").last.fill(name)
        page.get_by_label("Field type").last.select_option(kind)
    page.get_by_role("button", name="Place call").click()
    errors = page.get_by_test_id("returns-error")
    expect(errors).to_have_count(2)
    expect(errors.first).to_contain_text("9lives: field name '9lives' must start with a letter")
    expect(errors.last).to_have_text("answer: list the allowed values of 'answer', separated by commas")
    expect(page.get_by_label("Field name").nth(1)).to_be_focused()
    assert Call.objects.count() == 0

    # Fixed, with a national number in the default country: placed, and said so.
    page.get_by_role("button", name="Remove this field").nth(1).click()
    page.get_by_label("Allowed values (enum only)").last.fill("yes, no")
    page.get_by_label("Phone number").fill("(202) 555-0100")
    page.get_by_label("Default country").fill("US")
    page.get_by_role("button", name="Place call").click()
    call = Call.objects.get()
    page.wait_for_url(f"**/calls/{call.public_id}/")
    expect(page.locator(".message-success")).to_have_text(
        "Call to +12025550100 placed with Sandbox agent. Its status updates below.")
    assert call.to_number == "+12025550100"
    assert call.returns == {"confirmed": "boolean", "answer": ["yes", "no"]}
    assert call.instructions == "Confirm the appointment."


def test_a_bad_number_puts_the_cursor_in_the_number_field(page, personas, sandbox_agent):
    login(page, personas.member.user.username)
    page.goto(page.base_url + "/calls/new/")
    page.get_by_label("Phone number").fill("2025550100")
    page.get_by_label("Instructions").focus()
    page.get_by_role("button", name="Place call").click()
    expect(page.locator("#err-to")).to_contain_text("must start with +")
    expect(page.get_by_label("Phone number")).to_be_focused()
