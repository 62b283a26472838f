"""At phone width (390 px) in a real Chromium: a menu button opens the navigation, the account
menu (with Sign out) is on screen, tables scroll inside their cards, and no page scrolls
sideways."""

import pytest
from playwright.sync_api import expect

from .conftest import login
from .seed import seed_console

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(page):
    page.set_viewport_size(PHONE)
    return page


def page_width(page):
    return page.evaluate("() => document.documentElement.scrollWidth")


# Names the outermost elements that stick out past the right edge, so a failure says what to fix.
OFFENDERS = """() => {
  const w = document.documentElement.clientWidth, out = [];
  const clipped = el => { for (let a = el.parentElement; a; a = a.parentElement) {
    if (getComputedStyle(a).overflowX !== "visible") { return true; } } return false; };
  for (const el of document.body.querySelectorAll("*")) {
    if (el.getBoundingClientRect().right > w + 0.5 && !clipped(el)) {
      out.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + ":" + Math.round(el.getBoundingClientRect().right));
    }
  }
  return out.slice(-4);
}"""


def test_no_main_page_scrolls_sideways_at_390_px(phone, personas, sandbox_agent, failed_call, failing_delivery):
    seeded = seed_console(personas, sandbox_agent, failed_call, failing_delivery)
    login(phone, personas.owner.user.username)
    paths = ["/", "/calls/", f"/calls/{seeded['call'].public_id}/", "/calls/new/", "/batches/",
             f"/batches/{seeded['batch'].public_id}/", "/batches/new/", "/triage/", "/webhooks/",
             "/notifications/", "/settings/keys/", "/settings/providers/", "/settings/numbers/",
             "/settings/suppressions/", "/settings/endpoints/", "/settings/members/", "/settings/audit/"]
    widths = {}
    for path in paths:
        phone.goto(phone.base_url + path)
        phone.wait_for_load_state("networkidle")
        width = page_width(phone)
        widths[path] = width if width <= PHONE["width"] else (width, phone.evaluate(OFFENDERS))
    assert widths == {path: PHONE["width"] for path in paths}


def test_menu_button_opens_the_navigation_and_sign_out_is_on_screen(phone, personas, sandbox_agent, failed_call,
                                                                     failing_delivery):
    seed_console(personas, sandbox_agent, failed_call, failing_delivery)
    login(phone, personas.owner.user.username)
    menu = phone.get_by_role("button", name="Menu")
    nav = phone.get_by_role("navigation", name="Main")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(nav).to_be_hidden()
    # The top bar fits: the account menu is inside the viewport, and Sign out within reach.
    box = phone.get_by_label("Account menu").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert phone.locator(".topbar").bounding_box()["height"] <= 56
    phone.get_by_label("Account menu").click()
    sign_out = phone.get_by_role("button", name="Sign out")
    expect(sign_out).to_be_visible()
    box = sign_out.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    phone.get_by_label("Account menu").click()

    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(nav).to_be_visible()
    # One link per row: a column, not three wrapped rows of links.
    lefts = {round(b["x"]) for b in (link.bounding_box() for link in nav.get_by_role("link").all())}
    assert len(lefts) == 1
    nav.get_by_role("link", name="Calls").click()
    phone.wait_for_url(phone.base_url + "/calls/")
    expect(phone.get_by_role("navigation", name="Main")).to_be_hidden()

    # The calls table is wider than the phone: it scrolls inside its card, the page does not.
    scroller = phone.get_by_test_id("calls-table").locator("xpath=ancestor::*[contains(@class,'table-scroll')][1]")
    sizes = scroller.evaluate("el => [el.scrollWidth, el.clientWidth]")
    assert sizes[0] > sizes[1]
    assert page_width(phone) == PHONE["width"]


def test_api_keys_subtitle_stays_one_line_of_text_at_390_px(phone, personas):
    login(phone, personas.owner.user.username)
    phone.goto(phone.base_url + "/settings/keys/")
    sub = phone.locator(".page-sub").first
    # Text wraps as a paragraph: its children are not laid out as flex columns side by side.
    assert sub.evaluate("el => getComputedStyle(el).display") == "block"
    assert page_width(phone) == PHONE["width"]


def test_laptop_width_keeps_the_side_navigation_without_a_menu_button(page, personas):
    login(page, personas.owner.user.username)
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
