"""Key part-2 flows in a real Chromium: API key lifecycle, failing webhook to recovery, retry from triage."""

import httpx
import pytest
from playwright.sync_api import expect

from callops.calls import services
from callops.calls.models import Call, CallStatus, EventSource
from callops.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.helpers import wait_for
from tests.lib.sink import Reply, Sink

from .conftest import login, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_create_use_and_revoke_an_api_key(page, personas, live_server):
    login(page, personas.admin.user.username)
    page.get_by_role("link", name="API keys").click()
    expect(page.get_by_role("heading", name="API keys", exact=True)).to_be_visible()
    page.get_by_label("Name").fill("billing backend")
    page.get_by_role("button", name="Create key").click()
    secret = page.get_by_test_id("secret-value").inner_text().strip()
    assert secret.startswith("ck_")
    expect(page.get_by_role("button", name="Copy")).to_be_visible()
    shot(page, "api-key-created")

    url = live_server.url + "/v1/calls"
    assert httpx.get(url, headers={"Authorization": f"Bearer {secret}"}).status_code == 200

    # Reloading the list never shows the secret again.
    page.get_by_role("link", name="API keys").click()
    assert secret not in page.content()
    row = page.locator("tr", has_text="billing backend")
    expect(row).to_contain_text("Active")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke").click()
    expect(page.locator(".message-success")).to_contain_text("revoked")
    expect(page.locator("tr", has_text="billing backend")).to_contain_text("Revoked")
    shot(page, "api-key-revoked")
    r = httpx.get(url, headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 401 and "error" in r.json()

    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_test_id("audit")).to_contain_text("api_key.revoked")
    expect(page.get_by_test_id("audit")).to_contain_text("127.0.0.1")
    shot(page, "audit-log")


def test_failing_webhook_shows_in_triage_and_bulk_recovery_delivers_it(page, personas, sandbox_agent, worker):
    sink = Sink()
    sink.respond(default=Reply(410, body=b"gone for now"))
    try:
        login(page, personas.owner.user.username)
        page.get_by_role("link", name="Webhook endpoints").click()
        page.get_by_role("link", name="New endpoint").click()
        page.get_by_label("URL").fill(sink.url)
        page.get_by_label("Description").fill("Order system")
        page.get_by_role("button", name="Create endpoint").click()
        expect(page.get_by_test_id("new-secret")).to_contain_text("whsec_")
        shot(page, "endpoint-created")
        endpoint = WebhookEndpoint.objects.get()

        call = services.create_call(org=personas.org, agent=sandbox_agent, to_number="+14155550142",
                                    source=EventSource.API)
        services.apply_status(call, CallStatus.FAILED, source=EventSource.POLL, raw_status="failed",
                              fields={"error_code": "telephony_error", "error_message": "carrier dropped"})
        wait_for(lambda: not WebhookEndpoint.objects.get().enabled, "the 410 to disable the endpoint")
        wait_for(lambda: not WebhookDelivery.objects.filter(endpoint=endpoint, status="pending").exists(),
                 "no delivery of the disabled endpoint left pending")

        page.get_by_role("link", name="Triage").click()
        # By cause: whether the call.failed event was tried (410) or held because the endpoint was
        # already disabled depends on the worker's timing, and the held group mentions 410 too.
        group = page.locator("[data-testid=group-webhook][data-cause=webhook_gone]")
        expect(group).to_contain_text("410 Gone")
        expect(group).to_contain_text("stop sending")
        expect(group).to_contain_text(sink.url)
        expect(page.get_by_test_id("bell")).to_contain_text("1")
        shot(page, "triage-webhook-gone")

        page.get_by_role("link", name="Webhooks", exact=True).click()
        expect(page.get_by_test_id("endpoint-health")).to_contain_text("Disabled")
        # The list is newest first, and deliveries queued after the 410 are held without a try,
        # so open the one the worker did try rather than whichever is on top.
        tried = (WebhookDelivery.objects.filter(endpoint=endpoint, attempts__isnull=False)
                 .order_by("created_at").first())
        assert tried is not None
        details = page.locator(f"#d-{tried.public_id} .delivery-details")
        details.locator("summary").click()
        expect(details.get_by_test_id("attempts")).to_contain_text("HTTP 410")
        expect(details.get_by_test_id("attempts")).to_contain_text("gone for now")
        shot(page, "failed-webhooks")

        # The receiver is fixed: re-enable the endpoint, count what will be re-sent, then recover.
        sink.respond(default=Reply(200, body=b"ok"))
        page.get_by_role("button", name="Re-enable").click()
        expect(page.get_by_test_id("endpoint-health")).not_to_contain_text("Disabled")
        owed = WebhookDelivery.objects.filter(endpoint=endpoint).count()
        page.get_by_label("Destination").select_option(str(endpoint.public_id))
        page.get_by_role("button", name="Count deliveries").click()
        expect(page.get_by_test_id("recover-count")).to_have_text(str(owed))
        shot(page, "bulk-recover-count")
        page.get_by_role("button", name=f"Re-send {owed} now").click()
        expect(page.get_by_test_id("recovery-result")).to_contain_text(f"{owed} delivered", timeout=60_000)
        expect(page.get_by_test_id("recovery-progress")).not_to_have_attribute("hx-trigger", "every 1s",
                                                                                timeout=60_000)
        shot(page, "bulk-recover-done")
        assert WebhookDelivery.objects.filter(endpoint=endpoint, status="delivered").count() == owed
        assert sum(1 for r in sink.requests if r.method == "POST") >= owed + 1

        page.get_by_role("link", name="Triage").click()
        expect(page.get_by_test_id("total-webhook")).to_have_text("0")
        page.get_by_test_id("bell").click()
        expect(page.get_by_test_id("notifications")).to_contain_text("disabled")
        shot(page, "notifications")
    finally:
        sink.close()


