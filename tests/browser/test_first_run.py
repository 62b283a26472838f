"""What a new operator hits first, in a real Chromium: joining by invitation, creates that a reload
does not repeat, error pages inside the console, and error copy in the product's words."""

import pytest
from playwright.sync_api import expect

from callops.accounts.models import ApiKey, AuditEntry
from callops.webhooks.models import WebhookEndpoint

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "grace-chooses-this-4321"


def test_invited_member_sets_a_password_and_signs_in(page, personas):
    page.expected_statuses.add(404)  # the used link, at the end
    login(page, personas.owner.user.username)
    page.get_by_role("link", name="Members").click()
    page.get_by_label("Username or email").fill("grace@acme.test")
    page.get_by_label("Role", exact=True).select_option("member")
    page.get_by_role("button", name="Invite").click()
    link = page.get_by_test_id("invite-link").locator("code").inner_text().strip()
    assert link.startswith(page.base_url + "/join/")
    # A reload shows the members page again; it neither invites twice nor shows the link again.
    page.reload()
    expect(page.get_by_test_id("members")).to_contain_text("grace@acme.test")
    expect(page.get_by_test_id("invite-link")).to_have_count(0)
    assert AuditEntry.objects.filter(action="member.invited").count() == 1

    # Grace opens the link in a browser where nobody is signed in.
    page.context.clear_cookies()
    response = page.goto(link)
    assert response.headers["referrer-policy"] == "same-origin"
    expect(page.get_by_role("heading", name="Choose a password")).to_be_visible()
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_label("Repeat it").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set password").click()
    page.wait_for_url(page.base_url + "/login/")
    expect(page.locator(".message-success")).to_have_text("Password set. Sign in with it now.")

    page.get_by_label("Username").fill("grace@acme.test")
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(page.base_url + "/")
    assert AuditEntry.objects.filter(action="member.password_set", target="grace@acme.test").count() == 1

    # The link worked once.
    page.goto(link)
    expect(page.get_by_role("heading", name="This link no longer works")).to_be_visible()


def test_reload_after_creating_an_api_key_creates_nothing(page, personas):
    login(page, personas.admin.user.username)
    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Name").fill("billing backend")
    page.get_by_role("button", name="Create key").click()
    secret = page.get_by_test_id("secret-value").inner_text().strip()
    key = ApiKey.objects.get(name="billing backend")
    assert secret.startswith(f"ck_{key.prefix}_")
    assert page.url == page.base_url + f"/settings/keys/{key.public_id}/"

    page.reload()
    expect(page.locator("h1")).to_have_text("API key “billing backend” Active")
    expect(page.get_by_test_id("new-secret")).to_have_count(0)
    assert secret not in page.content()
    assert ApiKey.objects.filter(organization=personas.org).count() == 1
    assert AuditEntry.objects.filter(action="api_key.created").count() == 1


def test_reload_after_creating_or_rotating_an_endpoint_repeats_nothing(page, personas):
    login(page, personas.admin.user.username)
    page.get_by_role("link", name="Webhook endpoints").click()
    page.get_by_role("link", name="New endpoint").click()
    page.get_by_label("URL").fill("http://127.0.0.1:9/hooks")
    page.get_by_role("button", name="Create endpoint").click()
    secret = page.get_by_test_id("secret-value").inner_text().strip()
    endpoint = WebhookEndpoint.objects.get()
    assert secret == endpoint.secret and secret.startswith("whsec_")
    assert page.url == page.base_url + f"/settings/endpoints/{endpoint.public_id}/"

    page.reload()
    expect(page.locator("h1")).to_have_text("Webhook endpoint Enabled")
    expect(page.get_by_test_id("new-secret")).to_have_count(0)
    assert secret not in page.content()
    assert WebhookEndpoint.objects.count() == 1
    assert AuditEntry.objects.filter(action="webhook_endpoint.created").count() == 1

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Rotate secret").click()
    rotated = page.get_by_test_id("secret-value").inner_text().strip()
    endpoint.refresh_from_db()
    assert rotated == endpoint.secret != secret
    page.reload()
    expect(page.locator("h1")).to_have_text("Webhook endpoint Enabled")
    expect(page.get_by_test_id("new-secret")).to_have_count(0)
    assert rotated not in page.content()
    endpoint.refresh_from_db()
    assert endpoint.secret == rotated
    assert AuditEntry.objects.filter(action="webhook_endpoint.secret_rotated").count() == 1


def test_a_viewer_opening_new_call_gets_the_console_403_with_a_way_back(page, personas):
    page.expected_statuses.add(403)
    login(page, personas.viewer.user.username)
    response = page.goto(page.base_url + "/calls/new/")
    assert response.status == 403
    error = page.get_by_test_id("error-page")
    expect(error.get_by_role("heading")).to_have_text("You can't do this here")
    expect(error.get_by_test_id("error-reason")).to_have_text(
        "This needs the Member role; your role in Acme is Viewer.")
    # Inside the console: its navigation and the user menu are there.
    expect(page.get_by_role("link", name="Triage")).to_be_visible()
    expect(page.locator(".user-menu")).to_be_visible()
    error.get_by_role("link", name="Back to the overview").click()
    page.wait_for_url(page.base_url + "/")


