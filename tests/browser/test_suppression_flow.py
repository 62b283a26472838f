"""Settings → Suppression list in a real Chromium: add, import with its preview, and remove."""

import pytest
from playwright.sync_api import expect

from callops.rules.models import Suppression

from .conftest import login, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_add_import_and_remove_numbers(page, personas, tmp_path):
    login(page, personas.admin.user.username)
    page.get_by_role("link", name="Suppression list").click()
    expect(page.get_by_role("heading", name="Suppression list", exact=True)).to_be_visible()

    page.get_by_label("Number", exact=True).fill("+1 (415) 555-0123")
    page.get_by_label("Reason").fill("asked by phone")
    page.get_by_role("button", name="Add to the list").click()
    expect(page.locator(".message-success")).to_contain_text("+14155550123 added to the suppression list.")
    expect(page.get_by_test_id("suppressions")).to_contain_text("asked by phone")

    csv = tmp_path / "dnc.csv"
    csv.write_text("number,reason\n+1 415 555 0150,letter\nbogus,x\n+14155550123,dup\n")
    page.get_by_label("File").set_input_files(str(csv))
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_test_id("import-summary")).to_have_text("1 to add, 2 skipped.")
    expect(page.get_by_test_id("import-preview")).to_contain_text("+14155550123 is already on the suppression list")
    shot(page, "suppression-import-preview")
    assert Suppression.objects.count() == 1
    page.get_by_role("button", name="Import 1 number").click()
    expect(page.locator(".message-success")).to_contain_text("1 number added to the suppression list; 2 rows skipped.")
    expect(page.get_by_test_id("suppressions")).to_contain_text("+14155550150")

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator('tr[data-number="+14155550150"]').get_by_role("button", name="Remove").click()
    expect(page.locator(".message-success")).to_contain_text("+14155550150 removed from the suppression list.")
    assert list(Suppression.objects.values_list("number", flat=True)) == ["+14155550123"]
