"""The calls list's Webhook column and its filter cover endpoint deliveries, and agree."""

import pytest

from callops.calls.models import CallStatus
from callops.webhooks import delivery
from callops.webhooks import services as webhooks
from tests.lib.sink import Reply

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_endpoint_failures_show_in_the_webhook_column_and_filter(page, personas, make_call_db, sink):
    quiet = make_call_db(CallStatus.FAILED, to="+12025550103")  # before any endpoint: no delivery at all
    sink.respond(default=Reply(status=410, body=b"gone"))
    webhooks.create_endpoint(personas.org, {"url": sink.url})
    failing = make_call_db(CallStatus.COMPLETED, to="+12025550100")
    while delivery.deliver_due():
        pass

    login(page, personas.viewer.user.username)
    page.goto(page.base_url + "/calls/")
    webhook_cell = page.locator(f"#call-{failing.public_id} td").nth(7)
    assert webhook_cell.inner_text().strip() == "Failed"
    assert page.locator(f"#call-{quiet.public_id} td").nth(7).inner_text().strip() == "—"

    page.goto(page.base_url + "/calls/?webhook_status=failed")
    rows = page.locator("tbody tr")
    assert rows.count() == 1
    assert rows.first.get_attribute("id") == f"call-{failing.public_id}"
    assert page.locator("#f-webhook").input_value() == "failed"