def test_missing_pages_and_crashes_show_the_console_pages_never_a_debug_page(page, personas, settings):
    page.expected_statuses.update({404, 500})
    assert settings.DEBUG is False  # as in production (DEBUG=0)
    settings.ROOT_URLCONF = "tests.browser.failing_urls"
    login(page, personas.member.user.username)

    for path in ("/no/such/page/", "/calls/00000000-0000-0000-0000-000000000000/"):
        response = page.goto(page.base_url + path)
        assert response.status == 404, path
        error = page.get_by_test_id("error-page")
        expect(error.get_by_role("heading")).to_have_text("This page does not exist")
        expect(error.get_by_test_id("error-reason")).to_have_text(
            "Nothing is at this address in Acme. The link may be mistyped, or what it pointed to was deleted "
            "or belongs to another organization.")
        assert "Traceback" not in page.content() and "URLconf" not in page.content()

    response = page.goto(page.base_url + "/crash/")
    assert response.status == 500
    error = page.get_by_test_id("error-page")
    expect(error.get_by_role("heading")).to_have_text("Something went wrong on our side")
    assert "10.0.0.5" not in page.content() and "Traceback" not in page.content()
    error.get_by_role("link", name="Back to the overview").click()
    page.wait_for_url(page.base_url + "/")

    # Signed out, the same pages come in the sign-in layout.
    page.context.clear_cookies()
    response = page.goto(page.base_url + "/join/x/y/z/")
    assert response.status == 404
    expect(page.get_by_test_id("error-page").get_by_role("heading")).to_have_text("This page does not exist")
    expect(page.get_by_test_id("error-page").get_by_role("link", name="Back to callops")).to_be_visible()


def test_error_messages_speak_the_products_words(page, personas, sandbox_agent, settings, tmp_path):
    from callops.accounts import services as accounts

    settings.OUTBOUND_ALLOW_PRIVATE = []  # as in production: private addresses are refused
    login(page, personas.admin.user.username)

    # A private webhook URL: the reason once, under the field, with no setting's name.
    page.goto(page.base_url + "/settings/endpoints/new/")
    page.get_by_label("URL").fill("http://127.0.0.1:9/hooks")
    page.get_by_role("button", name="Create endpoint").click()
    reason = ("127.0.0.1 resolved to 127.0.0.1 (loopback 127.0.0.0/8), a private address; callops sends only to "
              "public addresses, so use a public URL")
    expect(page.locator(".field-error")).to_have_text(reason)
    expect(page.locator(".form-error")).to_have_text("The endpoint was not saved: fix the field marked below.")
    assert page.locator("main").inner_text().count("private address") == 1
    assert "OUTBOUND_ALLOW_PRIVATE" not in page.content()

    # A bad returns schema on an agent names the field once.
    page.goto(page.base_url + f"/settings/agents/{sandbox_agent.public_id}/")
    page.locator("#a-returns").fill('{"9lives": "string"}')
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_test_id("returns-error")).to_contain_text("field name '9lives' must start with a letter")
    expect(page.locator(".form-error")).to_have_text("The agent was not saved: fix the fields marked below.")
    assert "returns: returns" not in page.locator("main").inner_text()

    # A binary file offered as the recipient list.
    binary = tmp_path / "customers.csv"
    binary.write_bytes(bytes((i * 37 + 1) % 256 for i in range(4000)))
    page.goto(page.base_url + "/batches/new/")
    page.get_by_label("CSV file").set_input_files(str(binary))
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.locator("#err-file")).to_have_text(
        "this file is not a CSV (it holds binary data, like a spreadsheet or an image): save the list as CSV, "
        "comma-separated values, and upload that")
    assert "\\x01" not in page.content() and "columns are" not in page.content()

    # The audit log: filters by the console's names, and no empty detail printed as "None".
    accounts.audit(personas.org, "webhook_delivery.bulk_recover", actor=personas.admin.user,
                   detail={"endpoint": None, "statuses": ["failed", "skipped"], "count": 3})
    page.goto(page.base_url + "/settings/audit/")
    options = page.locator("#a-action option").all_inner_texts()
    assert options == ["All actions", "API keys", "Members", "Provider accounts", "Agents", "Webhook endpoints",
                       "Webhook deliveries", "Per-call signing secret", "Triage actions"]
    row = page.get_by_test_id("audit").locator("tr", has_text="webhook_delivery.bulk_recover")
    expect(row.locator("td").nth(4)).to_have_text("count: 3 · statuses: failed, skipped")
    assert "None" not in page.get_by_test_id("audit").inner_text()


def test_reload_after_rotating_the_per_call_signing_secret_rotates_nothing(page, personas):
    login(page, personas.owner.user.username)
    page.get_by_role("link", name="Webhook endpoints").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Rotate secret").click()
    secret = page.get_by_test_id("org-secret-value").inner_text().strip()
    assert secret.startswith("whsec_")
    assert page.url == page.base_url + "/settings/endpoints/#signing-secret"
    page.reload()
    expect(page.get_by_role("button", name="Reveal secret")).to_be_visible()
    expect(page.get_by_test_id("org-secret-value")).to_have_count(0)
    assert AuditEntry.objects.filter(action="webhook_secret.rotated").count() == 1
