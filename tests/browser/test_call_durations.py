"""A call's duration means the same in the API, the CSV export and the console: seconds from the
answer to the end, 0 for a call that ended unanswered, none ("—", empty, null) while it runs."""

import csv
import io
import re

import httpx
import pytest
from playwright.sync_api import expect

from callops.accounts import services as accounts
from callops.calls.models import CallStatus

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_never_answered_and_running_calls_show_the_same_duration_everywhere(page, personas, make_call_db):
    failed = make_call_db(CallStatus.FAILED, to="+12025550101")
    ringing = make_call_db(CallStatus.RINGING, to="+12025550102")
    assert (failed.duration_seconds, ringing.duration_seconds) == (0, None)
    _, secret = accounts.create_api_key(personas.org, "durations")
    api = {c.public_id: httpx.get(f"{page.base_url}/v1/calls/{c.public_id}",
                                  headers={"Authorization": f"Bearer {secret}"}).json()["duration_seconds"]
           for c in (failed, ringing)}
    assert api == {failed.public_id: 0, ringing.public_id: None}

    login(page, personas.viewer.user.username)
    page.goto(page.base_url + "/calls/")
    with page.expect_download() as info:
        page.get_by_test_id("export-csv").click()
    rows = {r["id"]: r["duration_seconds"] for r in csv.DictReader(io.StringIO(open(info.value.path()).read()))}
    assert rows == {str(failed.public_id): "0", str(ringing.public_id): ""}

    for call, shown in ((failed, "0s"), (ringing, "—")):
        page.goto(page.base_url + f"/calls/{call.public_id}/")
        duration = page.locator("dt", has_text=re.compile(r"^Duration$")).locator("xpath=following-sibling::dd[1]")
        expect(duration).to_have_text(shown)
