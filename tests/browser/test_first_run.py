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
    expect(page.get_by_role("heading", name="API key “billing backend”")).to_be_visible()
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
    expect(page.get_by_role("heading", name="Webhook endpoint")).to_be_visible()
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
    expect(page.get_by_role("heading", name="Webhook endpoint")).to_be_visible()
    expect(page.get_by_test_id("new-secret")).to_have_count(0)
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
