"""Batch lists that used to slip through, in a real Chromium: a row with extra values, a list with a
header and no rows, and a calling window with an hour out of range."""

import pytest
from playwright.sync_api import expect

from callops.batches.models import Batch

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _upload(page, tmp_path, text):
    path = tmp_path / "customers.csv"
    path.write_text(text)
    page.goto(page.base_url + "/batches/new/")
    page.get_by_label("CSV file").set_input_files(str(path))
    page.get_by_role("button", name="Upload and preview").click()


def test_a_row_with_extra_values_is_rejected_with_the_reason(page, personas, sandbox_agent, tmp_path):
    login(page, personas.member.user.username)
    _upload(page, tmp_path, "name,phone,appointment\nAda,+12025550101,Tue 10:00\n"
                            "Olivia,+12025550103,extra,column,here\nBo,+12025550104,Wed 9:00,,\n")
    expect(page.get_by_test_id("preview-counts")).to_have_text("3 rows · 2 valid · 1 rejected (0 duplicates)")
    rejected = page.get_by_test_id("rejected-rows").locator("tbody tr")
    expect(rejected).to_have_count(1)
    expect(rejected.locator("td").nth(0)).to_have_text("2")
    expect(rejected.locator("td").nth(2)).to_have_text(
        "the row has 5 values but the header names 3 columns (extra: “column”, “here”); "
        "fix the row's commas or add a column for them")
    # Trailing empty cells (a spreadsheet's stray commas) are no extra values.
    expect(page.get_by_test_id("valid-rows")).to_contain_text("+12025550104")
    page.get_by_role("button", name="Start batch").click()
    expect(page.get_by_test_id("batch-status")).to_be_visible()
    batch = Batch.objects.get()
    assert batch.recipient_count == 2
    assert sorted(r.context.get("appointment") for r in batch.recipients.all()) == ["Tue 10:00", "Wed 9:00"]


def test_a_list_with_only_a_header_stays_on_step_one(page, personas, sandbox_agent, tmp_path):
    login(page, personas.member.user.username)
    _upload(page, tmp_path, "name,phone,appointment\n")
    expect(page.locator("#err-file")).to_have_text(
        "the list has a header but no rows: add one row for each number to call")
    assert page.url == page.base_url + "/batches/new/"
    expect(page.get_by_role("button", name="Start batch")).to_have_count(0)
    assert not Batch.objects.exists()


def test_an_hour_out_of_range_says_the_hour_is_wrong(page, personas, sandbox_agent, tmp_path):
    login(page, personas.member.user.username)
    _upload(page, tmp_path, "name,phone\nAda,+12025550101\n")
    expect(page.get_by_test_id("preview-counts")).to_have_text("1 rows · 1 valid · 0 rejected (0 duplicates)")
    page.get_by_label("From hour").fill("25")
    page.get_by_label("Until hour").fill("17")
    page.get_by_role("button", name="Start batch").click()
    expect(page.locator("#err-window")).to_have_text(
        "the start hour must be between 0 and 23 (a day's hours run from 0 to 24)")
    assert not Batch.objects.exists()