def test_retry_a_failed_call_from_triage(page, personas, sandbox_agent, worker):
    call = services.create_call(org=personas.org, agent=sandbox_agent, to_number="+14155550177",
                                source=EventSource.API)
    services.apply_status(call, CallStatus.FAILED, source=EventSource.POLL, raw_status="error",
                          fields={"error_code": "provider_unavailable", "error_message": "sandbox answered 503"})
    login(page, personas.member.user.username)
    page.get_by_role("link", name="Triage").click()
    group = page.locator("[data-testid=group-call]", has_text="Provider unavailable")
    expect(group).to_contain_text("+14155550177")
    expect(group).to_contain_text("status page")
    shot(page, "triage-calls")
    page.set_viewport_size({"width": 820, "height": 1000})
    shot(page, "triage-tablet")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.once("dialog", lambda dialog: dialog.accept())
    group.get_by_role("button", name="Retry calls").click()
    expect(page.locator(".message-success")).to_contain_text("Retried 1 call.")
    retry = Call.objects.get(retry_of=call)
    assert retry.attempt == 2 and retry.to_number == call.to_number
    wait_for(lambda: Call.objects.get(pk=retry.pk).status == CallStatus.COMPLETED, "the retried call to complete")
    page.goto(page.base_url + f"/calls/{retry.public_id}/")
    expect(page.get_by_test_id("call-status")).to_contain_text("Completed")
    expect(page.get_by_test_id("timeline")).to_contain_text("retry of call")
    shot(page, "triage-retried-call")


def test_provider_account_agent_and_member_invite(page, personas):
    login(page, personas.owner.user.username)
    page.get_by_role("link", name="Providers & agents").click()
    page.get_by_role("link", name="New provider account").click()
    page.get_by_label("Provider", exact=True).select_option("callingbox")
    page.get_by_label("Name", exact=True).fill("CallingBox EU")
    page.get_by_label("Base URL").fill("http://127.0.0.1:9")
    page.get_by_role("textbox", name="API key").fill("sk_live_browser_secret_1")
    shot(page, "provider-new")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_test_id("accounts")).to_contain_text("CallingBox EU")
    assert "sk_live_browser_secret_1" not in page.content()
    row = page.locator("tr", has_text="CallingBox EU")
    row.get_by_role("button", name="Test connection").click()
    expect(page.get_by_test_id("test-result")).to_contain_text("Connection failed")
    shot(page, "providers")
    page.locator("tr", has_text="CallingBox EU").get_by_role("link", name="Edit").click()
    expect(page.get_by_label("API key")).to_have_attribute("placeholder", "•••••••• stored")
    assert "sk_live_browser_secret_1" not in page.content()

    page.get_by_role("link", name="Members").click()
    page.get_by_label("Username or email").fill("grace@acme.test")
    page.get_by_label("Role", exact=True).select_option("admin")
    page.get_by_role("button", name="Invite").click()
    expect(page.get_by_test_id("invite-link")).to_contain_text("/join/")
    expect(page.get_by_test_id("members")).to_contain_text("grace@acme.test")
    shot(page, "members-invited")


def test_polyai_api_variant_is_chosen_on_the_account_form(page, personas):
    from callops.providers.models import ProviderAccount

    login(page, personas.owner.user.username)
    page.get_by_role("link", name="Providers & agents").click()
    page.get_by_role("link", name="New provider account").click()
    page.get_by_label("Provider", exact=True).select_option("polyai")
    page.get_by_label("Name", exact=True).fill("PolyAI agents")
    page.locator("#c-polyai-api_key").fill("poly-browser-secret")
    # The PolyAI fieldset's choices come alive with it (the script enables selects as well as inputs).
    page.get_by_label("API variant").select_option("agents")
    page.get_by_label("Environment").select_option("live")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_test_id("accounts")).to_contain_text("PolyAI agents")
    account = ProviderAccount.objects.get(name="PolyAI agents")
    assert account.credentials == {"api_key": "poly-browser-secret", "api_variant": "agents", "environment": "live"}
    page.locator("tr", has_text="PolyAI agents").get_by_role("link", name="Edit").click()
    expect(page.get_by_test_id("setting-stored").first).to_have_text("Stored: agents")
    assert "poly-browser-secret" not in page.content()
