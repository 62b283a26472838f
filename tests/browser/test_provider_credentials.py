"""Provider accounts in a real Chromium: the credentials each provider needs are required, and the
new-account form tests the connection before anything is saved."""

import pytest
from playwright.sync_api import expect

from callops.accounts.models import AuditEntry
from callops.providers.models import ProviderAccount

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_account_needs_its_credentials_and_can_be_tested_before_saving(page, personas):
    login(page, personas.admin.user.username)
    page.goto(page.base_url + "/settings/providers/new/")
    page.get_by_label("Provider", exact=True).select_option("callingbox")
    page.get_by_label("Name", exact=True).fill("CallingBox EU")
    page.get_by_label("Base URL").fill("http://127.0.0.1:9")

    # Nothing typed into the credentials: the test says what is missing instead of trying.
    page.get_by_role("button", name="Test connection").click()
    expect(page.get_by_test_id("test-result")).to_have_text("Not tried yet: enter the API key; CallingBox needs it")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_test_id("credential-error")).to_have_text("enter the API key; CallingBox needs it")
    expect(page.locator(".form-error")).to_have_text("The account was not saved: fix the fields marked below.")
    assert not ProviderAccount.objects.exists()

    # With a key, the connection is tried (nothing listens on port 9) and still nothing is saved;
    # what was typed stays in the form.
    page.get_by_role("textbox", name="API key").fill("sk_live_browser_secret_2")
    page.get_by_role("button", name="Test connection").click()
    expect(page.get_by_test_id("test-result")).to_contain_text("Connection failed: ")
    assert not ProviderAccount.objects.exists()
    expect(page.get_by_role("textbox", name="API key")).to_have_value("sk_live_browser_secret_2")
    assert AuditEntry.objects.filter(action="provider_account.tested", detail__ok=False).count() == 1

    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_test_id("accounts")).to_contain_text("CallingBox EU")
    account = ProviderAccount.objects.get()
    assert account.credentials == {"api_key": "sk_live_browser_secret_2"}


def test_the_sandbox_needs_no_credentials_and_its_test_works(page, personas):
    login(page, personas.admin.user.username)
    page.goto(page.base_url + "/settings/providers/new/")
    page.get_by_label("Provider", exact=True).select_option("sandbox")
    page.get_by_role("button", name="Test connection").click()
    expect(page.get_by_test_id("test-result")).to_contain_text("Connection works: ")
    assert not ProviderAccount.objects.exists()


def test_an_account_saved_without_credentials_must_get_them_on_its_next_save(page, personas):
    account = ProviderAccount.objects.create(organization=personas.org, kind="bolna", name="Bolna")
    login(page, personas.admin.user.username)
    page.goto(page.base_url + f"/settings/providers/{account.public_id}/")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("credential-error")).to_have_text("enter the API key; Bolna needs it")
    page.get_by_role("textbox", name="API key").fill("bn-key-123")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("accounts")).to_contain_text("Bolna")
    account.refresh_from_db()
    assert account.credentials == {"api_key": "bn-key-123"}
