"""Screenshots of the console's main pages at laptop (1440 px) and phone (390 px) width.

Not part of the suite (the name does not start with test_): `scripts/screenshots.py` runs it and
writes docs/screenshots/<page>-<width>.png. Each shot is also a check: no page scrolls sideways.
"""

import os
from pathlib import Path

import pytest

from .conftest import login
from .seed import seed_console

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OUT = Path(os.environ.get("SCREENSHOTS_DIR") or Path(__file__).resolve().parents[2] / "docs" / "screenshots")
WIDTHS = {1440: 900, 390: 844}


def test_take_screenshots_of_the_main_pages(page, personas, sandbox_agent, failed_call, failing_delivery):
    seeded = seed_console(personas, sandbox_agent, failed_call, failing_delivery)
    pages = {"overview": "/", "calls": "/calls/", "call-detail": f"/calls/{seeded['call'].public_id}/",
             "new-call": "/calls/new/", "batch": f"/batches/{seeded['batch'].public_id}/", "triage": "/triage/",
             "webhooks": "/webhooks/", "settings-api-keys": "/settings/keys/",
             "settings-providers": "/settings/providers/", "settings-members": "/settings/members/"}
    OUT.mkdir(parents=True, exist_ok=True)
    login(page, personas.owner.user.username)
    too_wide = {}
    for width, height in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        for name, path in pages.items():
            page.goto(page.base_url + path)
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(OUT / f"{name}-{width}.png"), full_page=True)
            scroll = page.evaluate("() => document.documentElement.scrollWidth")
            if scroll > width:
                too_wide[f"{name}-{width}"] = scroll
    assert too_wide == {}
