"""Smaller console fixes in a real Chromium: the bell rings when an endpoint turns Failing, health
never says Healthy beside a low success rate, one timestamp format on the call page, role changes
asked before they save, and an overview that explains its rates and guides a first run."""

import re

import pytest
from playwright.sync_api import expect

from callops.accounts.models import Membership
from callops.calls.models import CallStatus

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_first_failed_delivery_rings_the_bell_while_the_page_says_failing(page, personas, sandbox_agent):
    from callops.calls import services
    from callops.calls.models import EventSource
    from callops.webhooks import delivery
    from callops.webhooks import services as webhooks

    endpoint, _ = webhooks.create_endpoint(personas.org, {"url": "http://127.0.0.1:9/hook"})  # closed port
    services.create_call(org=personas.org, agent=sandbox_agent, to_number="+12025550100", source=EventSource.API)
    assert delivery.deliver_due() >= 1  # the first attempt, refused at connect
    login(page, personas.admin.user.username)
    page.goto(page.base_url + "/webhooks/")
    expect(page.get_by_test_id("endpoint-health")).to_contain_text("Failing")
    expect(page.get_by_test_id("bell").locator(".bell-count")).to_have_text("1")
    page.get_by_test_id("bell").click()
    expect(page.locator("main")).to_contain_text(f"Deliveries to {endpoint.url} are failing")


def test_one_timestamp_format_on_the_call_page(page, personas, make_call_db):
    call = make_call_db(CallStatus.COMPLETED, to="+12025550100")
    login(page, personas.viewer.user.username)
    page.goto(f"{page.base_url}/calls/{call.public_id}/")
    times = page.locator("time[data-localized]")
    expect(times.first).to_be_visible()
    texts = times.all_inner_texts()
    assert len(texts) >= 8  # the facts, the timeline, the payloads
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", t) for t in texts), texts
    # In the reader's zone (the browser runs in America/New_York), with UTC on hover.
    created = page.locator(".facts time").first
    utc = created.get_attribute("title")
    expected = page.evaluate("""iso => { const p = {}; new Intl.DateTimeFormat("en-US", {timeZone: "America/New_York",
        year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
        hourCycle: "h23"}).formatToParts(new Date(iso)).forEach(x => p[x.type] = x.value);
        return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`; }""", created.get_attribute("datetime"))
    assert created.inner_text() == expected and utc.endswith(" UTC") and utc[:19] != expected


def test_a_role_change_is_asked_before_it_saves(page, personas):
    login(page, personas.owner.user.username)
    page.goto(page.base_url + "/settings/members/")
    select = page.get_by_label(f"Role of {personas.viewer.user.username}")
    questions = []

    def answer(dialog, accept):
        questions.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda d: answer(d, False))
    select.select_option("admin")
    expect(select).to_have_value("viewer")  # declined: back as it was, nothing saved
    assert questions == [f"Change {personas.viewer.user.username} from Viewer to Admin? Admins manage API keys, "
                         "providers, webhook endpoints and settings."]
    assert Membership.objects.get(user=personas.viewer.user).role == "viewer"

    page.once("dialog", lambda d: answer(d, True))
    select.select_option("member")
    expect(page.locator(".message-success")).to_have_text(f"{personas.viewer.user.username} is now Member.")
    assert Membership.objects.get(user=personas.viewer.user).role == "member"


def test_overview_explains_its_rates_and_guides_the_first_run(page, personas, sandbox_agent):
    login(page, personas.member.user.username)
    first = page.get_by_test_id("first-run")
    expect(first).to_be_visible()
    expect(first.get_by_test_id("step-agent").locator(".badge")).to_have_text("Done")
    expect(first.get_by_test_id("step-key").locator(".badge")).to_have_count(0)
    expect(page.get_by_test_id("def-answer")).to_have_text(
        "Answered ÷ calls that ended (completed, no answer, busy, failed; not canceled).")
    expect(page.get_by_text("Answer rate", exact=True)).to_have_attribute("title", re.compile("picked up"))
    first.get_by_role("link", name="Place a test call").click()
    page.wait_for_url(page.base_url + "/calls/new/")
