"""In a real Chromium: the call detail page's live updates leave an opened payload open, copy
buttons work without the clipboard API, and a batch goes upload → preview → start."""

import pytest
from playwright.sync_api import expect

from callops.batches.models import Batch
from callops.calls.models import CallStatus

from .conftest import login, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_opened_payload_stays_open_while_the_call_updates(page, personas, make_call_db):
    from callops.calls import services

    call = make_call_db(CallStatus.RINGING, to="+12025550100")
    login(page, personas.viewer.user.username)
    page.goto(f"{page.base_url}/calls/{call.public_id}/")
    first = page.locator("#payload-list details.payload").first
    first.locator("summary").click()
    expect(first).to_have_attribute("open", "")
    expect(first.locator("pre.code")).to_contain_text('"call_id": "prov-123"')  # fetched on opening
    for _ in range(2):  # two polls of the live parts swap in while the payload is open
        with page.expect_response(lambda r: f"/calls/{call.public_id}/live/" in r.url, timeout=60_000):
            pass
    expect(first).to_have_attribute("open", "")
    before = page.locator("#payload-list details.payload").count()
    services.apply_status(call, CallStatus.IN_PROGRESS, source="callback", raw_status="answered",
                          payload={"status": "answered", "call_id": "prov-123"})
    expect(page.get_by_test_id("call-status")).to_contain_text("In progress", timeout=60_000)
    expect(page.locator("#payload-list details.payload")).to_have_count(before + 1, timeout=60_000)
    expect(first).to_have_attribute("open", "")  # still open after the swaps
    shot(page, "detail-payload-open-while-live")


def test_copy_button_without_the_clipboard_api_selects_the_text(page, personas, make_call_db):
    call = make_call_db(CallStatus.COMPLETED, to="+12025550100")
    # As on plain http from another host, or an old browser: no navigator.clipboard.
    page.context.add_init_script("Object.defineProperty(Navigator.prototype, 'clipboard', {get: () => undefined});")
    login(page, personas.viewer.user.username)
    page.goto(f"{page.base_url}/calls/{call.public_id}/")
    assert page.evaluate("() => navigator.clipboard === undefined")
    page.get_by_role("button", name="Copy call id").click()
    field = page.locator(".copy-fallback input")
    expect(field).to_have_value(str(call.public_id))
    expect(field).to_be_focused()
    selected = page.evaluate("() => { const i = document.querySelector('.copy-fallback input');"
                             " return i.value.substring(i.selectionStart, i.selectionEnd); }")
    assert selected == str(call.public_id)
    expect(page.locator(".copy-fallback")).to_contain_text("Ctrl+C")
    shot(page, "copy-fallback")


def test_batch_upload_preview_and_start(page, personas, sandbox_agent, tmp_path):
    from callops.calls.models import Agent
    from callops.providers.models import ProviderAccount

    account = ProviderAccount.objects.create(organization=personas.org, kind="bolna", name="Bolna")
    Agent.objects.create(organization=personas.org, provider_account=account, name="Bolna agent",
                         provider_agent_id="3c1f0a2e-5b6d-4e7f-8a9b-0c1d2e3f4a5b")
    csv_file = tmp_path / "customers.csv"
    csv_file.write_text("name,contact,plan\nAda,+14155550123,gold\nBob,12,silver\nCy,+14155550124,gold\n")
    login(page, personas.member.user.username)
    page.goto(page.base_url + "/batches/new/")
    page.get_by_label("CSV file").set_input_files(str(csv_file))
    page.get_by_role("button", name="Upload and preview").click()
    # No column is named like a phone number: choose it from the file's columns.
    expect(page.locator("#err-phone_column")).to_contain_text("no phone column found")
    page.get_by_label("Phone number column").select_option("contact")
    page.get_by_role("button", name="Check the rows again").click()
    expect(page.get_by_test_id("preview-counts")).to_contain_text("3 rows · 2 valid · 1 rejected")
    expect(page.get_by_test_id("rejected-rows")).to_contain_text("'12'")
    expect(page.get_by_test_id("valid-rows")).to_contain_text("+14155550124")
    with page.expect_download() as info:
        page.get_by_test_id("rejected-download").click()
    assert "Bob" in open(info.value.path()).read()
    assert not Batch.objects.exists()
    # The provider's batch API is offered only for the agent whose provider has one.
    provider_option = page.locator('#id_mode option[value="provider"]')
    page.get_by_label("Agent").select_option(label="Sandbox agent · Sandbox (built-in test mode)")
    expect(provider_option).to_be_disabled()
    page.get_by_label("Agent").select_option(label="Bolna agent · Bolna")
    expect(provider_option).to_be_enabled()
    page.get_by_label("Agent").select_option(label="Sandbox agent · Sandbox (built-in test mode)")
    page.get_by_label("Attempts per number").fill("20")
    page.get_by_role("button", name="Start batch").click()
    expect(page.locator("#err-max_attempts")).to_contain_text("between 1 and 10")
    page.get_by_label("Attempts per number").fill("2")
    page.get_by_label("Date and time").fill("2099-03-01T09:30")
    page.get_by_label("In time zone").select_option("Europe/Paris")
    shot(page, "batch-preview")
    page.get_by_role("button", name="Start batch").click()
    expect(page.get_by_test_id("batch-status")).to_contain_text("Scheduled")
    batch = Batch.objects.get()
    assert batch.recipient_count == 2 and batch.phone_column == "contact"
    assert batch.start_at.isoformat() == "2099-03-01T08:30:00+00:00"
    shot(page, "batch-scheduled")
