"""Key dashboard flows in a real Chromium: place a sandbox call and watch it live; filter; export."""

import csv
import io

import pytest
from playwright.sync_api import expect

from callops.calls.models import Call

from .conftest import login, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_login_page(page, personas):
    page.goto(page.base_url + "/login/")
    shot(page, "login")
    page.get_by_label("Username").fill(personas.owner.user.username)
    page.get_by_label("Password").fill("wrong-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("didn't match")


def test_trigger_a_sandbox_call_and_watch_it_complete(page, personas, sandbox_agent, worker):
    login(page, personas.member.user.username)
    shot(page, "overview-empty")

    page.get_by_role("link", name="New call").first.click()
    expect(page.get_by_role("heading", name="Place a call")).to_be_visible()
    # A bad number is refused with the reason next to the field.
    page.get_by_label("Phone number").fill("2025550100")
    page.get_by_role("button", name="Place call").click()
    expect(page.locator("#err-to")).to_contain_text("must start with +")
    assert Call.objects.count() == 0
    shot(page, "new-call-error")

    page.get_by_label("Phone number").fill("+12025550100")
    page.get_by_role("button", name="Add context value").click()
    page.get_by_label("Context key").last.fill("customer_name")
    page.get_by_label("Context value").last.fill("Ada")
    # The sandbox callee answers in varied ways, refusing about one call in twelve (nothing to
    # extract, a failed result); this flow is about a result that arrives, so it asks for a
    # cooperative one.
    page.get_by_role("button", name="Add context value").click()
    page.get_by_label("Context key").last.fill("sandbox_scenario")
    page.get_by_label("Context value").last.fill("cooperative")
    page.get_by_role("button", name="Add field").click()
    page.get_by_label("Field name").last.fill("confirmed")
    page.get_by_label("Field type").last.select_option("boolean")
    shot(page, "new-call-filled")
    page.get_by_role("button", name="Place call").click()

    call = Call.objects.get()
    page.wait_for_url(f"**/calls/{call.public_id}/")
    url_before = page.url
    status = page.get_by_test_id("call-status")
    expect(status).to_contain_text("Completed", timeout=60_000)
    assert page.url == url_before  # no reload: htmx swapped the fragment
    timeline = page.get_by_test_id("timeline")
    # Polls report the latest status, so fast sandbox calls may skip intermediate steps.
    for word in ("Queued", "Completed", "Provider poll"):
        expect(timeline).to_contain_text(word)
    expect(page.get_by_test_id("result")).to_contain_text("confirmed", timeout=60_000)
    expect(page.get_by_test_id("result").locator(".badge")).to_have_text("Completed", timeout=60_000)
    expect(page.locator("#call-live")).not_to_have_attribute("hx-trigger", "every 2s", timeout=60_000)
    # Times are shown in the reader's zone, with UTC kept on hover.
    first_time = page.locator("time[data-localized]").first
    assert "UTC" in first_time.get_attribute("title")
    shot(page, "call-detail-completed")

    page.goto(page.base_url + "/")
    expect(page.locator(".kpi").first).to_contain_text("1")
    shot(page, "overview")


def test_filter_the_list_and_export_csv(page, personas, make_call_db):
    from callops.calls.models import CallStatus

    failed = make_call_db(CallStatus.FAILED, to="+14155550001")
    done = make_call_db(CallStatus.COMPLETED, to="+14155550002")
    live = make_call_db(CallStatus.RINGING, to="+14155550003")
    login(page, personas.viewer.user.username)
    page.get_by_role("link", name="Calls", exact=True).click()
    rows = page.locator("table.table-calls tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator(f"#call-{live.public_id}")).to_have_attribute("hx-trigger", "every 2s")
    shot(page, "calls-list")

    page.locator("label.pick", has_text="Failed").click()
    page.wait_for_url("**status=failed")
    page.locator("label.pick", has_text="Completed").click()
    page.wait_for_url("**status=completed&status=failed")
    expect(rows).to_have_count(2)
    assert "status=completed" in page.url
    expect(page.locator("table.table-calls")).not_to_contain_text(live.to_number)
    shot(page, "calls-list-filtered")

    with page.expect_download() as info:
        page.get_by_test_id("export-csv").click()
    body = open(info.value.path(), encoding="utf-8").read()
    ids = {row["id"] for row in csv.DictReader(io.StringIO(body))}
    assert ids == {str(failed.public_id), str(done.public_id)}

    page.get_by_label("Search").fill("+1 415 555 0001")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(failed.to_number)
    rows.first.get_by_role("link").click()
    expect(page.get_by_test_id("call-status")).to_contain_text("Failed")
    expect(page.locator(".facts").first).to_contain_text("the destination number is not in service")
    # Viewers read everything but get no action buttons.
    expect(page.get_by_role("button", name="Cancel call")).to_have_count(0)
    shot(page, "call-detail-failed")


def test_tablet_width_layout(page, personas, make_call_db):
    from callops.calls.models import CallStatus

    call = make_call_db(CallStatus.COMPLETED, to="+14155550002")
    page.set_viewport_size({"width": 820, "height": 1100})
    login(page, personas.owner.user.username)
    shot(page, "overview-tablet")
    page.goto(page.base_url + f"/calls/{call.public_id}/")
    expect(page.get_by_test_id("call-status")).to_contain_text("Completed")
    # Nothing overflows the viewport sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= 820
    shot(page, "call-detail-tablet")


def test_overview_chart_and_live_panel(page, personas, make_call_db):
    from datetime import timedelta

    from django.utils import timezone

    from callops.calls.models import CallStatus

    statuses = [CallStatus.COMPLETED] * 5 + [CallStatus.FAILED, CallStatus.RINGING]
    for i in range(28):
        call = make_call_db(statuses[i % len(statuses)], to=f"+1415555{2000 + i}")
        if call.status != CallStatus.RINGING:
            Call.objects.filter(pk=call.pk).update(created_at=timezone.now() - timedelta(days=i % 7, hours=1))
    login(page, personas.owner.user.username)
    bars = page.locator("svg.bar-chart rect")
    assert bars.count() >= 7
    live_panel = page.locator("#live-calls")
    expect(live_panel.locator("tbody tr")).to_have_count(4)
    # The live panel is polled: a call that ends drops out without a reload.
    ringing = Call.objects.filter(status=CallStatus.RINGING).order_by("created_at").first()
    from callops.calls import services

    services.apply_status(ringing, CallStatus.NO_ANSWER, source="poll", raw_status="no-answer")
    expect(live_panel.locator("tbody tr")).to_have_count(3, timeout=60_000)
    shot(page, "overview-with-data")
