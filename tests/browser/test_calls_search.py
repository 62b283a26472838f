"""The calls list in a real Chromium: search by part of a number or the start of an id, filters
that apply as they change and keep the URL shareable, error codes on failed rows, and paging both
ways with where the page sits."""

import pytest
from playwright.sync_api import expect

from callops.calls.models import CallStatus

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def numbers(page):
    return [n.strip() for n in page.locator("#call-results a.row-link").all_inner_texts()]


def test_search_and_filters_apply_as_they_change_and_the_url_can_be_shared(page, personas, make_call_db):
    failed = make_call_db(CallStatus.FAILED, to="+12025550105")
    done = make_call_db(CallStatus.COMPLETED, to="+12025550100")
    login(page, personas.viewer.user.username)
    page.goto(page.base_url + "/calls/")
    expect(page.get_by_role("button", name="Apply")).to_be_hidden()
    # The failed row names its error code.
    row = page.locator(f"#call-{failed.public_id}")
    expect(row.get_by_test_id("error-code")).to_have_text("invalid_number")
    expect(page.locator(f"#call-{done.public_id}").get_by_test_id("error-code")).to_have_count(0)

    page.get_by_label("Search").fill("0105")  # no Enter, no button
    page.wait_for_url(page.base_url + "/calls/?q=0105")
    expect(page.locator("#call-results a.row-link")).to_have_count(1)
    assert numbers(page) == ["+12025550105"]

    # The 8 characters the breadcrumb shows find the call.
    short = str(done.public_id)[:8]
    page.get_by_label("Search").fill(short)
    page.wait_for_url(f"{page.base_url}/calls/?q={short}")
    expect(page.locator("#call-results a.row-link")).to_have_text(["+12025550100"])

    page.get_by_label("Search").fill("")
    page.wait_for_url(page.base_url + "/calls/")
    expect(page.locator("#call-results a.row-link")).to_have_count(2)
    page.locator("label.pick", has_text="Failed").click()
    page.wait_for_url(page.base_url + "/calls/?status=failed")
    expect(page.locator("#call-results a.row-link")).to_have_text(["+12025550105"])

    # The URL opens the same list in a new tab, and Back returns to the unfiltered one.
    shared = page.context.new_page()
    shared.goto(page.url)
    expect(shared.locator("#call-results a.row-link")).to_have_text(["+12025550105"])
    expect(shared.locator("label.pick", has_text="Failed").locator("input")).to_be_checked()
    shared.close()
    page.go_back()
    page.wait_for_url(page.base_url + "/calls/")
    expect(page.locator("#call-results a.row-link")).to_have_count(2)


def test_paging_goes_older_newer_and_to_either_end(page, personas, make_call_db, monkeypatch):
    from callops.dashboard import call_filters

    monkeypatch.setattr(call_filters, "PAGE_SIZE", 2)
    made = [make_call_db(CallStatus.COMPLETED, to=f"+1202555010{i}") for i in range(5)]
    newest_first = [c.to_number for c in reversed(made)]
    login(page, personas.viewer.user.username)
    page.goto(page.base_url + "/calls/")
    pager = page.get_by_test_id("pager")
    expect(pager.get_by_test_id("page-range")).to_have_text("1–2 of 5")
    assert numbers(page) == newest_first[0:2]
    pager.get_by_role("link", name="Older ›").click()
    expect(pager.get_by_test_id("page-range")).to_have_text("3–4 of 5")
    assert numbers(page) == newest_first[2:4]
    pager.get_by_role("link", name="Oldest »").click()
    expect(pager.get_by_test_id("page-range")).to_have_text("4–5 of 5")
    assert numbers(page) == newest_first[3:5]
    expect(pager.get_by_role("link", name="Older ›")).to_have_count(0)
    pager.get_by_role("link", name="‹ Newer").click()
    expect(pager.get_by_test_id("page-range")).to_have_text("2–3 of 5")
    assert numbers(page) == newest_first[1:3]
    pager.get_by_role("link", name="« Newest").click()
    expect(pager.get_by_test_id("page-range")).to_have_text("1–2 of 5")
