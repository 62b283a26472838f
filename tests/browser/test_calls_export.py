"""The calls export, downloaded from the console: one agent's calls carry a column per `returns` field."""

import csv
import io

import pytest
from playwright.sync_api import expect

from callops.calls.models import Call, CallStatus

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_exporting_one_agents_calls_gives_its_result_fields_as_columns(page, personas, make_call_db, sandbox_agent):
    sandbox_agent.returns = {"confirmed": {"type": "boolean"}, "new_time": {"type": "string"}}
    sandbox_agent.save()
    call = make_call_db(CallStatus.COMPLETED, to="+12025550100")
    Call.objects.filter(pk=call.pk).update(result={"confirmed": False, "new_time": "Tuesday 3pm"},
                                           result_status="completed", context={"name": "Ada"})

    login(page, personas.viewer.user.username)
    page.goto(page.base_url + "/calls/")
    page.locator("#f-agent").select_option(str(sandbox_agent.public_id))
    # The filter applies on change; the export link follows it.
    page.wait_for_url(f"**agent={sandbox_agent.public_id}**")
    expect(page.get_by_test_id("export-csv")).to_have_attribute("href", f"/calls/export.csv?agent={sandbox_agent.public_id}")
    with page.expect_download() as info:
        page.get_by_test_id("export-csv").click()
    with open(info.value.path(), encoding="utf-8") as f:
        rows = list(csv.DictReader(io.StringIO(f.read())))

    assert len(rows) == 1
    assert {k: rows[0][k] for k in ("id", "result", "context", "result.confirmed", "result.new_time")} == {
        "id": str(call.public_id), "result": '{"confirmed":false,"new_time":"Tuesday 3pm"}',
        "context": '{"name":"Ada"}', "result.confirmed": "false", "result.new_time": "Tuesday 3pm"}
