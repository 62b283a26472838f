"""A running batch's recipient rows follow their calls in a real Chromium, without a reload."""

import pytest
from playwright.sync_api import expect

from callops.batches.models import Batch, BatchRecipient, BatchStatus, RecipientState
from callops.calls.models import CallStatus

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_recipient_rows_leave_calling_as_their_calls_end(page, personas, sandbox_agent, make_call_db):
    from callops.batches import recipient_lists
    from callops.batches import services as batch_services
    from callops.batches.batch_settings import clean_settings

    batch = batch_services.create_batch(
        org=personas.org, agent=sandbox_agent, settings=clean_settings({"name": "Renewals"}),
        rows=recipient_lists.rows_from_json(["+14155550123", "+14155550124"]), columns=["phone"], start=False)
    # Running with one number on the line; no worker here, so the rows change only as the test says.
    ringing = make_call_db(CallStatus.RINGING, to="+14155550123")
    Batch.objects.filter(pk=batch.pk).update(status=BatchStatus.RUNNING)
    BatchRecipient.objects.filter(batch=batch, row_number=1).update(state=RecipientState.DIALING,
                                                                    last_call=ringing, attempts=1)
    login(page, personas.viewer.user.username)
    page.goto(f"{page.base_url}/batches/{batch.public_id}/")
    first = page.get_by_test_id("recipients").locator('tr[data-row="1"]')
    expect(first.get_by_test_id("recipient-state")).to_have_text("Calling")
    expect(first).to_contain_text("Ringing")

    done = make_call_db(CallStatus.COMPLETED, to="+14155550123")
    BatchRecipient.objects.filter(batch=batch, row_number=1).update(state=RecipientState.DONE, outcome="completed",
                                                                    last_call=done)
    expect(first.get_by_test_id("recipient-state")).to_have_text("Done")
    expect(first.locator(".badge")).to_have_text(["Completed", "Completed"])
    expect(first.get_by_role("link")).to_have_attribute("href", f"/calls/{done.public_id}/")

    # Once the batch is over the table stops asking.
    BatchRecipient.objects.filter(batch=batch, row_number=2).update(state=RecipientState.DONE, outcome="no_answer")
    Batch.objects.filter(pk=batch.pk).update(status=BatchStatus.COMPLETED)
    second = page.get_by_test_id("recipients").locator('tr[data-row="2"]')
    expect(second.get_by_test_id("recipient-state")).to_have_text("Done")
    expect(page.locator("#batch-recipients")).not_to_have_attribute("hx-trigger", "every 2s")
