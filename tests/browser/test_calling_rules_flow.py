"""Settings → Calling rules in a real Chromium: an admin sets a frequency cap and the new-call
form then refuses the call over it, saying which cap."""

import re

import pytest
from playwright.sync_api import expect

from callops.accounts.models import AuditEntry
from callops.calls.models import Call
from callops.rules.models import CallingPolicy

from .conftest import login, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_set_a_cap_and_see_it_enforced_on_the_new_call_form(page, personas, sandbox_agent):
    login(page, personas.admin.user.username)
    page.get_by_role("link", name="Calling rules").click()
    expect(page.get_by_role("heading", name="Calling rules", exact=True)).to_be_visible()

    page.get_by_label("Calls per 24 hours").fill("0")
    page.get_by_role("button", name="Save calling rules").click()
    expect(page.get_by_test_id("policy-errors")).to_contain_text(
        "max_calls_per_day: must be between 1 and 1000, or null for no cap")
    assert not CallingPolicy.objects.exists()

    page.get_by_label("Calls per 24 hours").fill("1")
    page.get_by_role("button", name="Save calling rules").click()
    expect(page.locator(".message-success")).to_contain_text("Calling rules saved.")
    expect(page.get_by_label("Calls per 24 hours")).to_have_value("1")
    shot(page, "calling-rules-saved")
    assert CallingPolicy.objects.get(organization=personas.org).max_calls_per_day == 1
    assert AuditEntry.objects.get(action="calling_policy.changed").detail["changes"] == {
        "max_calls_per_day": {"before": None, "after": 1}}

    # The first call to the number goes; the second is refused on the form, naming the cap.
    _place(page, "+1 415 555 0123")
    page.wait_for_url(re.compile(r"/calls/[0-9a-f-]{36}/$"))
    call = Call.objects.get()
    _place(page, "+14155550123")
    expect(page.locator("#err-to")).to_have_text(
        "+14155550123 has had 1 call in the last 24 hours (cap 1 per 24 h)")
    shot(page, "new-call-over-cap")
    assert list(Call.objects.all()) == [call]


def _place(page, number):
    page.get_by_role("link", name="New call").first.click()
    expect(page.get_by_role("heading", name="Place a call")).to_be_visible()
    page.get_by_label("Phone number").fill(number)
    page.get_by_role("button", name="Place call").click()
