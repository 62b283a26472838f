"""Triage in Chromium: each cause offers only the actions that can help, and the confirm says what
will happen to how many calls (the ticked ones when any are ticked)."""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from callops.calls.models import Call

from .conftest import login, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_invalid_numbers_offer_no_retry_and_out_of_balance_confirms_with_counts(page, personas, failed_call):
    for _ in range(3):
        failed_call("invalid_number", to="+12025550103", ago=timedelta(minutes=3))
    first, _second = [failed_call("balance_low", ago=timedelta(minutes=2)) for _ in range(2)]

    login(page, personas.member.user.username)
    page.goto(page.base_url + "/triage/?window=24h")
    invalid = page.locator("[data-testid=group-call]", has_text="Invalid number")
    balance = page.locator("[data-testid=group-call]", has_text="Provider out of balance")
    expect(invalid).to_contain_text("Retrying would dial the same dead number again")
    expect(invalid.get_by_test_id("no-action")).to_have_text("No bulk action can help here: see the suggested fix.")
    assert invalid.get_by_role("button", name="Retry calls").count() == 0
    expect(balance.get_by_test_id("fix-link")).to_have_text("Open provider accounts")
    shot(page, "triage-actions")

    asked = []

    def answer(dialog, accept):
        asked.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda d: answer(d, False))
    balance.get_by_role("button", name="Retry calls").click()
    assert asked == ["Dial 2 calls of this group again? Each is placed as a new call to the same number; a call "
                     "already retried is skipped. Only after the provider account has credit again: until then "
                     "every retry fails the same way."]
    assert not Call.objects.filter(retry_of__isnull=False).exists()  # dismissed: nothing sent

    balance.locator(f"input[name=item][value='{first.public_id}']").check()
    page.once("dialog", lambda d: answer(d, True))
    balance.get_by_role("button", name="Retry calls").click()
    expect(page.locator(".message-success")).to_have_text("Retried 1 call.")
    assert asked[1].startswith("Dial the ticked calls again (1 ticked)? Each is placed as a new call")
    assert list(Call.objects.filter(retry_of__isnull=False).values_list("retry_of_id", flat=True)) == [first.pk]
