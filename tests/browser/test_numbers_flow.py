"""Settings → Numbers in a real Chromium: search the sandbox's numbers and buy one after the confirm."""

import pytest
from playwright.sync_api import expect

from callops.providers.models import PhoneNumber

from .conftest import login, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_search_and_buy_a_sandbox_number(page, personas, sandbox_agent):
    login(page, personas.admin.user.username)
    page.get_by_role("link", name="Numbers").click()
    expect(page.get_by_role("heading", name="Numbers", exact=True)).to_be_visible()
    page.get_by_label("Area code").fill("202")
    page.get_by_role("button", name="Search").click()
    row = page.get_by_test_id("available").locator("tr", has_text="+12025550100")
    expect(row).to_contain_text("Washington, DC")

    # Dismissing the confirmation buys nothing.
    page.once("dialog", lambda dialog: dialog.dismiss())
    row.get_by_role("button", name="Buy").click()
    expect(row).to_be_visible()
    assert not PhoneNumber.objects.exists()

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Buy").click()
    expect(page.locator(".message-success")).to_contain_text("+12025550100 bought on Sandbox")
    expect(page.get_by_test_id("numbers")).to_contain_text("+12025550100")
    shot(page, "numbers-bought")
    assert PhoneNumber.objects.get().e164 == "+12025550100"
